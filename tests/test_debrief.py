"""Debrief: per principle what went well and what to try next, quoting the trainee."""

from __future__ import annotations

from voicesim.debrief import build_debrief, debrief_to_json, format_debrief
from voicesim.scorecard import CHECK_IDS


def card(passed: set[str], evidence: dict[str, str] | None = None, scores: dict[str, float] | None = None) -> dict:
    evidence = evidence or {}
    return {
        "checks": {
            c: {
                "passed": c in passed,
                "score": (scores or {}).get(c, 1.0 if c in passed else 0.0),
                "evidence": [{"text": evidence[c], "start_s": 0.1, "end_s": 0.5}] if c in evidence else [],
                "tip": f"tip for {c}",
            }
            for c in CHECK_IDS
        },
        "overall": 50,
    }


def test_went_well_quotes_the_trainees_words_and_missing_principles_get_the_tip():
    cards = [
        card({"not_personal", "calm_tone", "understanding"}, {"understanding": "that sounds really frustrating"}),
        card({"not_personal", "calm_tone", "apology"}, {"apology": "i am so sorry"}),
    ]
    notes = {n.check_id: n for n in build_debrief(cards, outcome="resolved", lang="en").notes}
    assert notes["understanding"].went_well == "In reply 1 you said “that sounds really frustrating”."
    assert notes["apology"].went_well == "In reply 2 you said “i am so sorry”."
    assert notes["understanding"].try_next is None
    assert notes["written_agreement"].went_well is None
    assert notes["written_agreement"].try_next == "tip for written_agreement"
    assert notes["not_personal"].went_well == "You kept to it in all 2 replies."


def test_a_slip_in_an_every_reply_principle_is_quoted_in_next_time():
    cards = [
        card({"not_personal", "calm_tone"}),
        card({"calm_tone"}, {"not_personal": "calm down"}),
    ]
    note = {n.check_id: n for n in build_debrief(cards, outcome="hung_up", lang="en").notes}["not_personal"]
    assert note.went_well == "You kept to it in 1 of 2 replies."
    assert note.try_next == "In reply 2 it slipped: “calm down”. tip for not_personal"


def test_the_strongest_reply_is_quoted():
    cards = [
        card({"understanding"}, {"understanding": "i see"}, {"understanding": 0.6}),
        card({"understanding"}, {"understanding": "i completely understand your frustration"}, {"understanding": 0.9}),
    ]
    note = build_debrief(cards, outcome="turn_limit", lang="en").notes[0]
    assert "i completely understand your frustration" in note.went_well


def test_german_wording_and_closing():
    d = build_debrief([card({"apology"}, {"apology": "es tut mir leid"})], outcome="hung_up", lang="de")
    apology = {n.check_id: n for n in d.notes}["apology"]
    assert apology.principle == "Um Entschuldigung bitten"
    assert apology.went_well == "In Antwort 1 haben Sie gesagt: „es tut mir leid“."
    assert "Schatten" in d.closing


def test_no_replies_says_so_and_json_is_plain():
    d = build_debrief([], outcome="interrupted", lang="en")
    assert d.notes == ()
    assert "nothing to debrief" in format_debrief(d)[1]
    assert debrief_to_json(d) == {"notes": [], "closing": d.closing}
