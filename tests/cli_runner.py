"""Runs the ``voicesim`` command inside the test process, as a user would run it in a shell.

A subprocess per CLI test starts Python, imports numpy/scipy/vosk, loads the Vosk model
and renders every customer line in a fresh espeak-ng; in-process, those are paid once per
test session. What a fresh process would give each run is reset here instead: the
environment (changes are undone afterwards), the working folder, caches keyed on paths
the environment chooses, the pool of used Vosk recognizers, the spare espeak-ng worker (it inherits the environment) and
PortAudio's device list (it reads PULSE_SERVER when it starts). Kept on purpose, as
shared work: the loaded Vosk model (keyed on its folder) and the rendered customer lines
(keyed on text and voice; forgotten when VOICESIM_ESPEAK_LIBRARY changes).

Output is captured at the file-descriptor level, so C libraries writing straight to
fd 1/2 (Vosk, ALSA, PortAudio) land in stdout/stderr exactly as they would for a user,
and an exception escaping ``main()`` shows as a traceback with exit code 1, as
``python -m voicesim`` would show it.

>>> proc = run_cli("score", "--text", "sorry about that", "--lang", "en", "--json")  # doctest: +SKIP
>>> proc.returncode, json.loads(proc.stdout)["overall"]                                   # doctest: +SKIP

Tests take the ``cli`` fixture (conftest.py loads this module as a plugin) or call ``run_cli``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from voicesim.cli import main

REPO = Path(__file__).resolve().parents[1]

TTS_ENV = ("VOICESIM_ESPEAK_LIBRARY",)
"""Variables that change how a customer line sounds: set or unset, rendered lines are forgotten."""


def run_cli(*args: str | os.PathLike, env: Mapping[str, str | None] | None = None, clean_env: bool = False,
            cwd: str | os.PathLike = REPO, input: str = "") -> subprocess.CompletedProcess:
    """``voicesim ARGS`` in this process; stdout and stderr as text, like ``subprocess.run(..., text=True)``.

    `env` changes the environment for this run only (None unsets a variable); with
    `clean_env` the environment is exactly `env`. `input` is what the command reads on stdin.
    """
    argv = [os.fspath(a) for a in args]
    with pytest.MonkeyPatch.context() as mp:
        changed = _apply_env(mp, env or {}, clean_env)
        mp.chdir(cwd)
        _fresh_process_state(changed)
        try:
            with _captured(input) as output:
                code = _call_main(argv)
        finally:
            mp.undo()
            _fresh_process_state(changed)
    return subprocess.CompletedProcess(["voicesim", *argv], code, output["stdout"], output["stderr"])


@pytest.fixture
def cli():
    """:func:`run_cli`: the ``voicesim`` command, in-process."""
    return run_cli


def _apply_env(mp: pytest.MonkeyPatch, env: Mapping[str, str | None], clean: bool) -> set[str]:
    """Set the run's environment; return the names whose value differs from before."""
    before = dict(os.environ)
    if clean:
        for key in before:
            if key not in env:
                mp.delenv(key)
    for key, value in env.items():
        if value is None:
            mp.delenv(key, raising=False)
        else:
            mp.setenv(key, value)
    return {k for k in before.keys() | os.environ.keys() if before.get(k) != os.environ.get(k)}


def _fresh_process_state(changed_env: set[str]) -> None:
    """Give a run what a new process would start with, wherever earlier runs or tests could change it."""
    # Only modules already imported can hold state; importing one here would cost its import time for nothing.
    tts, asr = sys.modules.get("voicesim.tts"), sys.modules.get("voicesim.asr")
    if tts and changed_env:
        tts._WORKERS.close()  # its spare worker was started with the old environment
    if tts and changed_env & set(TTS_ENV):
        tts.clear_cache()
    if asr:
        # A new process starts with no used Vosk recognizers; so does every run, whatever ran before.
        asr._POOL._idle.clear()
    _clear_env_keyed_caches()
    if changed_env and "sounddevice" in sys.modules:
        # Unchanged, the list is already this environment's: the virtual headset refreshes it as it starts and stops.
        _refresh_portaudio()


def _clear_env_keyed_caches() -> None:
    """Caches whose key leaves out the environment variable that chose the file behind it."""
    from voicesim import models, scenario

    for module in (models, scenario):
        for value in vars(module).values():
            # Only the module's own functions: an imported, path-keyed cache (the loaded Vosk model) may stay.
            if getattr(value, "__module__", None) == module.__name__ and hasattr(value, "cache_clear"):
                value.cache_clear()


def _refresh_portaudio() -> None:
    from voicesim.devices import NoAudioDeviceError, refresh_devices

    with contextlib.suppress(NoAudioDeviceError):  # no sound server now: the run itself will say so
        refresh_devices()


@contextlib.contextmanager
def _captured(stdin_text: str) -> Iterator[dict[str, str]]:
    """Point fd 1/2 and sys.stdout/stderr/stdin at temporary files; on leaving, the dict holds their text."""
    streams = sys.stdin, sys.stdout, sys.stderr
    for stream in streams[1:]:
        stream.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdin = io.StringIO(stdin_text)
        sys.stdout, sys.stderr = _text_writer(1), _text_writer(2)
        output: dict[str, str] = {}
        try:
            yield output
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])
            sys.stdin, sys.stdout, sys.stderr = streams
            output.update(stdout=_text(out), stderr=_text(err))


def _text_writer(fd: int) -> io.TextIOWrapper:
    # Unbuffered so Python's and C's writes to the same fd stay in the order they happened.
    return io.TextIOWrapper(open(fd, "wb", buffering=0, closefd=False), encoding="utf-8", write_through=True)


def _call_main(argv: list[str]) -> int:
    """Exit code of ``voicesim ARGV``, the way the interpreter would turn main()'s outcome into one."""
    try:
        return main(argv)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 - a bug in a command: show it as the user would see it
        traceback.print_exc()
        return 1


def _text(file) -> str:
    # Universal newlines, as subprocess.run(text=True) decodes a child's output.
    file.seek(0)
    return io.TextIOWrapper(io.BytesIO(file.read()), encoding="utf-8").read()
