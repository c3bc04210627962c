"""``voicesim doctor``: is everything voicesim needs on this machine?

Prints one line per item, ``OK`` or ``MISSING`` with the exact command that
fixes it, and exits 0 when every essential item is OK, 1 otherwise::

    $ voicesim doctor
    OK       espeak-ng program    /usr/bin/espeak-ng
    OK       espeak-ng library    libespeak-ng.so.1 (as pyttsx3 loads it)
    OK       PortAudio            PortAudio V19.6.0-devel, revision 396fe4b6...
    MISSING  audio input          no input device; fix: plug in a headset, or start PulseAudio: pulseaudio --start
    ...
    OK       model en             /root/.cache/voicesim/models/vosk-model-small-en-us-0.15
    MISSING  model de (optional)  not installed at /root/.cache/voicesim/models/vosk-model-small-de-0.15; fix: voicesim models fetch de
    OK       sessions folder      /root/.local/share/voicesim/sessions (12 sessions)
    OK       scenario folders     VOICESIM_SCENARIOS_DIR not set: the bundled scenarios only
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicesim.models import ModelSpec

APT_FIX = "sudo apt-get install {}"


@dataclass(frozen=True)
class Check:
    """The verdict on one thing voicesim needs."""

    item: str
    ok: bool
    detail: str
    """What was found, or what is wrong and the command that fixes it."""
    essential: bool = True
    """A missing essential item makes the exit status 1."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="check speech engine, audio and models; print fixes")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks = list(all_checks())
    width = max(len(_label(c)) for c in checks)
    for check in checks:
        status = "OK" if check.ok else "MISSING"
        print(f"{status:<8} {_label(check):<{width}}  {check.detail}", flush=True)
    return 0 if all(c.ok or not c.essential for c in checks) else 1


def _label(check: Check) -> str:
    return check.item if check.essential else f"{check.item} (optional)"


def all_checks() -> Iterator[Check]:
    yield check_espeak_program()
    yield check_espeak_library()
    portaudio = check_portaudio()
    yield portaudio
    if portaudio.ok:
        yield from check_devices()
    else:
        fix = APT_FIX.format("libportaudio2")
        yield from (Check(f"audio {kind}", False, f"cannot list devices without PortAudio; fix: {fix}")
                    for kind in ("input", "output"))
    yield check_vosk()
    yield from check_models()
    yield check_sessions_folder()
    yield check_scenario_dirs()


def _guard(item: str, fix: str, probe: Callable[[], str]) -> Check:
    """Run ``probe`` (returns the detail); any failure becomes MISSING with ``fix``."""
    try:
        return Check(item, True, probe())
    except Exception as exc:  # a probe failing in any way means the item is unusable
        return Check(item, False, f"{exc}; fix: {fix}")


def check_espeak_program() -> Check:
    path = shutil.which("espeak-ng")
    if path:
        return Check("espeak-ng program", True, path)
    return Check("espeak-ng program", False, f"not on PATH; fix: {APT_FIX.format('espeak-ng')}")


def check_espeak_library() -> Check:
    def probe() -> str:
        # pyttsx3 finds the library itself with ctypes; importing its driver is the real test.
        from pyttsx3.drivers import _espeak

        return f"{_espeak.dll._name} (as pyttsx3 loads it)"

    return _guard("espeak-ng library", APT_FIX.format("libespeak-ng1"), probe)


def check_portaudio() -> Check:
    def probe() -> str:
        import sounddevice

        return sounddevice.get_portaudio_version()[1]

    return _guard("PortAudio", APT_FIX.format("libportaudio2"), probe)


def check_devices() -> Iterator[Check]:
    import sounddevice

    fix = "plug in a headset, or start PulseAudio: pulseaudio --start"
    try:
        devices = sounddevice.query_devices()
    except sounddevice.PortAudioError as exc:
        yield from (Check(f"audio {kind}", False, f"PortAudio cannot list devices ({exc}); fix: {fix}")
                    for kind in ("input", "output"))
        return
    for kind, channels, default in (("input", "max_input_channels", 0), ("output", "max_output_channels", 1)):
        names = [d["name"] for d in devices if d[channels] > 0]
        index = sounddevice.default.device[default]
        if not names:
            yield Check(f"audio {kind}", False, f"no {kind} device; fix: {fix}")
        elif index is not None and index >= 0:
            yield Check(f"audio {kind}", True, f"default: {devices[index]['name']} ({len(names)} {kind} device(s))")
        else:
            yield Check(f"audio {kind}", True, f"{names[0]} ({len(names)} {kind} device(s), no default)")


def check_vosk() -> Check:
    def probe() -> str:
        from importlib.metadata import version

        import vosk

        return f"vosk {version('vosk')} in {os.path.dirname(vosk.__file__)}"

    return _guard("Vosk", "scripts/setup (reinstalls the Python packages)", probe)


def check_models() -> Iterator[Check]:
    from voicesim.errors import VoicesimError
    from voicesim.models import load_manifest

    try:
        specs = load_manifest()
    except VoicesimError as exc:
        yield Check("model manifest", False, str(exc))
        return
    for spec in specs.values():
        yield check_model(spec)


def check_model(spec: ModelSpec) -> Check:
    from voicesim.errors import VoicesimError
    from voicesim.models import MODEL_PATH_ENV, resolve_model_path, store_dir

    item = f"model {spec.lang}"
    from_env = os.environ.get(MODEL_PATH_ENV)
    try:
        path = resolve_model_path(spec.lang)
    except VoicesimError as exc:
        if from_env:  # the message names the folder, what is missing and the fix
            return Check(item, False, str(exc), spec.required)
        folder = store_dir() / spec.name
        fix = f"voicesim models fetch {spec.lang}" + (" --force" if folder.exists() else "")
        state = "incomplete" if folder.exists() else "not installed"
        return Check(item, False, f"{state} at {folder}; fix: {fix}", spec.required)
    return Check(item, True, f"{path} (from {MODEL_PATH_ENV})" if from_env else str(path), spec.required)


def check_sessions_folder() -> Check:
    """Can calls be saved where they go by default, and can every saved one be read?"""
    from voicesim.errors import VoicesimError
    from voicesim.session import ENV_DIR, SessionStore

    item, fix = "sessions folder", f"set {ENV_DIR} to a writable folder, or fix the folder's permissions"
    skipped: list[str] = []
    try:
        store = SessionStore(create=False, warn=skipped.append)
    except VoicesimError as exc:
        return Check(item, False, f"{exc}; fix: {fix}")
    if store.root.exists() and not store.root.is_dir():
        return Check(item, False, f"{store.root} is a file, not a folder; fix: {fix}")
    writable = _nearest_existing(store.root)
    if not os.access(writable, os.W_OK | os.X_OK):
        return Check(item, False, f"{store.root}: {writable} is not writable; fix: {fix}")
    if not store.root.is_dir():
        return Check(item, True, f"{store.root} (created by the first call)")
    try:
        count = len(store.reconcile())
    except VoicesimError as exc:
        return Check(item, False, f"{exc}; fix: {fix}")
    detail = f"{store.root} ({count} session{'s' if count != 1 else ''})"
    if skipped:  # listed anyway; the trainer should know which folders are damaged
        detail += f"; {len(skipped)} problem(s), first: {skipped[0]}"
    return Check(item, True, detail)


def check_scenario_dirs() -> Check:
    """Every folder in VOICESIM_SCENARIOS_DIR exists and every scenario in it validates."""
    from voicesim.errors import VoicesimError
    from voicesim.scenario import ENV_DIRS, scenario_dirs, scenario_files, validate

    item = "scenario folders"
    if not os.environ.get(ENV_DIRS):
        return Check(item, True, f"{ENV_DIRS} not set: the bundled scenarios only", essential=False)
    try:
        extra = scenario_dirs()[:-1]
    except VoicesimError as exc:
        return Check(item, False, str(exc))
    files = scenario_files(extra)
    problems = [p for f in files for p in validate(f)]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Check(item, False, f"{problems[0]}{more}; fix: voicesim scenarios validate {extra[0]}")
    return Check(item, True, f"{len(files)} scenario file(s) valid in {os.pathsep.join(map(str, extra))}")


def _nearest_existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p
