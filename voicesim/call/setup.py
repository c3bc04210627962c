"""What a call starts from and what it leaves behind: CallSetup, CallResult, and finishing the call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicesim.assessment import CallAssessment, ScenarioFacts, assess, assessment_json, principles_json, turn_context
from voicesim.debrief import Debrief, build_debrief, debrief_to_json, format_debrief, wording
from voicesim.liveview import LiveView
from voicesim.scenario import Scenario
from voicesim.session import Outcome, PackRef, Session, SessionMeta

if TYPE_CHECKING:
    from voicesim.call.rehear import Rehearer


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
    judge: Any = field(default=None, repr=False)
    """The learned layer of the text checks (voicesim.learned.load_judge); None: the lexicon alone."""
    second_ear: Any = field(default=None, repr=False)
    """The loaded Whisper model that hears each reply again (voicesim.call.rehear); None: Vosk only."""
    second_pass_off: str | None = None
    """Why there is no second pass, said once on the live view; None when it is on."""
    benchmark: PackRef | None = None
    """The benchmark pack call this is (voicesim.packs), recorded in the session."""

    @classmethod
    def prepare(cls, scenario_id: str, *, lang: str | None = None, seed: int = 0, trainee: str = "trainee",
                model_path: str | None = None, second_pass: bool = True) -> CallSetup:
        """Load the scenario, the Vosk model, the language pack and (when it can run) the second pass.

        VoicesimError names what is missing; a second pass that cannot run is only noted.
        """
        from voicesim.asr import load_model
        from voicesim.call.rehear import choose_ear
        from voicesim.language import load_language
        from voicesim.learned import load_judge
        from voicesim.models import resolve_model_path
        from voicesim.scenario import find_scenario

        scenario = find_scenario(scenario_id, lang)
        folder = resolve_model_path(scenario.lang, model_path)
        ear, off = choose_ear(scenario.lang, second_pass)
        return cls(scenario=scenario, lang=scenario.lang, seed=seed, trainee=trainee,
                   model=load_model(folder), model_name=Path(folder).name, pack=load_language(scenario.lang),
                   judge=load_judge(scenario.lang), second_ear=ear, second_pass_off=off)

    def without_second_pass(self, why: str = "off (--no-second-pass)") -> CallSetup:
        """The same call heard by Vosk only."""
        return replace(self, second_ear=None, second_pass_off=why)

    def meta(self, mode: str) -> SessionMeta:
        from voicesim.scenario import scenario_version

        version = self.scenario.version or scenario_version(self.scenario.path)
        return SessionMeta(scenario_id=self.scenario.id, scenario_version=version, lang=self.lang,
                           model=self.model_name, seed=self.seed, trainee=self.trainee, mode=mode,
                           pack=self.benchmark)


@dataclass(frozen=True)
class CallResult:
    """How a call went; everything else is in the session folder."""

    session_dir: Path
    outcome: Outcome
    turns: int
    overall: int | None
    """The call's mark from its assessment, 0-100; None without replies."""
    debrief: Debrief
    latencies_s: tuple[float, ...] = ()
    """End-of-turn latency of each answered turn (live calls only)."""
    assessment: CallAssessment | None = None
    """The verdict per principle over the whole call."""

    def to_json(self) -> dict[str, Any]:
        """The --json contract of `voicesim practice`."""
        principles = principles_json(self.assessment) if self.assessment else {}
        return {"session_dir": str(self.session_dir), "outcome": self.outcome.value, "turns": self.turns,
                "overall": self.overall, "principles": principles}


def finish_call(setup: CallSetup, session: Session, view: LiveView, outcome: Outcome,
                latencies: Sequence[float] = (), rehearer: Rehearer | None = None,
                wait_s: float | None = None) -> CallResult:
    """Judge the call as a whole (voicesim.assessment), write verdicts and debrief into the session, show them.

    With a `rehearer`, the turns first get their final words: the second pass's where it
    finished (waiting up to `wait_s`, None: for all), Vosk's elsewhere.
    """
    from voicesim.assessment import load_rules

    if rehearer is not None:
        try:
            session.revise_turns(rehearer.final_turns(session.turns, view, wait_s))
        finally:
            rehearer.close()
    cards = [t.scorecard for t in session.turns]
    # The customer's stage per turn is read the same way from a live call as from a stored session.json.
    contexts = [turn_context(t) for t in session.data["turns"]]
    call = assess(cards, contexts, ScenarioFacts.of(setup.scenario), load_rules(), wording(setup.lang)["verdicts"])
    debrief = build_debrief(cards, call, outcome=outcome.value)
    session.finish(outcome, call.overall, debrief_to_json(debrief), assessment_json(call))
    view.scorecard(debrief)
    view.lines(format_debrief(debrief))
    view.notice(f"Session saved in {session.folder}")
    view.close()
    return CallResult(session.folder, outcome, len(session.turns), call.overall, debrief, tuple(latencies), call)
