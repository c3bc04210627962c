"""The customer's pure logic, driven by plain scorecards: calming, escalating, prompting, ending."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from voicesim.customer import Customer, TurnEvents
from voicesim.customer_rules import load_rules
from voicesim.errors import VoicesimError
from voicesim.scenario import REPO_SCENARIOS, find_scenario, load_scenario, scenario_files
from voicesim.scorecard import CHECK_IDS, CheckResult, Evidence, Scorecard

SHIPPED = scenario_files([REPO_SCENARIOS])  # scenarios/packs/ holds benchmark packs, not scenarios
RULES = load_rules()
NEUTRAL = {"not_personal", "calm_tone"}
"""Checks a plain, polite reply passes; the other four need the trainee to do something."""


def card(text: str, *passing: str, failing: tuple[str, ...] = (), lang: str = "en") -> Scorecard:
    """A scorecard as the scorer would give it; the question's evidence is the whole reply."""
    passed = (NEUTRAL | set(passing)) - set(failing)
    checks = {
        cid: CheckResult(
            cid,
            cid in passed,
            1.0 if cid in passed else 0.0,
            evidence=(Evidence(text),) if cid == "targeted_question" and cid in passed else (),
        )
        for cid in CHECK_IDS
    }
    return Scorecard(lang, text, checks)


def well_handled(scenario) -> list[Scorecard]:
    """Apologize where owed, show understanding, ask, ask for the goal, put the agreement in writing."""
    opening = ("apology", "understanding", "targeted_question") if scenario.company_at_fault else ("understanding", "targeted_question")
    first, second, third = WELL_SAID[scenario.lang]
    return [
        card(first, *opening, lang=scenario.lang),
        card(second, "understanding", "targeted_question", lang=scenario.lang),
        card(third, "understanding", "written_agreement", lang=scenario.lang),
    ]


WELL_SAID = {
    "en": (
        "I'm sorry, that sounds really frustrating. What is your order number?",
        "I understand. What would be the best outcome for you?",
        "Let's do that, I'll send you a written confirmation by e-mail.",
    ),
    "de": (
        "Das tut mir leid, das ist wirklich ärgerlich. Wie ist Ihre Kundennummer?",
        "Das verstehe ich. Was wäre für Sie die beste Lösung?",
        "Das machen wir gemeinsam so, ich schicke Ihnen eine schriftliche Bestätigung per Mail.",
    ),
}


def blaming(lang: str) -> Scorecard:
    return card("Calm down, you must have typed it wrong.", failing=("not_personal", "calm_tone"), lang=lang)


def play(customer: Customer, cards: list[Scorecard], events: TurnEvents | None = None):
    reactions = []
    for c in cards:
        reactions.append(customer.react(c, events))
        if reactions[-1].ended:
            break
    return reactions


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_well_handled_call_calms_the_customer_and_resolves(path: Path) -> None:
    scenario = load_scenario(path)
    customer = Customer(scenario, seed=7)
    opening = customer.opening()
    assert opening.text in scenario.opening[RULES.level(scenario.start_anger)]
    reactions = play(customer, well_handled(scenario))
    angers = [scenario.start_anger] + [r.anger for r in reactions]
    assert angers == sorted(angers, reverse=True) and angers[-1] < angers[0]
    assert reactions[-1].outcome == "resolved"
    assert reactions[-1].state.agreement_reached
    assert reactions[-1].lines[-1].text in scenario.endings["resolved"]
    assert [r.state.stage for r in reactions] == ["details", "solution", "closing"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_blame_and_calm_down_escalate_to_a_hang_up(path: Path) -> None:
    scenario = load_scenario(path)
    customer = Customer(scenario, seed=3)
    reactions = play(customer, [blaming(scenario.lang)] * 4)
    last = reactions[-1]
    assert last.outcome == "hung_up" and last.ended and last.anger == RULES.max_anger
    assert all(r.anger_delta > 0 for r in reactions)
    assert last.lines[0].text in scenario.reactions["blame"]
    assert last.lines[-1].text in scenario.endings["hung_up"]
    assert {"not_personal_failed", "calm_tone_failed"} <= {h.rule for h in last.rules}


def test_blame_anger_follows_the_rule_table() -> None:
    scenario = find_scenario("double-charge", dirs=[REPO_SCENARIOS])
    reaction = Customer(scenario, seed=0).react(card("Calm down.", failing=("not_personal",)))
    d = RULES.deltas
    assert reaction.anger == min(RULES.max_anger, scenario.start_anger + d["not_personal_failed"])
    assert reaction.lines[0].slot == "reactions.blame"


def test_an_evasive_reply_costs_patience() -> None:
    scenario = find_scenario("double-charge", dirs=[REPO_SCENARIOS])
    reaction = Customer(scenario, seed=0).react(card("Okay."))
    assert [(h.rule, h.delta) for h in reaction.rules] == [("no_progress", RULES.deltas["no_progress"])]
    assert reaction.anger == scenario.start_anger + RULES.deltas["no_progress"]


@pytest.mark.parametrize(
    ("scenario_id", "proposal"),
    [("internet-outage", "Would an engineer tomorrow at nine work for you"),
     ("internet-stoerung", "Wäre ein Techniker morgen um neun für Sie in Ordnung, passt Ihnen das")],
)
def test_a_proposal_once_calm_in_the_solution_stage_is_a_clear_solution(scenario_id: str, proposal: str) -> None:
    scenario = find_scenario(scenario_id, dirs=[REPO_SCENARIOS])
    early = Customer(scenario, seed=0).react(card(proposal, lang=scenario.lang))
    assert ("proposal", RULES.deltas["proposal"]) in [(h.rule, h.delta) for h in early.rules]
    assert early.state.stage == "opening" and not early.state.agreement_reached
    customer = Customer(scenario, seed=0)
    play(customer, well_handled(scenario)[:2])
    assert (customer.state.stage, customer.state.anger <= RULES.low_anger) == ("solution", True)
    accepted = customer.react(card(proposal, lang=scenario.lang))
    assert accepted.outcome == "resolved" and accepted.state.agreement_reached
    assert accepted.lines[-1].text in scenario.endings["resolved"]


def test_silence_prompt_asks_if_anyone_is_there_and_annoys() -> None:
    scenario = find_scenario("late-delivery", dirs=[REPO_SCENARIOS])
    customer = Customer(scenario, seed=1)
    customer.opening()
    prompt = customer.prompt_silence()
    assert [line.slot for line in prompt.lines] == ["reactions.silence"]
    assert prompt.text in scenario.reactions["silence"]
    assert prompt.anger == scenario.start_anger + RULES.deltas["silence"]
    assert customer.state.turn == 0 and not prompt.ended
    silent_turn = customer.react(card(""), TurnEvents(silent=True))
    assert silent_turn.lines[0].text in scenario.reactions["silence"]
    assert silent_turn.lines[0].text != prompt.text
    assert customer.state.turn == 1


def test_repeated_silence_ends_in_a_hang_up() -> None:
    scenario = find_scenario("internet-outage", dirs=[REPO_SCENARIOS])
    customer = Customer(scenario, seed=1)
    prompts = [customer.prompt_silence() for _ in range(RULES.max_anger - scenario.start_anger)]
    assert prompts[-1].outcome == "hung_up"
    assert prompts[-1].lines[-1].text in scenario.endings["hung_up"]


def test_barge_in_raises_anger_and_gets_a_reaction() -> None:
    scenario = find_scenario("cancelled-trip", dirs=[REPO_SCENARIOS])
    reply = card("I see, that sounds difficult.", "understanding")
    calm = Customer(scenario, seed=2).react(reply, TurnEvents())
    barged = Customer(scenario, seed=2).react(reply, TurnEvents(interrupted=2))
    assert barged.anger == calm.anger + 2 * RULES.deltas["barge_in"]
    assert barged.lines[0].slot == "reactions.interrupted"
    assert ("barge_in", 2 * RULES.deltas["barge_in"]) in [(h.rule, h.delta) for h in barged.rules]


def test_slow_response_counts_against_the_trainee() -> None:
    scenario = find_scenario("cancelled-trip", dirs=[REPO_SCENARIOS])
    reply = card("I see, that sounds difficult.", "understanding")
    quick = Customer(scenario, seed=2).react(reply, TurnEvents(response_delay_s=1.0))
    slow = Customer(scenario, seed=2).react(reply, TurnEvents(response_delay_s=RULES.slow_response_s + 1))
    assert slow.anger == quick.anger + RULES.deltas["slow_response"]


def test_same_seed_same_lines_and_seeds_vary_the_call() -> None:
    def transcript(scenario, seed: int) -> list[str]:
        customer = Customer(scenario, seed=seed)
        lines = [customer.opening().text]
        cards = [card("Okay.", "understanding")] * 3 + well_handled(scenario)
        return lines + [r.text for r in play(customer, cards)]

    scenarios = [load_scenario(p) for p in SHIPPED]
    assert all(transcript(s, 11) == transcript(s, 11) for s in scenarios)
    assert any(transcript(s, 11) != transcript(s, 12) for s in scenarios)


def test_turn_limit_ends_a_call_that_goes_nowhere() -> None:
    for scenario_id in ("late-delivery", "internet-outage"):
        scenario = find_scenario(scenario_id, dirs=[REPO_SCENARIOS])
        customer = Customer(scenario, seed=5)
        limit = scenario.turn_limit or RULES.default_turn_limit
        reactions = play(customer, [card("I hear you, that is annoying.", "understanding")] * (limit + 3))
        assert len(reactions) == limit
        assert reactions[-1].outcome == "turn_limit"
        assert reactions[-1].lines[-1].text in scenario.endings["turn_limit"]
        assert not any(r.ended for r in reactions[:-1])


def test_a_targeted_question_gets_the_fact_it_asks_for() -> None:
    scenario = find_scenario("late-delivery", dirs=[REPO_SCENARIOS])
    facts = {f.topic: f for f in scenario.facts}
    customer = Customer(scenario, seed=0)
    first = customer.react(card("Could you tell me the tracking status you see?", "targeted_question"))
    assert facts["tracking"].answer in [line.text for line in first.lines]
    second = customer.react(card("And what is your order number", "targeted_question"))
    assert second.lines[0].slot == "facts.order number"
    assert customer.state.facts_told == ("tracking", "order number")
    # In the solution stage a question no longer moves the call on: the answer is the whole reply.
    third = customer.react(card("What items were in the parcel, what did you order", "targeted_question"))
    assert third.state.stage == "solution" and [line.slot for line in third.lines] == ["facts.contents"]


def test_german_questions_find_german_facts() -> None:
    scenario = find_scenario("internet-stoerung", dirs=[REPO_SCENARIOS])
    customer = Customer(scenario, seed=0)
    reaction = customer.react(card("Seit wann genau ist die Störung", "targeted_question", lang="de"))
    answer = {f.topic: f.answer for f in scenario.facts}["Beginn der Störung"]
    assert answer in [line.text for line in reaction.lines]


def test_apology_calms_once_and_only_when_the_company_is_at_fault() -> None:
    at_fault = find_scenario("double-charge", dirs=[REPO_SCENARIOS])
    customer = Customer(at_fault, seed=0)
    sorry = card("I'm so sorry about this.", "apology")
    first, second = customer.react(sorry), customer.react(sorry)
    assert first.anger_delta == RULES.deltas["apology"]
    assert first.lines[0].slot == "reactions.apology"
    assert second.anger_delta == 0 and "apology" not in {h.rule for h in second.rules}
    not_at_fault = find_scenario("contract-cancellation", dirs=[REPO_SCENARIOS])
    assert Customer(not_at_fault, seed=0).react(sorry).anger_delta == 0


def test_one_reply_calms_by_at_most_the_cap() -> None:
    scenario = find_scenario("internet-outage", dirs=[REPO_SCENARIOS])
    everything = card("So sorry, I understand; when did it start? I'll confirm in writing.",
                      "apology", "understanding", "targeted_question", "written_agreement")
    reaction = Customer(scenario, seed=0).react(everything)
    assert reaction.anger_delta == -RULES.max_calming_per_turn


def test_written_agreement_needs_the_details_first() -> None:
    scenario = find_scenario("late-delivery", dirs=[REPO_SCENARIOS])
    customer = Customer(scenario, seed=0)
    early = customer.react(card("I'll put it in writing.", "written_agreement", "apology", "understanding"))
    assert early.state.stage == "opening" and not early.state.agreement_reached


def test_variants_do_not_repeat_back_to_back() -> None:
    scenario = find_scenario("late-delivery", dirs=[REPO_SCENARIOS])
    customer = Customer(scenario, seed=9)
    said = [customer.react(card("Right.", "understanding")).lines[-1] for _ in range(7)]
    assert all(a.text != b.text for a, b in pairwise(said) if a.slot == b.slot)


def test_reacting_after_the_end_is_a_programming_error() -> None:
    scenario = find_scenario("late-delivery", dirs=[REPO_SCENARIOS])
    customer = Customer(scenario, seed=0)
    play(customer, [blaming("en")] * 4)
    assert customer.ended
    with pytest.raises(RuntimeError):
        customer.react(card("Hello?"))


def test_a_broken_rule_table_is_named(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("max_anger = 8\n", encoding="utf-8")
    with pytest.raises(VoicesimError) as info:
        load_rules(str(rules))
    assert str(rules) in str(info.value)


def test_levels_cover_the_scale() -> None:
    assert RULES.level(0) == "calm"
    assert RULES.level(RULES.max_anger - 1) == "angry"
    assert [RULES.level(a) for a in range(RULES.max_anger)] == sorted(
        (RULES.level(a) for a in range(RULES.max_anger)), key=list(RULES.levels).index
    )


@pytest.mark.parametrize(
    ("lang", "scenario_id", "reply", "topic"),
    [
        ("en", "late-delivery", "I am so sorry about that what is your order number and when did you order it", "order number"),
        ("en", "double-charge", "I see. When did the two payments go out", "payment dates"),
        ("de", "reise-storniert", "Das tut mir leid. Wann genau ist Ihr Abflug", "Reisedaten"),
        ("de", "doppelte-abbuchung", "Können Sie mir Ihre Kundennummer nennen", "Kundennummer"),
    ],
)
def test_questions_scored_by_the_real_checklist_get_their_fact(lang: str, scenario_id: str, reply: str, topic: str) -> None:
    """The scorer's evidence is only the question's opener; the customer still finds what was asked."""
    from voicesim.checklist import check_reply
    from voicesim.language import load_language
    from voicesim.transcript import Transcript

    # The text checks alone: calm_tone needs voice or a calm band, which is not what this is about.
    scorecard = Scorecard(lang, reply, check_reply(Transcript.from_text(reply), load_language(lang)))
    assert scorecard.checks["targeted_question"].passed
    scenario = find_scenario(scenario_id, dirs=[REPO_SCENARIOS])
    reaction = Customer(scenario, seed=0).react(scorecard)
    assert f"facts.{topic}" in [line.slot for line in reaction.lines]
