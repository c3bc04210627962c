"""The call as a trainer marks it: one verdict per principle over the whole call, and the call's mark.

The per-reply scorecards judge every reply on every principle; a trainer does not.
You apologize once (when the company is at fault), show understanding early, ask a
targeted question before you offer a solution, confirm the agreement in writing
once there is one, and stay impersonal and calm in *every* reply. :func:`assess`
reads the typed scorecards of a call's replies with a little context per turn and
returns a :class:`CallAssessment`: a :class:`PrincipleVerdict` per check id and the
call's ``overall`` (0-100) from those verdicts. The per-reply marks stay as the
detail under it.

The rules (weights, timing window, caps, the phrases that make a reply an offer)
are data: ``voicesim/data/assessment.toml``, explained there for trainers.

Pure: :func:`assess` and :func:`to_json` do no I/O and keep no state; the rules and
the wording come in as values. :func:`load_rules` is the one edge function: it
reads the rule file (and the customer's proposal phrases, so an offer is one list).

>>> from voicesim.language import load_language
>>> from voicesim.scoring import score_reply
>>> from voicesim.transcript import Transcript
>>> from voicesim.debrief import wording
>>> pack = load_language("en")
>>> replies = ["I'm so sorry, that must be really frustrating.", "When did you place the order?",
...            "I will send a replacement tonight and confirm it by e-mail today."]
>>> cards = [score_reply(Transcript.from_text(r), pack) for r in replies]
>>> call = assess(cards, None, ScenarioFacts("en", company_at_fault=True), load_rules(), wording("en")["verdicts"])
>>> call.overall, call.verdict("targeted_question").reply
(100, 2)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# An offer is heard the way the customer hears a proposal: a phrase at a word start.
from voicesim.customer import _mentions as mentions
from voicesim.customer_rules import load_rules as load_customer_rules
from voicesim.customer_rules import read_rule_file
from voicesim.errors import VoicesimError
from voicesim.scorecard import CHECK_IDS, Scorecard

if TYPE_CHECKING:
    from voicesim.scenario import Scenario

RULES_FILE = "assessment.toml"
EVERY_REPLY = ("not_personal", "calm_tone")
"""Principles that hold for the call only if they hold in every reply."""
QUOTE_WORDS = 12
"""A reply quoted without evidence is cut to this many words."""


@dataclass(frozen=True)
class AssessmentRules:
    """The call-level rule table (data/assessment.toml)."""

    weights: Mapping[str, float]
    """Check id -> points when met; principles not expected drop out and the rest are scaled to 100."""
    understanding_by_reply: int
    """Understanding shown in this reply or earlier counts as early."""
    mistimed_credit: float
    """Share of the points for a principle met at the wrong moment (0-1)."""
    caps: Mapping[str, int]
    """Check id -> highest mark of a call in which that principle was not met."""
    offers: Mapping[str, tuple[str, ...]]
    """Language -> lower-case phrases that make a reply an offer of a solution."""


@dataclass(frozen=True)
class ScenarioFacts:
    """What the scenario says that changes what a trainer expects of the call."""

    lang: str
    company_at_fault: bool
    """True when an apology is owed."""

    @classmethod
    def of(cls, scenario: Scenario) -> ScenarioFacts:
        return cls(lang=scenario.lang, company_at_fault=bool(scenario.company_at_fault))


@dataclass(frozen=True)
class TurnContext:
    """What happened around one reply, besides the words on its scorecard."""

    start_s: float | None = None
    """Where the reply starts on the session recording; None for typed replies."""
    agreed: bool = False
    """After this reply the customer had accepted an agreement (closing stage, or the call resolved)."""


@dataclass(frozen=True)
class PrincipleVerdict:
    """One principle over the whole call."""

    check_id: str
    met: bool | None
    """None when the principle was not expected in this call (or there was no reply)."""
    reply: int | None
    """The reply (1-based) that met or broke it; None when none did."""
    quote: str | None
    """The trainee's words in that reply that decided it."""
    at_s: float | None
    """Start of that reply on the session recording; None for typed replies."""
    code: str
    """Which rule decided, e.g. 'understanding_late'; also the key of its wording."""
    why: str
    """One line in the call's language, quoting the trainee."""
    credit: float
    """Share of the principle's points earned (0-1)."""


@dataclass(frozen=True)
class CallAssessment:
    """A call's verdicts and its mark."""

    lang: str
    verdicts: tuple[PrincipleVerdict, ...]
    """In CHECK_IDS order."""
    overall: int | None
    """0-100 from the verdicts; None without replies."""
    solution_reply: int | None
    """The first reply that offered a solution (or after which the customer agreed)."""
    capped_by: tuple[str, ...] = ()
    """Broken principles whose cap limited the mark."""

    def verdict(self, check_id: str) -> PrincipleVerdict:
        return next(v for v in self.verdicts if v.check_id == check_id)


@dataclass(frozen=True)
class _Finding:
    """A verdict before it is worded."""

    code: str
    met: bool | None
    reply: int | None = None
    credit: float = 0.0
    also: tuple[int, ...] = ()
    """Later replies that broke it too (every-reply principles): the debrief quotes each slip."""


# --- the verdicts ---------------------------------------------------------------------------


def assess(cards: Sequence[Scorecard], turns: Sequence[TurnContext] | None, facts: ScenarioFacts,
           rules: AssessmentRules, wording: Mapping[str, str]) -> CallAssessment:
    """Judge a call from its replies' scorecards (in reply order); ``wording`` is the [verdicts] table of the language."""
    turns = list(turns) if turns is not None else [TurnContext() for _ in cards]
    if len(turns) != len(cards):
        raise ValueError(f"{len(cards)} scorecards but {len(turns)} turn contexts")
    solution = _solution_reply(cards, turns, rules.offers.get(facts.lang, ()))
    findings = {
        "understanding": _understanding(cards, rules.understanding_by_reply, rules.mistimed_credit),
        "targeted_question": _question(cards, solution, rules.mistimed_credit),
        "written_agreement": _writing(cards, solution, rules.mistimed_credit),
        "apology": _apology(cards, facts.company_at_fault),
        **{check_id: _every_reply(cards, check_id) for check_id in EVERY_REPLY},
    }
    verdicts = tuple(_word(cid, findings[cid], cards, turns, solution, wording) for cid in CHECK_IDS)
    overall, capped = _overall(verdicts, rules) if cards else (None, ())
    return CallAssessment(facts.lang, verdicts, overall, solution, capped)


def _passing(cards: Sequence[Scorecard], check_id: str) -> list[int]:
    """1-based numbers of the replies in which the check passed."""
    return [i for i, card in enumerate(cards, 1) if _passed(card, check_id)]


def _passed(card: Scorecard, check_id: str) -> bool:
    result = card.checks.get(check_id)
    return bool(result and result.passed)


def _solution_reply(cards: Sequence[Scorecard], turns: Sequence[TurnContext], offers: tuple[str, ...]) -> int | None:
    for i, (card, turn) in enumerate(zip(cards, turns, strict=True), 1):
        if turn.agreed or mentions(_without_writing(card), offers):
            return i
    return None


def _without_writing(card: Scorecard) -> str:
    """The reply minus its promise of writing: "I'll send you an e-mail" offers no solution by itself."""
    text = card.transcript.lower()
    for evidence in card.checks["written_agreement"].evidence if "written_agreement" in card.checks else ():
        text = text.replace(evidence.text.lower(), " ")
    return text


def _understanding(cards: Sequence[Scorecard], by_reply: int, late_credit: float) -> _Finding:
    shown = _passing(cards, "understanding")
    if not shown:
        return _Finding("understanding_never", False) if cards else _Finding("no_replies", None)
    if shown[0] <= by_reply:
        return _Finding("understanding_early", True, shown[0], 1.0)
    return _Finding("understanding_late", False, shown[0], late_credit)


def _every_reply(cards: Sequence[Scorecard], check_id: str) -> _Finding:
    if not cards:
        return _Finding("no_replies", None)
    broken = [i for i, card in enumerate(cards, 1) if check_id in card.checks and not _passed(card, check_id)]
    if broken:
        return _Finding(f"{check_id}_broken", False, broken[0], also=tuple(broken[1:]))
    return _Finding(f"{check_id}_kept", True, None, 1.0)


def _question(cards: Sequence[Scorecard], solution: int | None, late_credit: float) -> _Finding:
    asked = _passing(cards, "targeted_question")
    if not asked:
        return _Finding("targeted_question_never", False) if cards else _Finding("no_replies", None)
    if solution is None:
        return _Finding("targeted_question_no_solution", True, asked[0], 1.0)
    # In the offering reply itself a question is most often the offer's own ("would that work for you").
    if asked[0] < solution:
        return _Finding("targeted_question_before_solution", True, asked[0], 1.0)
    return _Finding("targeted_question_after_solution", False, asked[0], late_credit)


def _writing(cards: Sequence[Scorecard], solution: int | None, early_credit: float) -> _Finding:
    written = _passing(cards, "written_agreement")
    if not written:
        return _Finding("written_agreement_never", False) if cards else _Finding("no_replies", None)
    if solution is not None:
        after = [i for i in written if i >= solution]
        if after:
            return _Finding("written_agreement_agreed", True, after[0], 1.0)
    elif written[-1] == len(cards):
        return _Finding("written_agreement_at_close", True, written[-1], 1.0)
    return _Finding("written_agreement_too_early", False, written[0], early_credit)


def _apology(cards: Sequence[Scorecard], company_at_fault: bool) -> _Finding:
    given = _passing(cards, "apology")
    if not cards:
        return _Finding("no_replies", None)
    if not company_at_fault:
        # Not wrong, just not owed: the principle drops out of the mark.
        return _Finding("apology_not_expected_given", None, given[0]) if given else _Finding("apology_not_expected", None)
    if given:
        return _Finding("apology_given", True, given[0], 1.0)
    return _Finding("apology_never", False)


# --- wording and the mark -------------------------------------------------------------------


def _word(check_id: str, found: _Finding, cards: Sequence[Scorecard], turns: Sequence[TurnContext],
          solution: int | None, wording: Mapping[str, str]) -> PrincipleVerdict:
    quote = _quote(cards[found.reply - 1], check_id) if found.reply else None
    at_s = turns[found.reply - 1].start_s if found.reply else None
    template = wording.get(found.code)
    if template is None:
        raise ValueError(f"the debrief wording has no [verdicts] {found.code}")
    more = "".join(wording["also"].format(reply=j, quote=_quote(cards[j - 1], check_id)) for j in found.also)
    why = template.format(reply=found.reply, quote=quote or "", n=len(cards), solution=solution, more=more)
    return PrincipleVerdict(check_id, found.met, found.reply, quote, at_s, found.code, why, found.credit)


def _quote(card: Scorecard, check_id: str) -> str:
    """The evidence the check found, else the start of the reply."""
    result = card.checks.get(check_id)
    if result and result.evidence:
        return result.evidence[0].text
    words = card.transcript.split()
    return " ".join(words[:QUOTE_WORDS]) + (" …" if len(words) > QUOTE_WORDS else "")


def _overall(verdicts: Sequence[PrincipleVerdict], rules: AssessmentRules) -> tuple[int, tuple[str, ...]]:
    expected = [v for v in verdicts if v.met is not None]
    total = sum(rules.weights[v.check_id] for v in expected)
    earned = sum(rules.weights[v.check_id] * v.credit for v in expected)
    mark = int(100 * earned / total + 0.5) if total else 0
    capped = tuple(v.check_id for v in expected if v.met is False and rules.caps.get(v.check_id, 100) < mark)
    for check_id in capped:
        mark = min(mark, rules.caps[check_id])
    return mark, capped


def principles_json(call: CallAssessment) -> dict[str, dict[str, Any]]:
    """Check id -> {"met", "reply", "at_s", "quote", "why"}: the `principles` object of the JSON outputs."""
    return {v.check_id: {"met": v.met, "reply": v.reply, "at_s": v.at_s, "quote": v.quote, "why": v.why}
            for v in call.verdicts}


def to_json(call: CallAssessment) -> str:
    """The assessment as JSON text, byte for byte the same for the same call."""
    return json.dumps(assessment_json(call), ensure_ascii=False, indent=2)


def assessment_json(call: CallAssessment) -> dict[str, Any]:
    """The "assessment" object of session.json."""
    return {"overall": call.overall, "solution_offered_in_reply": call.solution_reply,
            "capped_by": list(call.capped_by), "principles": principles_json(call)}


def turn_context(record: Mapping[str, Any]) -> TurnContext:
    """A session.json turn record's context: the reply's start and whether the customer had agreed.

    The customer's stage is read from the slots of its answer: a line from
    stages.closing.* is only said once an agreement was accepted (voicesim/customer.py).
    """
    answer = record.get("customer_answer") or {}
    agreed = answer.get("outcome") == "resolved" or any(
        str(slot).startswith("stages.closing.") for slot in answer.get("slots", ()))
    return TurnContext(start_s=(record.get("trainee") or {}).get("start_s"), agreed=agreed)


# --- edge: the rule file ----------------------------------------------------------------------


def load_rules(path: str | None = None) -> AssessmentRules:
    """The call rules; ``path`` defaults to the packaged data/assessment.toml."""
    source, data = read_rule_file(path, RULES_FILE, "the call rules")
    try:
        return rules_from(data, load_customer_rules().proposals)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VoicesimError(f"call rules {source} are incomplete or wrong: {exc}; compare them with the comments "
                            "in voicesim/data/assessment.toml") from exc


def rules_from(data: Mapping[str, Any], proposals: Mapping[str, tuple[str, ...]]) -> AssessmentRules:
    """Rules from the parsed table; the customer's proposal phrases count as offers too."""
    weights = {cid: float(data["weights"][cid]) for cid in CHECK_IDS}
    if any(w <= 0 for w in weights.values()):
        raise ValueError("every [weights] entry must be above 0")
    credit = float(data["timing"]["mistimed_credit"])
    if not 0.0 <= credit <= 1.0:
        raise ValueError("timing.mistimed_credit must be between 0 and 1")
    caps = {cid: int(cap) for cid, cap in data.get("caps", {}).items()}
    unknown = set(caps) - set(CHECK_IDS)
    if unknown:
        raise ValueError(f"[caps] names unknown check ids: {', '.join(sorted(unknown))}")
    langs = set(data.get("offers", {})) | set(proposals)
    offers = {lang: tuple(p.lower() for p in (*data.get("offers", {}).get(lang, ()), *proposals.get(lang, ())))
              for lang in sorted(langs)}
    return AssessmentRules(weights=weights, understanding_by_reply=int(data["timing"]["understanding_by_reply"]),
                           mistimed_credit=credit, caps=caps, offers=offers)
