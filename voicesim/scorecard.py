"""Values of the scoring stage: check results and the scorecard (the JSON contract in docs/scorecard.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

CHECK_IDS = (
    "understanding",
    "not_personal",
    "targeted_question",
    "written_agreement",
    "apology",
    "calm_tone",
)
"""Public check ids, in contract order; they never change."""


@dataclass(frozen=True)
class Evidence:
    """The trainee's words that decided a check."""

    text: str
    start_s: float | None = None
    """None for typed text."""
    end_s: float | None = None


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    passed: bool
    score: float
    """0–1."""
    evidence: tuple[Evidence, ...] = ()
    tip: str = ""
    """Coaching tip in the session's language."""
    reason: str = ""
    """Why it passed or failed, in plain words (not part of the public JSON)."""


@dataclass(frozen=True)
class Scorecard:
    lang: str
    transcript: str
    checks: dict[str, CheckResult]
    """Keyed by check id, in CHECK_IDS order."""
    tone: dict[str, float | str | None] = field(default_factory=dict)
    """Tone metrics for the JSON "tone" object; text input has only words_per_minute=None etc."""
    overall: int = 0
    """0–100."""
    notes: tuple[str, ...] = ()
    """Reasons the card is limited, e.g. 'no speech found'."""
