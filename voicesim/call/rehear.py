"""The second pass inside a call: each reply heard again by Whisper, for the turn's final words and scorecard.

Vosk hears the live call, so the customer can react at once; the customer's reaction
always comes from Vosk's words. While the customer answers, a :class:`Rehearer` runs
Whisper (:mod:`voicesim.second_pass`, one thread, one core) over the finished reply
and scores what it heard. When the call ends, :meth:`Rehearer.final_turns` gives the
turns with those words and scorecards (the live ones kept beside them), so the
session, the debrief's quotes and the call's assessment use the truer words.

>>> rehearer = Rehearer(setup, background=True)               # doctest: +SKIP
>>> rehearer.submit(record, reply_audio)                       # doctest: +SKIP
>>> turns = rehearer.final_turns(session.turns, view, wait_s=5.0)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from voicesim.audio import Audio
from voicesim.scorecard import Scorecard
from voicesim.session import SecondPassState, TraineeSpeech, TurnRecord
from voicesim.transcript import Transcript

if TYPE_CHECKING:
    from voicesim.call.setup import CallSetup
    from voicesim.liveview import LiveView

OFF_ENV = "VOICESIM_SECOND_PASS"
"""Set to 0, off or no for Vosk only (what --no-second-pass does)."""
WAIT_S = 5.0
"""How long the end of a live call waits for unfinished second passes before it keeps Vosk's words."""
MIN_AUDIO_S = 0.1
"""Shorter replies (nothing recorded) are not heard again: there is nothing for Whisper to hear."""
POLL_S = 0.1
"""How often the progress line is redrawn while the end of the call waits."""


def choose_ear(lang: str, wanted: bool = True) -> tuple[Any, str | None]:
    """(the loaded Whisper model, None) when the second pass can run for `lang`, else (None, why it is off)."""
    from voicesim import second_pass
    from voicesim.errors import VoicesimError

    if not wanted:
        return None, "off (--no-second-pass)"
    if os.environ.get(OFF_ENV, "").strip().lower() in ("0", "off", "no", "false"):
        return None, f"off (${OFF_ENV}={os.environ[OFF_ENV]})"
    if not second_pass.is_installed():
        return None, f"off: Whisper is not installed; {second_pass.INSTALL_HINT}"
    try:
        ear = second_pass.load_model()
    except VoicesimError as exc:
        return None, f"off: {exc}"
    if not ear.supports(lang):
        return None, f"off: the Whisper model {ear.name} does not hear --lang {lang}"
    return ear, None


def announce(setup: CallSetup, view: LiveView) -> None:
    """Say once, at the start of the call, that the second pass is off and why."""
    if setup.second_pass_off:
        view.notice(f"Second pass {setup.second_pass_off}; the debrief quotes the live (Vosk) words.")


@dataclass(frozen=True)
class Rehearing:
    """What the second pass made of one reply."""

    transcript: Transcript
    """Whisper's words; times count from the reply's start, as Vosk's do."""
    scorecard: Scorecard
    """The reply scored on those words (same audio, interruptions and delay as the live scorecard)."""
    wall_s: float = 0.0
    """How long hearing and scoring took (for scripts/bench_latency; not recorded in the session)."""


class Rehearer:
    """Hears each finished reply again, on one background thread (live) or at once (scripted, deterministic)."""

    def __init__(self, setup: CallSetup, background: bool) -> None:
        self.setup = setup
        self.ear = setup.second_ear
        self._jobs: dict[int, Future[Rehearing]] = {}
        self.waited_s = 0.0
        """How long the end of the call waited for the second pass."""
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="second-pass") if self.ear and background else None

    @property
    def on(self) -> bool:
        return self.ear is not None

    def submit(self, record: TurnRecord, audio: Audio) -> None:
        """Start hearing `record`'s reply again (a turn index submitted twice keeps the last)."""
        if self.ear is None or audio.duration_s < MIN_AUDIO_S or not record.trainee.transcript.words:
            return  # a silent reply stays silent: Whisper tends to invent words ("you") in silence
        if self._pool is not None:
            self._jobs[record.index] = self._pool.submit(self._rehear, record, audio)
            return
        done: Future[Rehearing] = Future()
        try:
            done.set_result(self._rehear(record, audio))
        except Exception as exc:  # noqa: BLE001  (a failed second pass leaves Vosk's words, it never ends the call)
            done.set_exception(exc)
        self._jobs[record.index] = done

    def _rehear(self, record: TurnRecord, audio: Audio) -> Rehearing:
        from voicesim import second_pass
        from voicesim.call.turn import score

        began = time.perf_counter()
        transcript = second_pass.transcribe(audio, self.setup.lang, self.ear, second_pass.IN_CALL)
        card = score(self.setup, transcript, audio, record.interruptions, record.response_delay_s)
        return Rehearing(transcript, card, time.perf_counter() - began)

    def heard(self) -> list[Rehearing]:
        """The replies heard again so far, in turn order."""
        return [job.result() for _, job in sorted(self._jobs.items())
                if job.done() and not job.cancelled() and job.exception() is None]

    def final_turns(self, turns: Sequence[TurnRecord], view: LiveView, wait_s: float | None) -> list[TurnRecord]:
        """`turns` with the second pass's words where it finished within `wait_s` (None: wait for all)."""
        self._wait(view, wait_s)
        return [self._final(t) for t in turns]

    def _wait(self, view: LiveView, wait_s: float | None) -> None:
        jobs = list(self._jobs.values())
        began = time.perf_counter()
        deadline = None if wait_s is None else time.monotonic() + wait_s
        try:
            while True:
                done = sum(j.done() for j in jobs)
                if done == len(jobs) or (deadline is not None and time.monotonic() >= deadline):
                    break
                view.second_pass_progress(done, len(jobs))
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            pass  # Ctrl-C while waiting: the debrief comes now, with Vosk's words where Whisper is not done
        self.waited_s = time.perf_counter() - began
        if jobs:
            view.second_pass_progress(sum(j.done() for j in jobs), len(jobs), final=True)

    def _final(self, record: TurnRecord) -> TurnRecord:
        job = self._jobs.get(record.index)
        if self.ear is None:
            return replace(record, second_pass=SecondPassState.OFF)
        if job is None:
            return replace(record, second_pass=SecondPassState.NO_SPEECH)
        if not job.done():
            return replace(record, second_pass=SecondPassState.UNFINISHED)
        if job.exception() is not None:
            return replace(record, second_pass=SecondPassState.FAILED)
        heard = job.result()
        final = TraineeSpeech(heard.transcript, record.trainee.offset_s, engine="whisper", model=self.ear.name)
        return replace(record, trainee=final, scorecard=heard.scorecard, heard_live=record.trainee,
                       live_scorecard=record.scorecard, second_pass=SecondPassState.DONE)

    def close(self) -> None:
        """Stop the worker; a reply still being heard finishes in the background and is dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
