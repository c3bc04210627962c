"""Benchmark packs: a trainer's fixed list of calls that every trainee takes, and how far each trainee got.

A pack is a small TOML file (format: scenarios/packs/README.md)::

    name = "First week"
    [[calls]]
    index = 1
    scenario = "late-delivery"
    seed = 1                     # same seed, same customer, line for line
    start_anger = "angry"        # optional: a level of the rule table or a number
    patience = 5                 # optional: trainee turns before the customer gives up

Shipped packs are in scenarios/packs/; a trainer's own in the folders of
``$VOICESIM_PACKS_DIR`` (searched first). A session of a pack call records
``{"id", "version", "index"}``; the version is the sha256 of the pack file, so an
edited pack is another benchmark.

>>> pack = find_pack("en-first-week")
>>> pack.id, [c.scenario for c in pack.calls][:1], len(pack.version)
('en-first-week', ['late-delivery'], 64)
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicesim.errors import VoicesimError
from voicesim.resources import bundled_folder
from voicesim.session import PackRef, SessionSummary

ENV_DIRS = "VOICESIM_PACKS_DIR"
BUNDLED = bundled_folder("scenarios") / "packs"
"""The shipped packs."""
FINAL_OUTCOMES = frozenset({"resolved", "hung_up", "turn_limit"})
"""A call ended this way is done; an interrupted, lost or unfinished call is taken again."""
MAX_SEED = 2**63 - 1
CALL_KEYS = frozenset({"index", "scenario", "seed", "start_anger", "patience"})
TOP_KEYS = frozenset({"id", "name", "description", "calls"})
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class PackCall:
    """One call of a pack."""

    index: int
    """Its number in the pack, unique; calls are taken in this order."""
    scenario: str
    """Scenario id."""
    seed: int
    """Picks the customer's line variants: every trainee meets the same customer."""
    start_anger: int | str | None = None
    """Anger at the start (a number or a level name); None: the scenario's."""
    patience: int | None = None
    """Trainee turns before the customer gives up; None: the scenario's."""


@dataclass(frozen=True)
class Pack:
    """A benchmark pack as loaded from its file."""

    id: str
    name: str
    version: str
    """sha256 of the file's bytes."""
    calls: tuple[PackCall, ...]
    """Sorted by index."""
    path: Path

    def ref(self, call: PackCall) -> PackRef:
        return PackRef(self.id, self.version, call.index)


@dataclass(frozen=True)
class CallState:
    """How far one trainee got with one call of a pack."""

    index: int
    done: bool
    """A session of this call ended resolved, hung up or at the turn limit."""
    outcome: str | None
    """The outcome of the session shown (the first finished one, else the newest attempt); None: not taken."""
    session_dir: str | None
    overall: int | None = None
    """The session's own overall (session.json); a rescored one is looked up by the caller."""


def pack_dirs() -> list[Path]:
    """$VOICESIM_PACKS_DIR folders first, then the shipped packs."""
    extra = [Path(p).expanduser() for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p]
    for folder in extra:
        if not folder.is_dir():
            raise VoicesimError(f"{ENV_DIRS} names {folder}, which is not a folder; create it, fix the path or unset {ENV_DIRS}")
    return [*extra, BUNDLED]


def pack_files() -> list[Path]:
    """Every *.toml in the pack folders, each folder's sorted."""
    return [p for folder in pack_dirs() if folder.is_dir() for p in sorted(folder.glob("*.toml"))]


def find_pack(name: str) -> Pack:
    """A pack by id (searched in :func:`pack_dirs`) or by the path of its file."""
    if name.endswith(".toml") or os.sep in name:
        return load_pack(name)
    for path in pack_files():
        if path.stem == name:
            return load_pack(path)
    known = ", ".join(sorted({p.stem for p in pack_files()})) or "none"
    raise VoicesimError(f"unknown pack '{name}'; known packs: {known} (voicesim pack list), or give the path of a pack file")


def load_pack(path: str | os.PathLike) -> Pack:
    """Read and check a pack file; the first problem is a VoicesimError naming the file and the fix."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise VoicesimError(f"cannot read pack file {path} ({exc.strerror or exc}); check the path") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VoicesimError(f"pack file {path} is not valid TOML ({exc}); fix the syntax") from None
    try:
        return _build(data, path, hashlib.sha256(raw).hexdigest())
    except _Problem as exc:
        raise VoicesimError(f"pack file {path}: {exc}") from None


class _Problem(Exception):
    """What is wrong with a pack and how to fix it (the file name is added by load_pack)."""


def _build(data: dict[str, Any], path: Path, version: str) -> Pack:
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise _Problem(f"unknown key '{unknown[0]}'; a pack has {', '.join(sorted(TOP_KEYS))}")
    pack_id = data.get("id", path.stem)
    if not isinstance(pack_id, str) or not _ID.match(pack_id):
        raise _Problem(f"id {pack_id!r} is not a name; use letters, digits, '-' and '_' (default: the file name)")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Problem('no name; add a line like name = "First week"')
    calls = data.get("calls")
    if not isinstance(calls, list) or not calls or not all(isinstance(c, dict) for c in calls):
        raise _Problem("no calls; add one [[calls]] table per call with index, scenario and seed")
    built = [_call(c, n) for n, c in enumerate(calls, 1)]
    seen: dict[int, int] = {}
    for n, call in enumerate(built, 1):
        if call.index in seen:
            raise _Problem(f"calls {seen[call.index]} and {n} both have index {call.index}; give every call its own index")
        seen[call.index] = n
    return Pack(pack_id, name.strip(), version, tuple(sorted(built, key=lambda c: c.index)), path)


def _call(table: dict[str, Any], n: int) -> PackCall:
    from voicesim.customer import with_difficulty
    from voicesim.scenario import find_scenario

    where = f"call {n}"
    unknown = sorted(set(table) - CALL_KEYS)
    if unknown:
        raise _Problem(f"{where} has unknown key '{unknown[0]}'; a call has {', '.join(sorted(CALL_KEYS))}")
    index, seed, scenario_id = table.get("index"), table.get("seed"), table.get("scenario")
    if not _is_int(index) or index < 1:
        raise _Problem(f"{where}: index {index!r} is not a whole number from 1; number the calls 1, 2, 3, …")
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise _Problem(f"{where}: seed {seed!r} is not a whole number from 0 to {MAX_SEED}; write e.g. seed = 1")
    if not isinstance(scenario_id, str):
        raise _Problem(f"{where}: no scenario; add scenario = \"<id>\" (voicesim scenarios list)")
    anger, patience = table.get("start_anger"), table.get("patience")
    if anger is not None and not (_is_int(anger) or isinstance(anger, str)):
        raise _Problem(f"{where}: start_anger {anger!r} must be a number or a level name such as \"angry\"")
    if patience is not None and not _is_int(patience):
        raise _Problem(f"{where}: patience {patience!r} must be a whole number of turns")
    try:
        with_difficulty(find_scenario(scenario_id), anger, patience)
    except VoicesimError as exc:
        raise _Problem(f"{where}: {exc}") from None
    return PackCall(index, scenario_id, seed, anger, patience)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- progress: pure, from the session index rows -------------------------------------------


def progress(pack: Pack, sessions: Iterable[SessionSummary]) -> dict[str, list[CallState]]:
    """Trainee -> the state of each call of the pack (in pack order), from sessions of this pack version."""
    mine = sorted((s for s in sessions if s.pack_id == pack.id and s.pack_version == pack.version),
                  key=lambda s: (s.started_at, s.session_dir))
    trainees = sorted({s.trainee for s in mine})
    return {t: [_state(call.index, [s for s in mine if s.trainee == t and s.pack_index == call.index])
                for call in pack.calls] for t in trainees}


def _state(index: int, attempts: Sequence[SessionSummary]) -> CallState:
    finished = [s for s in attempts if s.outcome in FINAL_OUTCOMES]
    # The first finished attempt is the benchmark: a pack run never takes a done call again.
    shown = finished[0] if finished else (attempts[-1] if attempts else None)
    if shown is None:
        return CallState(index, False, None, None)
    return CallState(index, bool(finished), shown.outcome, shown.session_dir, shown.overall)


def calls_to_take(pack: Pack, trainee: str, sessions: Iterable[SessionSummary]) -> list[PackCall]:
    """The calls the trainee has not finished, from the first such call on, in order."""
    states = progress(pack, sessions).get(trainee)
    if states is None:
        return list(pack.calls)
    return [call for call, state in zip(pack.calls, states, strict=True) if not state.done]


def older_versions(pack: Pack, sessions: Iterable[SessionSummary]) -> int:
    """Sessions of this pack id made with another version of the file (not counted in the status)."""
    return sum(1 for s in sessions if s.pack_id == pack.id and s.pack_version != pack.version)


def replies_for(call: PackCall, replies_dir: Path) -> list[Path]:
    """A scripted pack call's replies: DIR/<index>/*.wav, else DIR/<scenario id>/*.wav, one per turn, sorted."""
    for folder in (replies_dir / str(call.index), replies_dir / call.scenario):
        files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
        if files:
            return files
    raise VoicesimError(
        f"no replies for call {call.index} ({call.scenario}) in {replies_dir}: put one WAV per turn in "
        f"{replies_dir / str(call.index)}/ or {replies_dir / call.scenario}/"
    )
