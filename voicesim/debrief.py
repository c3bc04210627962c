"""The end-of-call debrief: per principle, what went well and what to try next time.

It speaks in the call's verdicts (:mod:`voicesim.assessment`): one line per
principle for the whole call, quoting the trainee's own words and naming the reply
("You apologized in reply 1 — good: the company was at fault"). The per-reply
scorecards add the detail of how many replies passed each check. Wording lives in
``data/debrief/<lang>.toml`` (the verdict lines too, so the JSON's "why" and the
debrief say the same thing in the call's language).

>>> from voicesim.assessment import ScenarioFacts, assess, load_rules
>>> from voicesim.language import load_language
>>> from voicesim.scoring import score_reply
>>> from voicesim.transcript import Transcript
>>> cards = [score_reply(Transcript.from_text("I am so sorry, that must be really frustrating."), load_language("en"))]
>>> call = assess(cards, None, ScenarioFacts("en", True), load_rules(), wording("en")["verdicts"])
>>> note = build_debrief(cards, call, outcome="turn_limit").notes[4]
>>> note.check_id, note.went_well
('apology', 'You apologized in reply 1 — good: the company was at fault. (“I am so sorry”)')
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicesim.assessment import CallAssessment, PrincipleVerdict
from voicesim.scorecard import Scorecard

MARKS = {True: "✓", False: "✗", None: "–"}
"""How a verdict is shown: met, not met, not expected."""


@dataclass(frozen=True)
class PrincipleNote:
    """The debrief for one principle (one check id)."""

    check_id: str
    principle: str
    """The principle's name in the session's language."""
    met: bool | None
    """The call's verdict; None when the principle was not expected in this call."""
    reply: int | None
    """The reply that met or broke it."""
    passed: int
    """Replies whose scorecard passed the check (the detail under the verdict)."""
    replies: int
    went_well: str | None
    """What went well, quoting the trainee; None when the principle was not met."""
    try_next: str | None
    """What to try next time (the verdict, then the coaching tip); None when met or not expected."""
    not_expected: str | None = None
    """Why the principle did not count in this call; None when it did."""


@dataclass(frozen=True)
class Debrief:
    lang: str
    outcome: str
    overall: int | None
    """The call's mark (CallAssessment.overall)."""
    notes: tuple[PrincipleNote, ...]
    """In CHECK_IDS order; empty when there was no reply."""
    closing: str
    """A closing sentence for the outcome, in the spirit of the source text."""


@functools.cache
def wording(lang: str) -> dict[str, Any]:
    """data/debrief/<lang>.toml, English when the language has no file yet."""
    folder = Path(__file__).parent / "data" / "debrief"
    path = folder / f"{lang}.toml"
    if not path.is_file():
        path = folder / "en.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def build_debrief(cards: Sequence[Scorecard], call: CallAssessment, *, outcome: str) -> Debrief:
    """Debrief a call from its replies' scorecards (in reply order) and its assessment."""
    text = wording(call.lang)
    notes = tuple(_note(v, cards, text) for v in call.verdicts) if cards else ()
    return Debrief(lang=call.lang, outcome=outcome, overall=call.overall, notes=notes,
                   closing=text["closing"].get(outcome, ""))


def _note(verdict: PrincipleVerdict, cards: Sequence[Scorecard], text: dict[str, Any]) -> PrincipleNote:
    results = [card.checks[verdict.check_id] for card in cards if verdict.check_id in card.checks]
    return PrincipleNote(
        check_id=verdict.check_id,
        principle=text["principles"].get(verdict.check_id, verdict.check_id),
        met=verdict.met,
        reply=verdict.reply,
        passed=sum(1 for r in results if r.passed),
        replies=len(results),
        went_well=verdict.why if verdict.met is True else None,
        try_next=_try_next(verdict, cards) if verdict.met is False else None,
        not_expected=verdict.why if verdict.met is None else None,
    )


def _try_next(verdict: PrincipleVerdict, cards: Sequence[Scorecard]) -> str:
    """The verdict, then the scorecard's coaching tip: what happened, then how to do it."""
    card = cards[(verdict.reply or len(cards)) - 1]
    tip = card.checks[verdict.check_id].tip if verdict.check_id in card.checks else ""
    return f"{verdict.why} {tip}".strip()


def debrief_to_json(debrief: Debrief) -> dict[str, Any]:
    """For session.json."""
    return {
        "notes": [
            {"check_id": n.check_id, "principle": n.principle, "met": n.met, "reply": n.reply, "passed": n.passed,
             "replies": n.replies, "went_well": n.went_well, "try_next": n.try_next, "not_expected": n.not_expected}
            for n in debrief.notes
        ],
        "closing": debrief.closing,
    }


def format_debrief(debrief: Debrief) -> list[str]:
    """Plain text lines for the terminal."""
    phrases = wording(debrief.lang)["phrases"]
    if not debrief.notes:
        return [phrases["title"], "  " + phrases["no_replies"]]
    lines = [phrases["title"]]
    for note in debrief.notes:
        lines.append(f"  {MARKS[note.met]} {note.principle} ({note.passed}/{note.replies})")
        if note.went_well:
            lines.append(f"    + {phrases['went_well']}: {note.went_well}")
        if note.try_next:
            lines.append(f"    > {phrases['try_next']}: {note.try_next}")
        if note.not_expected:
            lines.append(f"    - {phrases['not_expected']}: {note.not_expected}")
    if debrief.closing:
        lines.append("  " + debrief.closing)
    return lines


def verdict_column(note: PrincipleNote, phrases: dict[str, str]) -> str:
    """Where a verdict was decided, for the end screen: 'reply 2', 'every reply', 'never', 'not expected'."""
    if note.met is None:
        return phrases["not_needed"]
    if note.reply is not None:
        return phrases["in_reply"].format(reply=note.reply)
    return phrases["every_reply"] if note.met else phrases["never"]
