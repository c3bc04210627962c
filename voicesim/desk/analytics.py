"""The desk's arithmetic: which verdict counts, filters, progress, pack grids, calibration.

Pure functions over :class:`~voicesim.desk.library.CallSummary` values: no I/O.
A trainer's verdict takes precedence over the automatic one wherever it exists,
and every figure says which kind it came from.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from voicesim.desk.library import CallSummary
from voicesim.scorecard import CHECK_IDS

RECENT_CALLS = 5
"""Calls per trainee that decide "what to work on next"."""
PAGE_SIZE = 200
"""Rows per page of the sessions table when served (a page over 2,000 rows renders in well under 300 ms)."""


@dataclass(frozen=True)
class Counted:
    """The verdict on one principle that analytics use."""

    met: bool | None
    by_trainer: bool
    """True when a trainer's verdict overrides the automatic one."""
    scorer: str
    """The trainer's name, or the scorer version of the automatic assessment."""


def counted(call: CallSummary, check: str) -> Counted:
    verdict = call.trainer.verdicts.get(check)
    if verdict is not None:
        return Counted(verdict.met, True, verdict.by or "trainer")
    return Counted(call.auto.met.get(check), False, call.auto.scorer)


def counted_all(call: CallSummary) -> dict[str, Counted]:
    return {check: counted(call, check) for check in CHECK_IDS}


def pack_key(call: CallSummary) -> str:
    """The group a call is compared in: its pack, else its scenario (until it belongs to a pack)."""
    return f"pack:{call.pack_id}" if call.pack_id is not None else f"scenario:{call.scenario_id}"


def pack_slot(call: CallSummary) -> int:
    """The call's position in its group: pack index, or 1 for a scenario (one call)."""
    return call.pack_index if call.pack_id is not None and call.pack_index is not None else 1


# -- the sessions table ------------------------------------------------------------------------

COLUMNS: tuple[tuple[str, str, Callable[[CallSummary], object]], ...] = (
    ("started", "Started (UTC)", lambda c: c.started_at[:19].replace("T", " ")),
    ("trainee", "Trainee", lambda c: c.trainee),
    ("scenario", "Scenario", lambda c: c.scenario_id),
    ("pack", "Pack", lambda c: "" if c.pack_id is None else f"{c.pack_id} #{c.pack_index}"),
    ("outcome", "Outcome", lambda c: c.outcome),
    ("turns", "Replies", lambda c: c.turns),
    ("overall", "Overall", lambda c: "" if c.overall is None else c.overall),
    ("met", "Principles met", lambda c: principles_met(c)),
    ("scorer", "Scored by", lambda c: c.auto.scorer if c.started_at else ""),
    ("trainer", "Trainer verdicts", lambda c: len(c.trainer.verdicts)),
    ("folder", "Folder", lambda c: c.id),
)
"""The sessions page's columns (key, heading, value): the CSV export writes exactly these."""
SORT_KEYS = {key for key, _, _ in COLUMNS}


def row(call: CallSummary) -> list[object]:
    """The call's cells in the sessions table (and its CSV)."""
    return [value(call) for _, _, value in COLUMNS]


def principles_met(call: CallSummary) -> str:
    """"4/6": principles met out of those judged, trainer verdicts first."""
    verdicts = [v.met for v in counted_all(call).values() if v.met is not None]
    return f"{sum(verdicts)}/{len(verdicts)}" if verdicts else ""


@dataclass(frozen=True)
class Filters:
    """The sessions page's filters; empty strings mean "any"."""

    trainee: str = ""
    scenario: str = ""
    pack: str = ""
    outcome: str = ""
    date_from: str = ""
    """YYYY-MM-DD, inclusive."""
    date_to: str = ""
    sort: str = "started"
    descending: bool = True
    page: int | None = None
    """1-based page of PAGE_SIZE rows; None: every row."""


def select(calls: Iterable[CallSummary], f: Filters) -> list[CallSummary]:
    """The calls the filters let through, sorted as asked (damaged folders sort last)."""
    rows = [
        c for c in calls
        if (not f.trainee or c.trainee == f.trainee) and (not f.scenario or c.scenario_id == f.scenario)
        and (not f.pack or c.pack_id == f.pack) and (not f.outcome or c.outcome == f.outcome)
        and (not f.date_from or c.date >= f.date_from) and (not f.date_to or (c.date and c.date <= f.date_to))
    ]
    value = next(v for key, _, v in COLUMNS if key == (f.sort if f.sort in SORT_KEYS else "started"))

    def sort_key(c: CallSummary) -> tuple:
        v = value(c)
        return (v if isinstance(v, int) else str(v).lower(), c.id)

    blank = [c for c in rows if value(c) in ("", "?")]
    known = sorted((c for c in rows if value(c) not in ("", "?")), key=sort_key, reverse=f.descending)
    return known + sorted(blank, key=lambda c: c.id)


def page_of(rows: list[CallSummary], page: int | None) -> list[CallSummary]:
    """The rows on `page` (all of them for None)."""
    if page is None:
        return rows
    return rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


# -- a trainee ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Focus:
    """A principle the trainee should work on next."""

    check: str
    met: int
    judged: int
    """Recent calls where the principle was judged."""
    tip: str
    """The latest debrief's advice for it, when a call gave one."""


def chronological(calls: Iterable[CallSummary], trainee: str) -> list[CallSummary]:
    return sorted((c for c in calls if c.trainee == trainee and c.started_at), key=lambda c: (c.started_at, c.id))


def work_on_next(history: list[CallSummary], tips: dict[str, str], count: int = 3) -> list[Focus]:
    """The `count` principles met least often over the last RECENT_CALLS calls (fixed order breaks ties)."""
    recent = history[-RECENT_CALLS:]
    ranked = []
    for order, check in enumerate(CHECK_IDS):
        verdicts = [counted(c, check).met for c in recent]
        judged = [v for v in verdicts if v is not None]
        if judged and sum(judged) < len(judged):
            ranked.append((sum(judged) / len(judged), order, Focus(check, sum(judged), len(judged), tips.get(check, ""))))
    return [focus for _, _, focus in sorted(ranked, key=lambda r: (r[0], r[1]))[:count]]


# -- a pack ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackGrid:
    """Trainees x calls of one pack: each trainee's latest attempt at each call."""

    key: str
    slots: tuple[int, ...]
    """The pack's call positions present in the sessions, in order."""
    trainees: tuple[str, ...]
    cells: dict[tuple[str, int], CallSummary]
    """(trainee, slot) -> the call that counts (their latest attempt)."""
    median_overall: dict[int, float | None]
    """Slot -> the cohort's median overall score."""
    share_met: dict[tuple[int, str], float | None]
    """(slot, check) -> the cohort's share of trainees who met the principle."""
    scenarios: dict[int, str]
    """Slot -> the scenario of that call."""
    versions: tuple[str, ...] = ()
    """The pack versions among the calls shown; more than one means the pack was edited in between."""


def pack_grid(calls: Iterable[CallSummary], key: str) -> PackGrid:
    cells: dict[tuple[str, int], CallSummary] = {}
    for c in sorted((c for c in calls if c.started_at and pack_key(c) == key), key=lambda c: (c.started_at, c.id)):
        cells[(c.trainee, pack_slot(c))] = c  # later attempts replace earlier ones
    slots = tuple(sorted({slot for _, slot in cells}))
    median, share = {}, {}
    for slot in slots:
        row = [c for (_, s), c in cells.items() if s == slot]
        scores = [c.overall for c in row if c.overall is not None]
        median[slot] = statistics.median(scores) if scores else None
        for check in CHECK_IDS:
            judged = [v.met for v in (counted(c, check) for c in row) if v.met is not None]
            share[(slot, check)] = sum(judged) / len(judged) if judged else None
    scenarios = {slot: c.scenario_id for (_, slot), c in cells.items()}
    versions = tuple(sorted({c.pack_version for c in cells.values() if c.pack_version}))
    return PackGrid(key, slots, tuple(sorted({t for t, _ in cells}, key=str.lower)), cells, median, share, scenarios,
                    versions)


def scorers(calls: Iterable[CallSummary]) -> dict[str, int]:
    """Which scorer made the automatic verdicts in use, and for how many calls."""
    counts: dict[str, int] = {}
    for c in calls:
        counts[c.auto.scorer] = counts.get(c.auto.scorer, 0) + 1
    return dict(sorted(counts.items()))


def pack_keys(calls: Iterable[CallSummary]) -> dict[str, int]:
    """Group key -> number of calls in it, packs first."""
    counts: dict[str, int] = {}
    for c in calls:
        if c.started_at:
            counts[pack_key(c)] = counts.get(pack_key(c), 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (not kv[0].startswith("pack:"), kv[0].lower())))


# -- calibration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """How often the automatic verdict on one principle matched the trainer's."""

    check: str
    n: int
    """Calls where both the trainer and the scorer gave a verdict (met or not)."""
    agreed: int
    disagreeing: tuple[CallSummary, ...]

    @property
    def rate(self) -> float | None:
        return self.agreed / self.n if self.n else None


def calibration(calls: Iterable[CallSummary]) -> list[Agreement]:
    calls = list(calls)
    out = []
    for check in CHECK_IDS:
        pairs = [(c, c.trainer.verdicts[check].met, c.auto.met.get(check)) for c in calls if check in c.trainer.verdicts]
        pairs = [(c, t, a) for c, t, a in pairs if t is not None and a is not None]
        out.append(Agreement(check, len(pairs), sum(t == a for _, t, a in pairs),
                             tuple(c for c, t, a in pairs if t != a)))
    return out
