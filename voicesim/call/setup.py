"""What a call starts from and what it leaves behind: CallSetup, CallResult, and finishing the call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicesim.debrief import Debrief, build_debrief, debrief_to_json, format_debrief
from voicesim.liveview import LiveView
from voicesim.scenario import Scenario
from voicesim.session import Outcome, Session, SessionMeta, TurnRecord


@dataclass(frozen=True)
class CallSetup:
    """Everything a call needs before it starts (each part loaded and checked)."""

    scenario: Scenario
    lang: str
    seed: int
    """Picks among the customer's line variants: same seed, same call."""
    trainee: str
    model: Any = field(repr=False)
    """The loaded vosk.Model."""
    model_name: str
    """The model folder's name, which carries its version (e.g. vosk-model-small-en-us-0.15)."""
    pack: Any = field(repr=False)
    """The scoring language pack (voicesim.language.load_language)."""

    @classmethod
    def prepare(cls, scenario_id: str, *, lang: str | None = None, seed: int = 0, trainee: str = "trainee",
                model_path: str | None = None) -> CallSetup:
        """Load the scenario, the Vosk model and the language pack; VoicesimError names what is missing."""
        from voicesim.asr import load_model
        from voicesim.language import load_language
        from voicesim.models import resolve_model_path
        from voicesim.scenario import find_scenario

        scenario = find_scenario(scenario_id, lang)
        folder = resolve_model_path(scenario.lang, model_path)
        return cls(scenario=scenario, lang=scenario.lang, seed=seed, trainee=trainee,
                   model=load_model(folder), model_name=Path(folder).name, pack=load_language(scenario.lang))

    def meta(self, mode: str) -> SessionMeta:
        from voicesim.scenario import scenario_version

        version = self.scenario.version or scenario_version(self.scenario.path)
        return SessionMeta(scenario_id=self.scenario.id, scenario_version=version, lang=self.lang,
                           model=self.model_name, seed=self.seed, trainee=self.trainee, mode=mode)


@dataclass(frozen=True)
class CallResult:
    """How a call went; everything else is in the session folder."""

    session_dir: Path
    outcome: Outcome
    turns: int
    overall: int | None
    """Mean of the replies' overall scores, 0-100; None without replies."""
    debrief: Debrief
    latencies_s: tuple[float, ...] = ()
    """End-of-turn latency of each answered turn (live calls only)."""

    def to_json(self) -> dict[str, Any]:
        """The --json contract of `voicesim practice`."""
        return {"session_dir": str(self.session_dir), "outcome": self.outcome.value, "turns": self.turns,
                "overall": self.overall}


def call_overall(turns: Sequence[TurnRecord]) -> int | None:
    """The call's score: the mean of its replies' overall scores, rounded half up."""
    scores = [t.scorecard.overall for t in turns]
    return int(sum(scores) / len(scores) + 0.5) if scores else None


def finish_call(setup: CallSetup, session: Session, view: LiveView, outcome: Outcome,
                latencies: Sequence[float] = ()) -> CallResult:
    """Score the call as a whole, write the debrief into the session, show it."""
    # The debrief and the end screen read the scorecards as session.json holds them.
    cards = [t["scorecard"] for t in session.data["turns"]]
    overall = call_overall(session.turns)
    debrief = build_debrief(cards, outcome=outcome.value, lang=setup.lang)
    session.finish(outcome, overall, debrief_to_json(debrief))
    view.scorecard(cards, outcome.value, overall)
    view.lines(format_debrief(debrief))
    view.notice(f"Session saved in {session.folder}")
    view.close()
    return CallResult(session.folder, outcome, len(session.turns), overall, debrief, tuple(latencies))
