"""The call-level assessment: one verdict per principle over the whole call, and the call's mark.

Calls are played the way a scripted call runs: each typed reply is scored
(score_reply on Transcript.from_text), the real customer of the scenario reacts,
and its agreement state is the turn's context. The demo call's real WAVs go
through the real Vosk model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicesim.assessment import (
    ScenarioFacts,
    TurnContext,
    assess,
    load_rules,
    rules_from,
    to_json,
    turn_context,
)
from voicesim.customer import Customer, TurnEvents
from voicesim.debrief import wording
from voicesim.errors import VoicesimError
from voicesim.language import load_language
from voicesim.learned import load_judge
from voicesim.scenario import find_scenario
from voicesim.scorecard import CHECK_IDS
from voicesim.scoring import score_reply
from voicesim.transcript import Transcript

DEMO = sorted((Path(__file__).resolve().parents[1] / "voicesim" / "data" / "demo" / "late-delivery").glob("*.wav"))

EXEMPLARY = [
    "I'm so sorry your parcel didn't arrive, that must be really frustrating.",
    "Could you tell me your order number, please?",
    "What would be the best outcome for you?",
    "I will send a replacement tonight by overnight delivery and refund the express fee, "
    "and I'll confirm all of that by e-mail today.",
]
POLITE_NO_APOLOGY_NO_WRITING = [
    "That sounds really frustrating, let's sort this out together.",
    "When did you place the order?",
    "What would be the best outcome for you?",
    "I will send a replacement tonight by overnight delivery. Would that work for you?",
]
BLAMING = [EXEMPLARY[0], "You must have typed the wrong address.", *EXEMPLARY[1:]]
NO_QUESTION = [EXEMPLARY[0], EXEMPLARY[3]]
MEDIOCRE = [
    "Let me check the system.",
    "I can see the order here.",
    "I'm sorry about that, that must be really frustrating.",
    "I will send a replacement tonight and confirm it by e-mail today.",
]
POOR = [
    "Let me check the system.",
    "I can see the order here.",
    "We have a lot of orders at the moment.",
    "It should arrive soon.",
]
NOT_AT_FAULT_EXEMPLARY = [  # contract-cancellation: the company made no mistake
    "That sounds really frustrating, let's sort this out together.",
    "When did you cancel, and who did you speak to?",
    "What would be the best outcome for you?",
    "I will end your membership today and confirm the end date by e-mail.",
]
DE_EXEMPLARY = [  # doppelte-abbuchung
    "Es tut mir sehr leid, das war unser Fehler. Ich kann Ihren Ärger gut nachvollziehen.",
    "Können Sie mir bitte Ihre Kundennummer nennen?",
    "Was wäre für Sie die beste Lösung?",
    "Ich erstatte Ihnen den doppelt abgebuchten Betrag heute noch und schicke Ihnen eine schriftliche "
    "Bestätigung per E-Mail.",
]
DE_POLITE_NO_APOLOGY_NO_WRITING = [
    "Das ist wirklich ärgerlich, das lösen wir gemeinsam.",
    "Seit wann besteht das Problem?",
    "Was wäre für Sie die beste Lösung?",
    "Ich erstatte Ihnen den Betrag heute noch. Wäre das in Ordnung?",
]
DE_BLAMING = [DE_EXEMPLARY[0], "Beruhigen Sie sich erstmal.", *DE_EXEMPLARY[1:]]
DE_NOT_AT_FAULT_EXEMPLARY = [  # kuendigung-handyvertrag
    "Das ist wirklich ärgerlich, das lösen wir gemeinsam.",
    "Wann haben Sie gekündigt?",
    "Was wäre für Sie die beste Lösung?",
    "Ich kündige Ihren Vertrag zum Monatsende und schicke Ihnen die Bestätigung per E-Mail.",
]


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def play(scenario_id: str, replies: list[str], rules, cards_only: bool = False):
    """The call as a scripted call runs it: score each reply, the customer reacts, until it ends."""
    scenario = find_scenario(scenario_id)
    pack = load_language(scenario.lang)
    customer = Customer(scenario, seed=0)
    customer.opening()
    cards, turns = [], []
    for text in replies:
        card = score_reply(Transcript.from_text(text), pack, judge=load_judge(scenario.lang))
        reaction = customer.react(card, TurnEvents())
        cards.append(card)
        turns.append(TurnContext(agreed=reaction.state.agreement_reached))
        if reaction.ended:
            break
    return assess(cards, turns, ScenarioFacts.of(scenario), rules, wording(scenario.lang)["verdicts"])


def unmet(call) -> set[str]:
    return {v.check_id for v in call.verdicts if v.met is False}


@pytest.mark.parametrize("scenario_id, replies", [
    ("late-delivery", EXEMPLARY), ("doppelte-abbuchung", DE_EXEMPLARY),
])
def test_an_exemplary_call_meets_every_principle_and_scores_85_plus(rules, scenario_id, replies):
    call = play(scenario_id, replies, rules)
    assert [v.met for v in call.verdicts] == [True] * len(CHECK_IDS)
    assert call.overall >= 85
    assert call.verdict("understanding").reply == 1 and call.verdict("apology").reply == 1
    assert call.verdict("targeted_question").reply == 2 and call.verdict("written_agreement").reply == 4


@pytest.mark.parametrize("scenario_id, replies", [
    ("late-delivery", POLITE_NO_APOLOGY_NO_WRITING), ("doppelte-abbuchung", DE_POLITE_NO_APOLOGY_NO_WRITING),
])
def test_a_polite_call_without_apology_and_writing_misses_exactly_those_two(rules, scenario_id, replies):
    call = play(scenario_id, replies, rules)
    assert unmet(call) == {"apology", "written_agreement"}
    assert call.verdict("apology").reply is None and call.verdict("written_agreement").reply is None


@pytest.mark.parametrize("scenario_id, replies, remark", [
    ("late-delivery", BLAMING, "you must have"), ("doppelte-abbuchung", DE_BLAMING, "beruhigen sie sich"),
])
def test_a_call_that_blames_the_customer_is_capped_below_40(rules, scenario_id, replies, remark):
    call = play(scenario_id, replies, rules)
    verdict = call.verdict("not_personal")
    assert verdict.met is False and verdict.reply == 2
    assert remark in verdict.quote.lower() and remark in verdict.why.lower()
    assert call.overall < 40 and "not_personal" in call.capped_by


def test_one_personal_attack_costs_more_than_a_missed_question(rules):
    blamed, unasked = play("late-delivery", BLAMING, rules), play("late-delivery", NO_QUESTION, rules)
    assert unmet(unasked) == {"targeted_question"}
    assert blamed.overall < unasked.overall


def test_exemplary_beats_mediocre_beats_poor_by_15_points(rules):
    exemplary, mediocre, poor = (play("late-delivery", r, rules) for r in (EXEMPLARY, MEDIOCRE, POOR))
    assert exemplary.overall - mediocre.overall >= 15
    assert mediocre.overall - poor.overall >= 15
    # Mediocre: understanding only in reply 3 (late), no question before the offer.
    assert mediocre.verdict("understanding").code == "understanding_late"
    assert mediocre.verdict("understanding").reply == 3
    assert unmet(poor) == {"understanding", "targeted_question", "written_agreement", "apology"}


@pytest.mark.parametrize("scenario_id, replies, at_fault_twin", [
    ("contract-cancellation", NOT_AT_FAULT_EXEMPLARY, ("late-delivery", EXEMPLARY)),
    ("kuendigung-handyvertrag", DE_NOT_AT_FAULT_EXEMPLARY, ("doppelte-abbuchung", DE_EXEMPLARY)),
])
def test_not_at_fault_no_apology_is_expected_and_none_is_marked_down(rules, scenario_id, replies, at_fault_twin):
    call = play(scenario_id, replies, rules)
    assert call.verdict("apology").met is None and call.verdict("apology").reply is None
    assert unmet(call) == set()
    assert call.overall >= 85 and call.overall == play(*at_fault_twin, rules).overall


def test_an_apology_where_none_was_owed_is_not_wrong(rules):
    # An apology that owns the trouble ("sorry to hear that" is sympathy, not an apology: docs/labelling-guide.md).
    replies = ["I apologise for the trouble this has caused you, that sounds really frustrating.", *NOT_AT_FAULT_EXEMPLARY[1:]]
    call = play("contract-cancellation", replies, rules)
    verdict = call.verdict("apology")
    assert verdict.met is None and verdict.reply == 1 and verdict.code == "apology_not_expected_given"
    assert call.overall == play("contract-cancellation", NOT_AT_FAULT_EXEMPLARY, rules).overall


def test_timing_understanding_late_question_after_offer_writing_before_any_offer(rules):
    late = play("late-delivery", ["Let me check the system.", "I can see the order here.", *EXEMPLARY], rules)
    assert late.verdict("understanding").met is False and late.verdict("understanding").reply == 3
    asked_late = play("late-delivery", [EXEMPLARY[0], "I will send a replacement tonight.", EXEMPLARY[1]], rules)
    question = asked_late.verdict("targeted_question")
    assert asked_late.solution_reply == 2
    assert question.met is False and question.reply == 3 and "reply 2" in question.why
    early = play("late-delivery", [EXEMPLARY[0] + " I'll send you an e-mail confirmation.", *EXEMPLARY[1:3]], rules)
    writing = early.verdict("written_agreement")
    assert writing.met is False and writing.code == "written_agreement_too_early" and writing.reply == 1
    # A mistimed principle earns part of its points: more than never, less than on time.
    never = play("late-delivery", EXEMPLARY[:3], rules)
    assert never.overall < early.overall < play("late-delivery", EXEMPLARY, rules).overall


def test_a_solution_the_customer_accepted_counts_as_offered(rules):
    # No offer phrase at all: the written agreement itself moves the customer to closing.
    call = assess([score_reply(Transcript.from_text("I'll confirm everything by e-mail today."), load_language("en"))],
                  [TurnContext(agreed=True)], ScenarioFacts("en", True), rules, wording("en")["verdicts"])
    assert call.solution_reply == 1 and call.verdict("written_agreement").met is True


def test_german_calls_are_worded_in_german_and_quote_the_trainee(rules):
    call = play("doppelte-abbuchung", DE_EXEMPLARY, rules)
    apology = call.verdict("apology")
    assert apology.why.startswith("Sie haben sich in Antwort 1 entschuldigt")
    assert "tut mir sehr leid" in apology.why


def test_same_call_same_json_bytes(rules):
    first, second = to_json(play("late-delivery", MEDIOCRE, rules)), to_json(play("late-delivery", MEDIOCRE, rules))
    assert first == second
    obj = json.loads(first)
    assert list(obj["principles"]) == list(CHECK_IDS)
    assert all(set(p) >= {"met", "reply", "why"} for p in obj["principles"].values())


def test_no_replies_no_mark(rules):
    call = assess([], [], ScenarioFacts("en", True), rules, wording("en")["verdicts"])
    assert call.overall is None and all(v.met is None for v in call.verdicts)


def test_turn_context_reads_the_customers_agreement_from_the_turn_record():
    record = {"trainee": {"start_s": 12.5}, "customer_answer": {"slots": ["stages.closing.calm"], "outcome": None}}
    assert turn_context(record) == TurnContext(start_s=12.5, agreed=True)
    assert turn_context({"customer_answer": {"slots": ["endings.resolved"], "outcome": "resolved"}}).agreed
    assert not turn_context({"customer_answer": {"slots": ["stages.details.angry"], "outcome": None}}).agreed


def test_broken_rule_files_are_one_clear_error(tmp_path):
    bad = tmp_path / "assessment.toml"
    bad.write_text("[weights]\nunderstanding = 1\n")
    with pytest.raises(VoicesimError, match="incomplete or wrong"):
        load_rules(str(bad))
    with pytest.raises(VoicesimError, match="cannot read"):
        load_rules(str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="mistimed_credit"):
        rules_from({"weights": dict.fromkeys(CHECK_IDS, 1), "timing": {"mistimed_credit": 2,
                                                                       "understanding_by_reply": 2}}, {})


def test_the_demo_call_on_real_recordings_is_a_model_call(rules, en_model):
    from voicesim.asr import transcribe
    from voicesim.audiofile import load_audio

    scenario = find_scenario("late-delivery")
    pack, customer = load_language("en"), Customer(scenario, seed=0)
    customer.opening()
    cards, turns = [], []
    for path in DEMO:
        audio = load_audio(path)
        card = score_reply(transcribe(audio, "en", en_model), pack, audio=audio)
        cards.append(card)
        turns.append(TurnContext(agreed=customer.react(card, TurnEvents()).state.agreement_reached))
    call = assess(cards, turns, ScenarioFacts.of(scenario), rules, wording("en")["verdicts"])
    assert all(v.met for v in call.verdicts), [v.why for v in call.verdicts if not v.met]
    assert call.overall >= 85


def test_practice_json_carries_the_principles_and_the_call_mark(tmp_path, capsys):
    from voicesim.cli import main

    code = main(["practice", "--replies", *map(str, DEMO), "--sessions-dir", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["outcome"] == "resolved"
    assert list(out["principles"]) == list(CHECK_IDS)
    assert all(p["met"] is True for p in out["principles"].values())
    assert out["overall"] >= 85
    session = json.loads((Path(out["session_dir"]) / "session.json").read_text())
    assert session["overall"] == out["overall"] == session["assessment"]["overall"]
    assert session["assessment"]["principles"] == out["principles"]
    assert "i am so sorry" in out["principles"]["apology"]["why"]
