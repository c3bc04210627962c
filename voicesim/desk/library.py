"""Reads session folders into an in-memory index of calls, refreshed by file times.

A folder is read again only when its own or its ``assessments/`` folder's
modification time changed (files there are replaced atomically, which changes them), so a page over 2,000 calls costs a directory scan
and a few stats per call, not 2,000 JSON parses. A folder that cannot be read is
still listed, with what is wrong in :attr:`CallSummary.problem`.

>>> import tempfile
>>> Library(Path(tempfile.mkdtemp())).calls()
[]
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicesim.desk.verdicts import TrainerNotes, load_trainer_notes
from voicesim.rescore import ASSESSMENTS, newest_rescored
from voicesim.scorecard import CHECK_IDS
from voicesim.session import RECORDING, SESSION_JSON

SETTLE_S = 2.0
"""Seconds after a change during which a folder is not trusted to the cache."""


@dataclass(frozen=True)
class AutoAssessment:
    """The automatic verdicts that count for a call: the newest rescore, else the call's own."""

    scorer: str
    """Which scorer made it: a rescore's scorer_version, or "original" (the call's own scoring)."""
    met: dict[str, bool | None]
    """Check id -> met / not met / not judged."""
    overall: int | None
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The whole assessment file (rescores carry re-transcribed turns); empty for the original."""


@dataclass(frozen=True)
class CallSummary:
    """One session folder, as the desk lists it."""

    id: str
    """The folder's name: unique within the sessions folder, used in links."""
    folder: Path
    trainee: str
    scenario_id: str
    lang: str
    started_at: str
    """UTC ISO time; "" when session.json is unreadable."""
    outcome: str
    turns: int
    auto: AutoAssessment
    trainer: TrainerNotes
    anger: tuple[float, ...]
    """The customer's anger at the start of the call, then after each reply."""
    pack_id: str | None = None
    pack_index: int | None = None
    """Position of the call in its pack (part A's "pack" object)."""
    pack_version: str | None = None
    """The pack's content hash: calls of one pack id with another version were made on edited calls."""
    has_recording: bool = False
    problem: str | None = None
    """What is wrong with the folder (missing or damaged session.json or recording), for the page to say."""

    @property
    def overall(self) -> int | None:
        return self.auto.overall

    @property
    def date(self) -> str:
        return self.started_at[:10]


NO_ASSESSMENT = AutoAssessment(scorer="none", met=dict.fromkeys(CHECK_IDS), overall=None)


class Library:
    """The calls under one sessions folder; thread-safe, refreshed on every :meth:`calls`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[str, tuple[tuple[int, ...], CallSummary]] = {}
        self._lock = threading.Lock()

    def calls(self) -> list[CallSummary]:
        """Every call, newest first."""
        with self._lock:
            seen: dict[str, tuple[tuple[int, ...], CallSummary]] = {}
            # A change within the file system's clock tick of the last read can leave the time unchanged,
            # so folders changed in the last SETTLE_S seconds are read again every time.
            settled = (time.time() - SETTLE_S) * 1e9
            for entry in _session_folders(self.root):
                stamp = _stamp(Path(entry.path))
                cached = self._cache.get(entry.name)
                fresh = cached and cached[0] == stamp and max(stamp) < settled
                seen[entry.name] = (stamp, cached[1] if fresh else read_summary(Path(entry.path)))
            self._cache = seen
            return sorted((s for _, s in seen.values()), key=lambda c: (c.started_at, c.id), reverse=True)

    def call(self, call_id: str) -> CallSummary | None:
        folder = self.root / call_id
        if "/" in call_id or call_id.startswith(".") or not folder.is_dir():
            return None
        return read_summary(folder)


class VisibleCalls:
    """The calls of a :class:`Library` one reader may see (the hub's trainees: their own and shared ones)."""

    def __init__(self, library: Library, ids: frozenset[str]) -> None:
        self.library, self.ids, self.root = library, ids, library.root

    def calls(self) -> list[CallSummary]:
        return [c for c in self.library.calls() if c.id in self.ids]

    def call(self, call_id: str) -> CallSummary | None:
        return self.library.call(call_id) if call_id in self.ids else None


def _session_folders(root: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(root) as it:
            return [e for e in it if e.is_dir() and not e.name.startswith(".")]
    except FileNotFoundError:
        return []


def _stamp(folder: Path) -> tuple[int, ...]:
    """Modification times that change when anything the summary reads changes (0 when absent).

    session.json and trainer.json are replaced atomically (a new directory entry), which
    changes the folder's own time; rescores land in assessments/, which changes that
    folder's time. Two stats per call instead of one per file.
    """
    out = []
    for path in (folder, folder / ASSESSMENTS):
        try:
            out.append(os.stat(path).st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


def read_session(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """session.json as a dict, or None and what is wrong with it."""
    path = folder / SESSION_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "session.json is missing: this folder holds no readable call record"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"session.json is damaged ({exc.__class__.__name__}: {exc}); the recording may still play"
    if not isinstance(data, dict) or not isinstance(data.get("turns", []), list):
        return None, "session.json is damaged (not a call record object)"
    return data, None


def newest_assessment(folder: Path, session: dict[str, Any]) -> AutoAssessment:
    """The automatic verdicts analytics use: latest created_at under assessments/, else session.json's."""
    best = newest_rescored(folder)  # a damaged rescore never hides the call's own verdicts
    if best is not None:
        overall = best.get("overall", best["assessment"].get("overall"))
        return AutoAssessment(str(best.get("scorer_version", "unknown")), _met(best["assessment"]), _int(overall), best)
    assessment = session.get("assessment")
    if not isinstance(assessment, dict):
        return AutoAssessment("original", dict.fromkeys(CHECK_IDS), _int(session.get("overall")))
    return AutoAssessment("original", _met(assessment), _int(session.get("overall", assessment.get("overall"))))


def _met(assessment: dict[str, Any]) -> dict[str, bool | None]:
    principles = assessment.get("principles") or {}
    out: dict[str, bool | None] = {}
    for check in CHECK_IDS:
        met = (principles.get(check) or {}).get("met")
        out[check] = met if isinstance(met, bool) else None
    return out


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_summary(folder: Path) -> CallSummary:
    """One folder as a :class:`CallSummary`; never raises for a damaged folder."""
    try:
        return _summary(folder)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # Valid JSON of the wrong shape (a hand edit, another tool's file): listed, marked, never a crash.
        return CallSummary(id=folder.name, folder=folder, trainee="?", scenario_id="?", lang="?", started_at="",
                           outcome="damaged", turns=0, auto=NO_ASSESSMENT, trainer=TrainerNotes(), anger=(),
                           problem=f"session.json has unexpected content ({exc.__class__.__name__}: {exc})")


def _summary(folder: Path) -> CallSummary:
    has_recording = (folder / RECORDING).is_file() and (folder / RECORDING).stat().st_size > 44
    trainer = load_trainer_notes(folder)
    session, problem = read_session(folder)
    if session is None:
        return CallSummary(id=folder.name, folder=folder, trainee="?", scenario_id="?", lang="?", started_at="",
                           outcome="damaged", turns=0, auto=NO_ASSESSMENT, trainer=trainer, anger=(),
                           has_recording=has_recording, problem=problem)
    if not has_recording:
        problem = "the recording (recording.wav) is missing or empty: the transcript and scores are still shown"
    scenario = session.get("scenario") if isinstance(session.get("scenario"), dict) else {}
    pack = session.get("pack") if isinstance(session.get("pack"), dict) else {}
    turns = [t for t in session.get("turns", []) if isinstance(t, dict)]
    anger = _anger(turns)
    return CallSummary(
        id=folder.name, folder=folder, trainee=str(session.get("trainee", "?")),
        scenario_id=str(scenario.get("id", "?")), lang=str(scenario.get("lang", "?")),
        started_at=str(session.get("started_at") or ""), outcome=str(session.get("outcome", "?")),
        turns=len(turns), auto=newest_assessment(folder, session), trainer=trainer, anger=anger,
        pack_id=str(pack["id"]) if pack.get("id") is not None else None,
        pack_index=_int(pack.get("index")), pack_version=str(pack["version"]) if pack.get("version") else None,
        has_recording=has_recording, problem=problem or trainer.problem,
    )


def _anger(turns: list[dict[str, Any]]) -> tuple[float, ...]:
    """The customer's anger at the start (the first answer minus its change), then after each reply."""
    answers = [t.get("customer_answer") for t in turns]
    levels = [float(a["anger"]) for a in answers if isinstance(a, dict) and isinstance(a.get("anger"), int | float)]
    first = answers[0] if answers else None
    if levels and isinstance(first, dict) and isinstance(first.get("anger_delta"), int | float):
        return (levels[0] - float(first["anger_delta"]), *levels)
    return tuple(levels)
