"""The desk's arithmetic on plain values: which verdict counts, sorting, paging, focus, pack grid, calibration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from voicesim.desk import analytics
from voicesim.desk.library import AutoAssessment, CallSummary
from voicesim.desk.verdicts import TrainerNotes, TrainerVerdict
from voicesim.scorecard import CHECK_IDS


def call(name: str, trainee: str, started: str, met: dict[str, bool | None] | None = None, overall: int | None = 50,
         trainer: dict[str, bool | None] | None = None, pack: tuple[str, int] | None = None) -> CallSummary:
    auto = AutoAssessment("original", {c: (met or {}).get(c, True) for c in CHECK_IDS}, overall)
    notes = TrainerNotes({c: TrainerVerdict(m, "kim", "2026-01-01T00:00:00Z") for c, m in (trainer or {}).items()})
    return CallSummary(id=name, folder=Path(name), trainee=trainee, scenario_id="late-delivery", lang="en",
                       started_at=started, outcome="resolved", turns=4, auto=auto, trainer=notes, anger=(7, 3),
                       pack_id=pack[0] if pack else None, pack_index=pack[1] if pack else None)


def test_a_trainer_verdict_counts_over_the_automatic_one_and_says_so():
    c = call("a", "sam", "2026-01-01", met={"apology": True}, trainer={"apology": False})
    assert analytics.counted(c, "apology") == analytics.Counted(False, True, "kim")
    assert analytics.counted(c, "understanding") == analytics.Counted(True, False, "original")
    assert analytics.principles_met(c) == "5/6"


def test_sorting_keeps_blank_values_last_either_way_and_pages_cut_the_rows():
    calls = [call("a", "sam", "2026-01-01", overall=10), call("b", "sam", "2026-01-02", overall=None),
             call("c", "ann", "2026-01-03", overall=90)]
    for descending in (True, False):
        rows = analytics.select(calls, analytics.Filters(sort="overall", descending=descending))
        assert rows[-1].id == "b"
        assert [r.id for r in rows[:2]] == (["c", "a"] if descending else ["a", "c"])
    assert [r.id for r in analytics.select(calls, analytics.Filters(trainee="sam", date_from="2026-01-02"))] == ["b"]
    many = [call(f"x{i:03d}", "sam", f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}") for i in range(450)]
    assert [len(analytics.page_of(many, p)) for p in (1, 2, 3, None)] == [200, 200, 50, 450]


def test_work_on_next_is_the_three_least_met_principles_of_the_recent_calls():
    history = [call(str(i), "sam", f"2026-01-0{i}", met={"apology": False, "calm_tone": i % 2 == 0,
                                                         "written_agreement": i > 5, "understanding": i != 9})
               for i in range(1, 10)]
    focus = analytics.work_on_next(history, {"apology": "Say sorry once."})
    # understanding and written_agreement tie at 4 of 5: the principles' fixed order decides.
    assert [(f.check, f.met, f.judged) for f in focus] == [("apology", 0, 5), ("calm_tone", 2, 5),
                                                           ("understanding", 4, 5)]
    assert focus[0].tip == "Say sorry once."
    assert analytics.work_on_next([call("1", "sam", "2026-01-01")], {}) == []


def test_pack_grid_takes_each_trainees_latest_attempt_and_the_cohort_median():
    calls = [call("1", "sam", "2026-01-01", overall=20, pack=("p", 1)),
             call("2", "sam", "2026-01-02", overall=80, pack=("p", 1)),
             call("3", "ann", "2026-01-01", overall=40, pack=("p", 1), met={"apology": False}),
             call("4", "ann", "2026-01-01", overall=60, pack=("p", 2)),
             call("5", "bob", "2026-01-01", overall=70)]
    grid = analytics.pack_grid(calls, "pack:p")
    assert (grid.slots, grid.trainees) == ((1, 2), ("ann", "sam"))
    assert grid.cells[("sam", 1)].id == "2"
    assert grid.median_overall == {1: 60, 2: 60}
    assert grid.share_met[(1, "apology")] == 0.5
    assert analytics.pack_keys(calls) == {"pack:p": 4, "scenario:late-delivery": 1}
    assert grid.versions == ()  # these calls name no version
    edited = [replace(c, pack_version=v) for c, v in zip(calls[:4], ("a", "a", "b", "b"), strict=True)]
    assert analytics.pack_grid(edited, "pack:p").versions == ("a", "b")


def test_calibration_counts_only_calls_with_both_verdicts_and_lists_disagreements():
    calls = [call("1", "sam", "2026-01-01", met={"apology": True}, trainer={"apology": True}),
             call("2", "sam", "2026-01-02", met={"apology": True}, trainer={"apology": False}),
             call("3", "sam", "2026-01-03", met={"apology": None}, trainer={"apology": False}),
             call("4", "sam", "2026-01-04", met={"apology": True}, trainer={"apology": None})]
    row = next(r for r in analytics.calibration(calls) if r.check == "apology")
    assert (row.n, row.agreed, [c.id for c in row.disagreeing]) == (2, 1, ["2"])
    assert row.rate == pytest.approx(0.5)
    assert next(r for r in analytics.calibration(calls) if r.check == "calm_tone").rate is None
