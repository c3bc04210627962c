"""The end-of-call debrief: per principle, what went well and what to try next time.

Pure: it reads the per-turn scorecards (the JSON shape of the score contract, as
stored in session.json) and quotes the trainee's own words from their evidence.
Wording lives in ``data/debrief/<lang>.toml``.

>>> card = {"checks": {"apology": {"passed": True, "score": 1.0, "tip": "",
...          "evidence": [{"text": "i am so sorry", "start_s": 0.2, "end_s": 0.9}]}}}
>>> d = build_debrief([card], outcome="resolved", lang="en")
>>> d.notes[0].check_id, d.notes[0].went_well
('apology', 'In reply 1 you said “i am so sorry”.')

Rule: ``not_personal`` and ``calm_tone`` must hold in every reply (one slip is worth
a "next time", quoted); the others count once they happen in the call (a question
or an apology is not needed in every reply). A principle not met gets its tip.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicesim.scorecard import CHECK_IDS


@dataclass(frozen=True)
class PrincipleNote:
    """The debrief for one principle (one check id)."""

    check_id: str
    principle: str
    """The principle's name in the session's language."""
    passed: int
    """Replies in which the check passed."""
    replies: int
    went_well: str | None
    """What went well, quoting the trainee; None when nothing did."""
    try_next: str | None
    """What to try next time; None when the principle was met."""


@dataclass(frozen=True)
class Debrief:
    lang: str
    outcome: str
    notes: tuple[PrincipleNote, ...]
    """In CHECK_IDS order, only checks the scorecards had."""
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


def build_debrief(cards: Sequence[dict[str, Any]], *, outcome: str, lang: str) -> Debrief:
    """Debrief a call from its per-reply scorecards (score-contract dicts), in reply order."""
    text = wording(lang)
    notes = tuple(
        _note(check_id, cards, text)
        for check_id in CHECK_IDS
        if any(check_id in card.get("checks", {}) for card in cards)
    )
    return Debrief(lang=lang, outcome=outcome, notes=notes, closing=text["closing"].get(outcome, ""))


def _note(check_id: str, cards: Sequence[dict[str, Any]], text: dict[str, Any]) -> PrincipleNote:
    phrases = text["phrases"]
    results = [(i, card["checks"][check_id]) for i, card in enumerate(cards, 1) if check_id in card.get("checks", {})]
    good = [(i, r) for i, r in results if r.get("passed")]
    bad = [(i, r) for i, r in results if not r.get("passed")]
    every = check_id in text.get("every_reply", [])
    went_well = _went_well(good, len(results), every, phrases)
    try_next = None
    if bad and (every or not good):
        turn, result = bad[-1]
        slip = _quote(result)
        lead = phrases["slipped"].format(turn=turn, quote=slip) + " " if slip else ""
        try_next = (lead + result.get("tip", "")).strip() or None
    return PrincipleNote(
        check_id=check_id,
        principle=text["principles"].get(check_id, check_id),
        passed=len(good),
        replies=len(results),
        went_well=went_well,
        try_next=try_next,
    )


def _went_well(good: list[tuple[int, dict]], n: int, every: bool, phrases: dict[str, str]) -> str | None:
    if not good:
        return None
    # Quote the strongest reply; ties go to the earliest, so the same call gives the same words.
    turn, best = max(good, key=lambda ir: (ir[1].get("score", 0.0), -ir[0]))
    quote = _quote(best)
    if quote and not every:
        return phrases["quote"].format(turn=turn, quote=quote)
    if len(good) == n:
        return phrases["kept_every_reply"].format(n=n)
    return phrases["kept_some_replies"].format(k=len(good), n=n)


def _quote(result: dict[str, Any]) -> str | None:
    evidence = result.get("evidence") or []
    return evidence[0].get("text") if evidence else None


def debrief_to_json(debrief: Debrief) -> dict[str, Any]:
    """For session.json."""
    return {
        "notes": [
            {"check_id": n.check_id, "principle": n.principle, "passed": n.passed, "replies": n.replies,
             "went_well": n.went_well, "try_next": n.try_next}
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
        lines.append(f"  {note.principle} ({note.passed}/{note.replies})")
        if note.went_well:
            lines.append(f"    + {phrases['went_well']}: {note.went_well}")
        if note.try_next:
            lines.append(f"    > {phrases['try_next']}: {note.try_next}")
    if debrief.closing:
        lines.append("  " + debrief.closing)
    return lines
