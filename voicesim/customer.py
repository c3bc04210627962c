"""The simulated customer: anger that moves with each turn's scorecard, and the next line to say.

Pure and deterministic: no I/O beyond reading the rule table once, no global random
state — the same scenario, seed and sequence of scorecards give the same lines.
The rule table is ``voicesim/data/customer_rules.toml`` (read by :mod:`voicesim.customer_rules`,
explained in scenarios/README.md).

>>> from voicesim.scenario import find_scenario
>>> from voicesim.scorecard import CheckResult, Scorecard
>>> customer = Customer(find_scenario("late-delivery"), seed=1)
>>> first = customer.opening()                      # what the customer says when the call connects
>>> checks = {"apology": CheckResult("apology", True, 1.0), "understanding": CheckResult("understanding", True, 1.0)}
>>> reaction = customer.react(Scorecard("en", "I'm so sorry, that sounds awful.", checks), TurnEvents())
>>> reaction.anger < customer.scenario.start_anger, reaction.ended
(True, False)
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from voicesim.customer_rules import DELTAS, STAGES, CustomerRules, load_rules
from voicesim.errors import VoicesimError
from voicesim.scenario import Fact, Scenario
from voicesim.scorecard import Scorecard

QUESTION_WORDS = 12
"""Longest question looked at for a fact's keywords when the transcript has no punctuation."""


@dataclass(frozen=True)
class TurnEvents:
    """What happened around the trainee's words in one turn."""

    interrupted: int = 0
    """Times the trainee talked over the customer (barge-ins)."""
    silent: bool = False
    """The trainee said nothing before the turn timed out."""
    response_delay_s: float | None = None
    """From the end of the customer's line to the trainee's first word; None when unknown."""


@dataclass(frozen=True)
class CustomerLine:
    """One thing the customer says."""

    text: str
    slot: str
    """Where in the scenario it came from, e.g. 'stages.details.annoyed' or 'facts.order number'."""
    anger: int
    stage: str


@dataclass(frozen=True)
class RuleHit:
    """One rule of the table that fired this turn."""

    rule: str
    delta: int


@dataclass(frozen=True)
class CustomerState:
    anger: int
    stage: str
    turn: int = 0
    """Trainee turns answered so far."""
    agreement_reached: bool = False
    """A written agreement or a clear solution the customer accepted."""
    apologized: bool = False
    """The trainee has apologized once (later apologies do not calm further)."""
    facts_told: tuple[str, ...] = ()
    """Topics of the facts the customer has given."""
    outcome: str | None = None
    """'resolved' | 'hung_up' | 'turn_limit' once the call has ended."""


@dataclass(frozen=True)
class CustomerReaction:
    """The customer's answer to one trainee turn."""

    anger: int
    anger_delta: int
    lines: tuple[CustomerLine, ...]
    """Said in order."""
    ended: bool
    outcome: str | None
    """'resolved' | 'hung_up' | 'turn_limit' when ended, else None."""
    rules: tuple[RuleHit, ...]
    """Why the anger moved (for the debrief)."""
    state: CustomerState

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)


class Customer:
    """One call's customer; ``opening()`` first, then ``react()`` per trainee turn until ``ended``."""

    def __init__(self, scenario: Scenario, seed: int | str = 0, rules: CustomerRules | None = None) -> None:
        self.scenario = scenario
        self.rules = rules or load_rules()
        self.turn_limit = scenario.turn_limit or self.rules.default_turn_limit
        self.state = CustomerState(anger=min(scenario.start_anger, self.rules.max_anger - 1), stage=STAGES[0])
        self._rng = random.Random(seed)
        self._used: dict[str, set[int]] = {}
        self._last: dict[str, int] = {}

    @property
    def ended(self) -> bool:
        return self.state.outcome is not None

    def opening(self) -> CustomerLine:
        """The first thing the customer says when the call connects."""
        level = self.rules.level(self.state.anger)
        return self._line(f"opening.{level}", self.scenario.opening[level])

    def prompt_silence(self) -> CustomerReaction:
        """The customer checks the line is alive ("Hello? Are you still there?"); not a turn, but it annoys."""
        self._require_open()
        hits = (RuleHit("silence", self.rules.deltas["silence"]),)
        return self._finish(hits, "silence", fact=None, counts_turn=False)

    def react(self, card: Scorecard, events: TurnEvents | None = None) -> CustomerReaction:
        """Move anger and stage by the rule table for this turn and choose what the customer says."""
        self._require_open()
        events = events or TurnEvents()
        if events.silent:
            return self._finish((RuleHit("silence", self.rules.deltas["silence"]),), "silence", None, counts_turn=True)
        passed = {check: _passed(card, check) for check in card.checks}
        passed["proposal"] = _mentions(card.transcript, self.rules.proposals.get(self.scenario.lang, ()))
        hits = self._rule_hits(passed, events)
        fact = self._asked_fact(card) if passed.get("targeted_question") else None
        stage = self.state.stage
        self._move_stage(passed, self._new_anger(hits))
        if any(h.rule == "apology" for h in hits):
            self.state = replace(self.state, apologized=True)
        # An answered question is the reply; the stage line only adds when the call moved on.
        push = fact is None or self.state.stage != stage
        return self._finish(hits, _reaction(passed, events, hits, fact), fact, counts_turn=True, push=push)

    # --- rules ---------------------------------------------------------------------------

    def _rule_hits(self, passed: dict[str, bool], events: TurnEvents) -> tuple[RuleHit, ...]:
        d = self.rules.deltas
        fired = {
            "apology": passed.get("apology", False) and self.scenario.company_at_fault and not self.state.apologized,
            "understanding": passed.get("understanding", False),
            "targeted_question": passed.get("targeted_question", False),
            "written_agreement": passed.get("written_agreement", False),
            "proposal": passed["proposal"],
            "not_personal_failed": passed.get("not_personal") is False,
            "calm_tone_failed": passed.get("calm_tone") is False,
            "slow_response": (events.response_delay_s or 0.0) > self.rules.slow_response_s,
        }
        hits = [RuleHit(rule, d[rule]) for rule in DELTAS if fired.get(rule)]
        if events.interrupted:
            hits.append(RuleHit("barge_in", d["barge_in"] * events.interrupted))
        helped = any(passed.get(c) for c in ("understanding", "apology", "targeted_question", "written_agreement", "proposal"))
        if not hits and not helped:  # an evasive reply: it did nothing, and waiting annoys
            hits.append(RuleHit("no_progress", d["no_progress"]))
        return tuple(sorted(hits, key=lambda h: DELTAS.index(h.rule)))

    def _new_anger(self, hits: tuple[RuleHit, ...]) -> int:
        # Calming is capped per turn; escalation is not: one insult can undo a lot.
        calming = max(sum(h.delta for h in hits if h.delta < 0), -self.rules.max_calming_per_turn)
        raising = sum(h.delta for h in hits if h.delta > 0)
        return max(0, min(self.rules.max_anger, self.state.anger + calming + raising))

    def _move_stage(self, passed: dict[str, bool], anger: int) -> None:
        r, at = self.rules, STAGES.index(self.state.stage)
        if passed.get("written_agreement") and at >= STAGES.index(r.agreement_from):
            self.state = replace(self.state, stage="closing", agreement_reached=True)
        elif passed["proposal"] and self.state.stage == r.clear_solution_in and anger <= r.low_anger:
            # Heard out and calm, the customer takes a concrete offer: a clear solution.
            self.state = replace(self.state, stage="closing", agreement_reached=True)
        elif passed.get("targeted_question") and at < STAGES.index(r.question_advances_until):
            self.state = replace(self.state, stage=STAGES[at + 1])

    def _asked_fact(self, card: Scorecard) -> Fact | None:
        """The fact the question asks about: one not told yet first, then any that matches."""
        asked = _question_text(card)
        matching = [f for f in self.scenario.facts if _mentions(asked, f.keywords)]
        fresh = [f for f in matching if f.topic not in self.state.facts_told]
        return (fresh or matching or [None])[0]

    # --- lines -------------------------------------------------------------------------------

    def _finish(
        self, hits: tuple[RuleHit, ...], reaction: str | None, fact: Fact | None, counts_turn: bool, push: bool = True
    ) -> CustomerReaction:
        before = self.state.anger
        anger = self._new_anger(hits)
        turn = self.state.turn + counts_turn
        told = self.state.facts_told + ((fact.topic,) if fact and fact.topic not in self.state.facts_told else ())
        self.state = replace(self.state, anger=anger, turn=turn, facts_told=told)
        outcome = self._outcome(counts_turn)
        lines = self._say(reaction, fact, outcome, push)
        self.state = replace(self.state, outcome=outcome)
        return CustomerReaction(anger, anger - before, lines, outcome is not None, outcome, tuple(hits), self.state)

    def _outcome(self, counts_turn: bool) -> str | None:
        s, r = self.state, self.rules
        if s.anger >= r.max_anger:
            return "hung_up"
        if s.stage == "closing" and s.agreement_reached and s.anger <= r.low_anger:
            return "resolved"
        if counts_turn and s.turn >= self.turn_limit:
            return "turn_limit"
        return None

    def _say(self, reaction: str | None, fact: Fact | None, outcome: str | None, push: bool) -> tuple[CustomerLine, ...]:
        sc = self.scenario
        lines: list[CustomerLine] = []
        if outcome == "turn_limit":
            return (self._line("endings.turn_limit", sc.endings["turn_limit"]),)
        if outcome == "hung_up":
            # The last straw is voiced before the phone goes down.
            if reaction in ("blame", "interrupted", "silence"):
                lines.append(self._line(f"reactions.{reaction}", sc.reactions[reaction]))
            return (*lines, self._line("endings.hung_up", sc.endings["hung_up"]))
        if reaction:
            lines.append(self._line(f"reactions.{reaction}", sc.reactions[reaction]))
        if outcome == "resolved":
            return (*lines, self._line("endings.resolved", sc.endings["resolved"]))
        if reaction == "silence":
            return tuple(lines)
        if fact is not None:
            lines.append(self._line(f"facts.{fact.topic}", (fact.answer,)))
        if not push:
            return tuple(lines)
        level = self.rules.level(self.state.anger)
        lines.append(self._line(f"stages.{self.state.stage}.{level}", sc.stages[self.state.stage][level]))
        return tuple(lines)

    def _line(self, slot: str, variants: tuple[str, ...]) -> CustomerLine:
        """A variant not used yet in this call if any is left; never the same one twice in a row."""
        used = self._used.setdefault(slot, set())
        fresh = [i for i in range(len(variants)) if i not in used]
        if not fresh:
            used.clear()
            fresh = [i for i in range(len(variants)) if i != self._last.get(slot)] or [0]
        pick = self._rng.choice(fresh)
        used.add(pick)
        self._last[slot] = pick
        return CustomerLine(variants[pick], slot, self.state.anger, self.state.stage)

    def _require_open(self) -> None:
        if self.ended:
            raise RuntimeError(f"the call has already ended ({self.state.outcome}); start a new Customer")


def with_difficulty(scenario: Scenario, start_anger: int | str | None = None, patience: int | None = None,
                    rules: CustomerRules | None = None) -> Scenario:
    """The scenario's customer made harder or easier: anger at the start (a number or a level of the
    rule table, e.g. "angry") and patience (trainee turns before they give up). None keeps the scenario's.

    >>> from voicesim.scenario import find_scenario
    >>> s = with_difficulty(find_scenario("late-delivery"), "angry", patience=4)
    >>> s.start_anger, s.turn_limit
    (7, 4)
    """
    rules = rules or load_rules()
    anger = scenario.start_anger
    if isinstance(start_anger, str):
        if start_anger not in rules.levels:
            raise VoicesimError(f"start_anger '{start_anger}' is not a level; use a number or one of: {', '.join(rules.levels)}")
        anger = rules.levels[start_anger]
    elif start_anger is not None:
        anger = start_anger
    if not 0 <= anger < rules.max_anger:
        raise VoicesimError(f"start_anger {anger} is out of range; it must be between 0 and {rules.max_anger - 1}")
    if patience is not None and patience < 1:
        raise VoicesimError(f"patience {patience} is too small; it must be at least 1 turn")
    return replace(scenario, start_anger=anger, turn_limit=patience if patience is not None else scenario.turn_limit)


def _passed(card: Scorecard, check: str) -> bool:
    return bool(card.checks[check].passed)


def _mentions(text: str, phrases: tuple[str, ...]) -> bool:
    """A phrase occurs starting at a word start ("fee" is not in "coffee")."""
    text = " ".join(text.lower().split())
    return any(re.search(rf"\b{re.escape(p)}", text) for p in phrases)


def _question_text(card: Scorecard) -> str:
    """The trainee's questions: from each opener the scorer found ("what is") to the end of its sentence.

    The scorer's evidence is only the opener, and ASR text has no punctuation, so a
    question runs at most QUESTION_WORDS words; without evidence the whole reply counts.
    """
    text = card.transcript.lower()
    result = card.checks.get("targeted_question")
    spans = []
    for evidence in result.evidence if result else ():
        at = text.find(evidence.text.lower())
        if at >= 0:
            sentence = re.split(r"[.?!]", text[at + len(evidence.text) :], maxsplit=1)[0]
            spans.append(" ".join((text[at : at + len(evidence.text)] + sentence).split()[:QUESTION_WORDS]))
    return " ".join(spans) or text


def _reaction(passed: dict[str, bool], events: TurnEvents, hits: tuple[RuleHit, ...], fact: Fact | None) -> str | None:
    """The one reaction the customer voices, most pressing first: an insult outweighs a kind word."""
    fired = {h.rule for h in hits}
    if "not_personal_failed" in fired:
        return "blame"
    if events.interrupted:
        return "interrupted"
    if "apology" in fired:
        return "apology"
    if passed.get("targeted_question") and fact is None:
        return "good_question"
    if passed.get("understanding"):
        return "understanding"
    return None
