"""Debrief and end screen: the call's verdicts per principle, quoting the trainee, in the call's language."""

from __future__ import annotations

import io

import pytest

from voicesim.assessment import ScenarioFacts, TurnContext, assess, load_rules
from voicesim.debrief import build_debrief, debrief_to_json, format_debrief, wording
from voicesim.language import load_language
from voicesim.liveview import LiveView
from voicesim.scorecard import CHECK_IDS
from voicesim.scoring import score_reply
from voicesim.transcript import Transcript


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def debrief(replies: list[str], rules, *, lang: str = "en", at_fault: bool = True, outcome: str = "resolved",
            agreed_from: int | None = None):
    """Score typed replies, assess the call, debrief it; the customer agrees from reply `agreed_from` on."""
    pack = load_language(lang)
    cards = [score_reply(Transcript.from_text(text), pack) for text in replies]
    turns = [TurnContext(agreed=agreed_from is not None and i >= agreed_from) for i in range(1, len(cards) + 1)]
    call = assess(cards, turns, ScenarioFacts(lang, at_fault), rules, wording(lang)["verdicts"])
    return build_debrief(cards, call, outcome=outcome)


def notes(d) -> dict:
    return {n.check_id: n for n in d.notes}


POLITE = [
    "That sounds really frustrating, let's sort this out together.",
    "When did you place the order?",
    "I can refund the express fee. Would that work for you?",
]


def test_an_apology_owed_and_given_is_praised_in_those_words(rules):
    d = debrief(["I'm so sorry your parcel didn't arrive, that must be really frustrating."], rules, outcome="turn_limit")
    apology = notes(d)["apology"]
    assert apology.met is True and apology.reply == 1
    assert apology.went_well == "You apologized in reply 1 — good: the company was at fault. (“I'm so sorry”)"
    assert apology.try_next is None


def test_what_was_missed_says_what_to_do_next_time(rules):
    d = notes(debrief(POLITE, rules, agreed_from=3))
    assert d["written_agreement"].met is False and d["written_agreement"].went_well is None
    assert d["written_agreement"].try_next.startswith(
        "You never confirmed the agreement in writing: say what you will send, and when")
    assert d["apology"].try_next.startswith("You never apologized, though the company was at fault")
    assert d["understanding"].went_well == "You showed understanding in reply 1: “That sounds really frustrating”."
    assert d["targeted_question"].went_well.startswith("You asked a targeted question in reply 2")


def test_a_put_down_is_quoted_and_breaks_the_principle_for_the_whole_call(rules):
    d = debrief([POLITE[0], "Calm down, it's not that big a deal.", *POLITE[1:]], rules, outcome="hung_up")
    note = notes(d)["not_personal"]
    assert note.met is False and note.reply == 2 and (note.passed, note.replies) == (3, 4)
    assert "“Calm down”" in note.try_next
    tip = score_reply(Transcript.from_text("Calm down, it's not that big a deal."), load_language("en")).checks["not_personal"].tip
    assert tip and note.try_next.endswith(tip)  # what happened, then how to do it
    assert d.overall < 40


def test_not_owed_apology_is_not_expected_not_a_fault(rules):
    d = notes(debrief(POLITE, rules, at_fault=False, agreed_from=3))
    assert d["apology"].met is None and d["apology"].try_next is None
    assert d["apology"].not_expected == "No apology was owed here: the company was not at fault."


def test_german_wording_quotes_the_trainee_and_closes_in_german(rules):
    d = debrief(["Es tut mir sehr leid, das war unser Fehler.", "Beruhigen Sie sich erstmal."], rules, lang="de",
                outcome="hung_up")
    n = notes(d)
    assert n["apology"].principle == "Um Entschuldigung bitten"
    assert n["apology"].went_well.startswith("Sie haben sich in Antwort 1 entschuldigt – gut so")
    assert n["not_personal"].try_next.startswith("In Antwort 2 sind Sie persönlich geworden: „Beruhigen Sie sich“")
    assert "Schatten" in d.closing


def test_the_end_screen_shows_each_verdict_and_the_reply_that_decided_it(rules):
    d = debrief(POLITE, rules, agreed_from=3)
    view = LiveView(io.StringIO(), tty=False)
    view.scorecard(d)
    lines = view.stream.getvalue().splitlines()
    assert lines[1] == f"Call ended: resolved. Overall {d.overall}/100 over 3 replies."
    screen = {line.split()[1]: line for line in lines[2:]}
    assert screen["Show"].startswith("  ✓") and screen["Show"].endswith("reply 1")
    assert screen["Apologize"].startswith("  ✗") and screen["Apologize"].endswith("never")
    assert screen["Don't"].endswith("every reply")


def test_the_german_end_screen_is_german(rules):
    replies = ["Das ist wirklich ärgerlich, das lösen wir gemeinsam."]
    d = debrief(replies, rules, lang="de", at_fault=False, outcome="turn_limit")
    view = LiveView(io.StringIO(), tty=False)
    view.scorecard(d)
    text = view.stream.getvalue()
    assert f"Anruf beendet: keine Einigung in der Zeit. Gesamt {d.overall}/100 über {len(replies)} Antworten." in text
    assert "– Um Entschuldigung bitten" in text and "nicht erwartet" in text


def test_text_and_json_carry_the_same_verdicts(rules):
    d = debrief(POLITE, rules, agreed_from=3)
    data = debrief_to_json(d)
    assert [n["check_id"] for n in data["notes"]] == list(CHECK_IDS)
    assert {n["check_id"]: n["met"] for n in data["notes"]} == {n.check_id: n.met for n in d.notes}
    text = "\n".join(format_debrief(d))
    assert all(n.try_next in text for n in d.notes if n.try_next)


def test_no_replies_says_so(rules):
    d = debrief([], rules, outcome="interrupted")
    assert d.notes == () and d.overall is None
    assert "nothing to debrief" in format_debrief(d)[1]
    assert debrief_to_json(d) == {"notes": [], "closing": d.closing}
    view = LiveView(io.StringIO(), tty=False)
    view.scorecard(d)
    assert view.stream.getvalue().splitlines()[1] == "Call ended: stopped early. Overall -/100 over 0 replies."


def test_every_slip_of_an_every_reply_principle_is_quoted(rules):
    d = debrief([POLITE[0], "You must have typed the wrong address.", "Calm down, it's not that big a deal."], rules,
                outcome="hung_up")
    note = notes(d)["not_personal"]
    assert note.reply == 2
    assert note.try_next.startswith("In reply 2 you got personal: “You must have”; in reply 3: “Calm down”.")
