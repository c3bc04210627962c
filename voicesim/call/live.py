"""The live call on a streaming line: turn-taking by voice, barge-in, silence prompts, until the call ends."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from voicesim.audio import SAMPLE_RATE, Audio, int16_to_float
from voicesim.call.mic import Microphone, StreamMicrophone
from voicesim.call.prefetch import Prefetcher
from voicesim.call.rehear import WAIT_S, Rehearer, announce
from voicesim.call.setup import CallResult, CallSetup, finish_call
from voicesim.call.turn import Reply, answer_turn, fork, score
from voicesim.call.voice import customer_voice, scenario_lines, texts
from voicesim.customer import Customer, TurnEvents
from voicesim.errors import VoicesimError
from voicesim.liveview import LiveView
from voicesim.session import (
    CustomerSpeech,
    FalseStart,
    Outcome,
    Session,
    SessionStore,
    SilencePrompt,
    TurnRecord,
    round_s,
)
from voicesim.transcript import Transcript
from voicesim.turns import TurnDetector, TurnEvent, TurnEventKind, TurnSettings

if TYPE_CHECKING:
    from voicesim.headset import Line

TALKS_OVER_FROM = "angry"
"""Anger level from which the customer talks over a trainee who interrupts; below it they stop and listen."""
MAX_TURN_S = 60.0
"""A reply that runs this long is closed as a turn anyway, so a stuck microphone cannot hang the call."""


class _CtrlC:
    """Ctrl-C (SIGINT) during a call, remembered, so it ends the call even when its KeyboardInterrupt is lost.

    Python raises KeyboardInterrupt wherever the main thread is when it runs the
    handler. Inside a finalizer (``__del__``, a weakref callback) or a C callback that
    exception is printed as "Exception ignored" and dropped, and the call would run on
    until the customer hangs up. While the call runs, this handler raises it as
    Python's own does and also sets :attr:`pressed`, which the loop checks at every
    microphone chunk. A Ctrl-C ignored on purpose (SIG_IGN, e.g. a background job) stays ignored.
    """

    def __init__(self) -> None:
        self.pressed = False
        self._previous: object = None
        """The SIGINT handler to put back; None while ours is not installed."""

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():  # only there can a handler be set
            previous = signal.getsignal(signal.SIGINT)
            if previous is not signal.SIG_IGN:
                signal.signal(signal.SIGINT, self._on_sigint)
                self._previous = signal.SIG_DFL if previous is None else previous  # None: set outside Python
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_sigint(self, signum: int, frame: object) -> None:
        self.pressed = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C was pressed, even if the first one was swallowed on the way."""
        if self.pressed:
            raise KeyboardInterrupt


@dataclass
class _LiveTurn:
    """What the live loop knows about the trainee's turn in progress."""

    line: str
    """The customer's line this turn answers."""
    start_pos: int = 0
    """Stream sample where the turn began (the recognizer's clock for its first segment)."""
    heard: tuple[float, float] = (0.0, 0.0)
    """When the customer's line started and ended, on the recording's clock."""
    audio: list[np.ndarray] = field(default_factory=list)
    """Microphone chunks since start_pos."""
    segments: list[tuple[float, Transcript]] = field(default_factory=list)
    """The turn's words, one segment per pause: (offset from start_pos in s, words)."""
    interruptions: int = 0
    """Times the trainee talked over the customer."""
    false_starts: list[FalseStart] = field(default_factory=list)
    """Times the customer began to answer in a pause and broke off because the trainee went on."""
    prompts: list[SilencePrompt] = field(default_factory=list)
    speech_start_s: float | None = None

    def words(self) -> Transcript:
        """All the turn's words, times from start_pos."""
        words = tuple(
            replace(w, start_s=round_s(w.start_s + off), end_s=round_s(w.end_s + off))
            for off, seg in self.segments
            for w in seg.words
        )
        return Transcript(" ".join(w.word for w in words), words, round_s(sum(len(a) for a in self.audio) / SAMPLE_RATE))

    def notes(self) -> list[str]:
        """What happened besides the words, for the live view."""
        notes = []
        if self.interruptions:
            notes.append(f"talked over the customer x{self.interruptions}")
        if self.prompts:
            notes.append(f"silence prompt x{len(self.prompts)}")
        if self.false_starts:
            notes.append(f"customer started too early x{len(self.false_starts)}, not your interruption")
        return notes


@dataclass(frozen=True)
class _Answer:
    """The customer's answer to the turn as it stood at a pause, worked out while the hold runs."""

    transcript: Transcript
    customer: Customer
    """The forked customer who reacted; it becomes the call's customer if the answer is given."""
    reply: Reply
    record: TurnRecord
    line: Audio
    """The answer as the customer will say it (rendered, on the phone line)."""


@dataclass(frozen=True)
class _TurnSoFar:
    """The turn as it stood at a pause, copied on the loop thread so its answer can be worked out on another."""

    transcript: Transcript
    chunks: tuple[np.ndarray, ...]
    """The turn's microphone chunks so far (the loop only appends to the turn's list, never changes a chunk)."""
    customer: Customer
    """A fork of the call's customer, for this answer alone."""
    index: int
    """The turn's number in the session."""
    heard: CustomerSpeech
    offset_s: float
    response_delay_s: float | None
    interruptions: int
    prompts: tuple[SilencePrompt, ...]


class _Preparation:
    """The newest pause's answer, worked out on a thread of its own while the loop keeps reading the microphone.

    Only the newest pause counts: a newer one drops the job still waiting, and the answer
    of one already running is ignored. :meth:`take` hands the answer over for the
    turn's final words, if it is for exactly those words.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicesim-answer")
        self._job: tuple[_TurnSoFar, Callable[[_TurnSoFar], _Answer], Future[_Answer]] | None = None

    def start(self, so_far: _TurnSoFar, work: Callable[[_TurnSoFar], _Answer]) -> None:
        """Work out `work(so_far)` in the background, in place of any earlier job."""
        self.drop()
        self._job = (so_far, work, self._pool.submit(work, so_far))

    def take(self, transcript: Transcript) -> _Answer | None:
        """The answer prepared for exactly these words, else None.

        The answer is always the one worked out from the turn as it stood at that pause, as
        if the loop had worked it out there: waited for if running; worked out now, on the
        calling thread, if still waiting behind a stale job or if the background attempt failed
        (so an error surfaces here, as it would have).
        """
        job, self._job = self._job, None
        if job is None:
            return None
        so_far, work, future = job
        if so_far.transcript.words != transcript.words:
            future.cancel()
            return None
        if future.cancel():  # not started yet, behind a stale job: working it out now is sooner
            return work(so_far)
        try:
            return future.result()
        except Exception:
            return work(so_far)

    def drop(self) -> None:
        if self._job is not None:
            self._job[2].cancel()
            self._job = None

    def close(self) -> None:
        self.drop()
        self._pool.shutdown(wait=False, cancel_futures=True)


class LiveCall:
    """One call on a streaming line; :meth:`run` returns when the call has ended.

    The customer answers when the turn detector judges the trainee finished: at each
    pause the loop flushes Vosk and the detector weighs the words and the prosody into
    a hold (:mod:`voicesim.turns`). If the trainee still goes on within the first
    moments of that answer, the customer breaks off, nothing of that answer counts, the
    turn continues, and the false start is recorded as the customer's (never as the
    trainee's interruption). People prepare their answer while the other is still
    pausing; so does the call: at each pause a worker thread scores the reply so far and
    renders the customer's answer (:class:`_Preparation`) while the loop goes on reading the
    microphone, and when the hold ends the loop only has to play it.

    Time comes from the microphone (:mod:`voicesim.call.mic`): by default the line's
    input stream on the wall clock; a line on a manual clock can be its own microphone.

    Each accepted reply goes to the second pass (:mod:`voicesim.call.rehear`) once the
    customer's answer has started; the answer itself comes from Vosk's words. At the end
    the call waits up to `second_pass_wait_s` (wall clock) for the replies still being heard.

    Ctrl-C ends the call at whatever moment it comes (:class:`_CtrlC`); the session is
    saved with the outcome "interrupted".
    """

    def __init__(self, setup: CallSetup, line: Line, store: SessionStore, view: LiveView,
                 settings: TurnSettings = TurnSettings(), microphone: Microphone | None = None,
                 prefetch: bool = True, second_pass_wait_s: float = WAIT_S) -> None:
        from voicesim.asr import Recognizer

        self.setup = setup
        self.line = line
        self.store = store
        self.view = view
        self.settings = settings
        self.mic = microphone if microphone is not None else StreamMicrophone(line)
        self.detector = TurnDetector(settings, setup.lang)
        # The live view and the prefetch want fresh partial text; the words with timings
        # come from finish() anyway.
        self.recognizer = Recognizer(setup.model, partial_words=False)
        self.customer = Customer(setup.scenario, seed=setup.seed)
        self.prefetcher = Prefetcher(setup) if prefetch else None
        self.rehearer = Rehearer(setup, background=True)
        self.second_pass_wait_s = second_pass_wait_s
        self._pos = 0
        """Stream samples processed by the loop (the detector's and the recording's clock)."""
        self._rec_start = 0
        """Stream sample where the recognizer's current turn began."""
        self.latencies: list[float] = []
        self.breakdown: list[tuple[float, float]] = []
        """Per answered turn: (trailing silence waited, seconds from decision to the answer's start)."""
        self._partial = ""
        self._preparation = _Preparation()
        """The answer to the turn as it stood at the latest pause; used only if the words are still the same at the end."""
        self._ctrl_c = _CtrlC()

    def run(self) -> CallResult:
        session = self.store.create(self.setup.meta("live"))
        try:
            with session:
                try:
                    with self._ctrl_c:  # put back before the end of the call, whose own Ctrl-C skips the wait
                        self.mic.open()
                        outcome = self._converse(session)
                except KeyboardInterrupt:
                    outcome = Outcome.INTERRUPTED
                except VoicesimError as exc:
                    from voicesim.devices import AudioDeviceLostError

                    if not isinstance(exc, AudioDeviceLostError):
                        raise
                    self._stop_everything()
                    self._finish(session, Outcome.DEVICE_LOST)
                    raise VoicesimError(
                        f"{exc}; the call stopped there and the session so far is saved in {session.folder}"
                    ) from None
                self._stop_everything()
                return self._finish(session, outcome)
        finally:
            self._preparation.close()
            self.rehearer.close()
            self.mic.close()
            if self.prefetcher is not None:
                self.prefetcher.close()

    def _finish(self, session: Session, outcome: Outcome) -> CallResult:
        return finish_call(self.setup, session, self.view, outcome, self.latencies, self.rehearer,
                           self.second_pass_wait_s)

    def _stop_everything(self) -> None:
        try:
            self.line.stop_playback()
        except Exception:
            pass  # the device may be gone already; nothing is left to stop then
        self.mic.close()

    # --- the conversation ----------------------------------------------------------------

    def _warm_up(self) -> None:
        """Run scoring once before the call, so its first real use pays no imports or set-up."""
        noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.01
        score(self.setup, Transcript.from_text("i am sorry when did it start"), Audio(noise), 0, None)

    def _converse(self, session: Session) -> Outcome:
        announce(self.setup, self.view)
        self._warm_up()
        opening = self.customer.opening()
        turn = _LiveTurn(line=opening.text)
        self.view.customer(turn.line)
        start, audio, _ = self._start_line(session, texts(opening))
        if self.prefetcher is not None:
            self.prefetcher.warm(scenario_lines(self.setup.scenario))
        turn.heard = self._play_out(session, turn, start, audio)
        while True:
            end_event = self._listen(session, turn)
            if end_event is None:  # silence timeout: the customer prompts, the turn goes on
                reaction = self.customer.prompt_silence()
                turn.prompts.append(SilencePrompt(reaction.text, self.mic.received / SAMPLE_RATE))
                self.view.customer(reaction.text)
                self._play_out(session, turn, *self._start_line(session, texts(reaction))[:2])
                if reaction.ended:
                    return Outcome(reaction.outcome or Outcome.HUNG_UP)
                continue
            decided_at = self.mic.now()
            self._flush(turn)
            answer = self._answer(session, turn)
            self.detector.start_listening()
            customer, transcript, reply, record = answer.customer, answer.transcript, answer.reply, answer.record
            reaction = record.customer_answer
            start, audio, started_at = self._start_line(session, answer.line)
            latency = self._latency(end_event.speech_end_s, started_at)
            following = _LiveTurn(line=reaction.text, start_pos=self._pos)
            if self._trainee_goes_on(session, following, start):
                # A pause, not the end: the customer breaks off and the turn continues.
                turn.audio.extend(following.audio)
                turn.false_starts.append(FalseStart(round_s(start), round_s(self.mic.received / SAMPLE_RATE),
                                                    end_event.evidence))
                self.view.false_start()
                continue
            self.customer = customer
            record = replace(record, end_of_turn_latency_s=latency, end_of_turn=end_event.evidence,
                             false_starts=tuple(turn.false_starts))
            if latency is not None:
                self.latencies.append(latency)
                self.breakdown.append((round_s(end_event.at_s - end_event.speech_end_s), round_s(started_at - decided_at)))
            session.add_turn(record)  # on disk while the answer plays
            self.rehearer.submit(record, reply.audio)  # heard again while the customer answers
            self.view.trainee(transcript.text)
            self.view.turn_result(record.scorecard, turn.notes())
            self.view.customer(reaction.text)
            turn = following
            turn.heard = self._play_out(session, turn, start, audio)
            if reaction.ended:
                return Outcome(reaction.outcome or Outcome.TURN_LIMIT)

    def _so_far(self, session: Session, turn: _LiveTurn) -> _TurnSoFar:
        """The turn as it stands, copied (on the loop thread) for working out the answer."""
        self._partial = ""
        return _TurnSoFar(turn.words(), tuple(turn.audio), fork(self.customer), len(session.turns) + 1,
                          CustomerSpeech(turn.line, *turn.heard), turn.start_pos / SAMPLE_RATE, self._delay(turn),
                          turn.interruptions, tuple(turn.prompts))

    def _work_out(self, so_far: _TurnSoFar) -> _Answer:
        """Score the reply as it stood, let the fork of the customer react, and render what they will say.

        Reads only `so_far` and the call's setup, so it may run on any thread.
        """
        transcript = so_far.transcript
        audio = Audio(int16_to_float(np.concatenate(so_far.chunks))) if so_far.chunks else Audio.silence(0)
        reply = Reply(transcript, audio, so_far.offset_s, silent=not transcript.words,
                      response_delay_s=so_far.response_delay_s, interruptions=so_far.interruptions,
                      silence_prompts=so_far.prompts)
        record = answer_turn(self.setup, so_far.customer, so_far.index, so_far.heard, reply)
        return _Answer(transcript, so_far.customer, reply, record,
                       customer_voice(self.setup, texts(record.customer_answer)))

    def _answer(self, session: Session, turn: _LiveTurn) -> _Answer:
        """The answer prepared at the pause, if the words are still the same (the silence since added none)."""
        prepared = self._preparation.take(turn.words())
        return prepared if prepared is not None else self._work_out(self._so_far(session, turn))

    def _flush(self, turn: _LiveTurn) -> None:
        """Close the recognizer's segment (no partial lag: the last word is known now) and keep it in the turn."""
        turn.segments.append(((self._rec_start - turn.start_pos) / SAMPLE_RATE, self.recognizer.finish()))
        self._rec_start = self._pos

    # --- speaking ---------------------------------------------------------------------------

    def _start_line(self, session: Session, lines: Sequence[str] | Audio) -> tuple[float, Audio, float]:
        """Start the customer speaking (lines, or their audio rendered already); returns (start in the
        recording, the audio, clock time it started)."""
        audio = lines if isinstance(lines, Audio) else customer_voice(self.setup, lines)
        self.line.play_async(audio)
        started_at = self.mic.now()
        start = session.recording.schedule_customer(audio.samples, self.mic.received / SAMPLE_RATE)
        return start, audio, started_at

    def _latency(self, speech_end_s: float | None, started_at: float) -> float | None:
        """End-of-turn latency: the trainee's last voiced sample (as it arrived) to the answer's start."""
        if speech_end_s is None:
            return None
        spoken_at = self.mic.arrived_at(int(round(speech_end_s * SAMPLE_RATE)))
        return None if spoken_at is None else round_s(started_at - spoken_at)

    def _trainee_goes_on(self, session: Session, following: _LiveTurn, start: float) -> bool:
        """Watch the first moments of the answer: True (and the customer stopped) if the trainee speaks on."""
        until = start + self.settings.barge_in_grace_s
        while self.line.is_playing and self._pos / SAMPLE_RATE < until:
            for event in self._pump(session, following, customer_playing=True):
                if event.kind == TurnEventKind.SPEECH_START:
                    self.line.stop_playback()
                    session.recording.cut_customer(self.mic.received / SAMPLE_RATE)
                    return True
        return False

    def _play_out(self, session: Session, turn: _LiveTurn, start: float, audio: Audio) -> tuple[float, float]:
        """Run the loop while the customer speaks, handling barge-in per persona; returns (start_s, end_s)."""
        if not self.detector.heard_speech:
            self.detector.start_listening()
        if self.prefetcher is not None:
            self.prefetcher.idle.set()
        try:
            return self._play_through(session, turn, start, audio)
        finally:
            if self.prefetcher is not None:
                self.prefetcher.idle.clear()

    def _play_through(self, session: Session, turn: _LiveTurn, start: float, audio: Audio) -> tuple[float, float]:
        while self.line.is_playing:
            for event in self._pump(session, turn, customer_playing=True):
                if event.kind == TurnEventKind.BARGE_IN:
                    turn.interruptions += 1
                    if self.customer_yields():
                        self.line.stop_playback()
                        cut = self.mic.received / SAMPLE_RATE
                        session.recording.cut_customer(cut)
                        self.view.customer("(stops talking)", interrupted=True)
                        return start, round_s(cut)
        if not self.detector.heard_speech:
            self.detector.start_listening()  # the silence timeout counts from the end of the line
        return start, round_s(start + audio.duration_s)

    def customer_yields(self) -> bool:
        """Below TALKS_OVER_FROM the customer stops when talked over; angrier, they talk on."""
        return self.customer.state.anger < self.customer.rules.levels[TALKS_OVER_FROM]

    # --- listening --------------------------------------------------------------------------

    def _listen(self, session: Session, turn: _LiveTurn) -> TurnEvent | None:
        """Run until the trainee's turn ends (-> the END_OF_TURN event) or the silence timeout (-> None)."""
        while True:
            for event in self._pump(session, turn, customer_playing=False):
                if event.kind == TurnEventKind.SILENCE_TIMEOUT:
                    return None
                if event.kind == TurnEventKind.END_OF_TURN:
                    return event
                if event.kind == TurnEventKind.PAUSE:
                    self._flush(turn)
                    words = turn.words().words
                    since_last_pause = len(turn.segments[-1][1].words)
                    self.detector.judge(words, len(words) - since_last_pause if since_last_pause else 0)
                    end = self.detector.pending_end()
                    if end is not None:
                        return end
                    # Worked out in the background: the loop must go on reading the microphone and
                    # hear the trainee resume.
                    self._preparation.start(self._so_far(session, turn), self._work_out)
            if self.detector.heard_speech and (self._pos - turn.start_pos) / SAMPLE_RATE > MAX_TURN_S:
                self.detector.start_listening()
                return TurnEvent(TurnEventKind.END_OF_TURN, self._pos / SAMPLE_RATE, None)

    def _pump(self, session: Session, turn: _LiveTurn, customer_playing: bool) -> list[TurnEvent]:
        """Take the next microphone chunk into recording, detector and recognizer; return turn events."""
        from voicesim.asr import Final, Partial

        self._ctrl_c.check()
        chunk = self.mic.read()
        if chunk is None:
            return []
        session.recording.add_trainee(int16_to_float(chunk))
        turn.audio.append(chunk)
        self._pos += len(chunk)
        events = self.detector.feed(chunk, customer_playing=customer_playing)
        result = self.recognizer.feed(chunk)
        if isinstance(result, Partial):
            self._partial = result.text
        elif isinstance(result, Final):
            self.detector.note_final(result.transcript.text)
        for event in events:
            if event.kind == TurnEventKind.SPEECH_START and turn.speech_start_s is None:
                turn.speech_start_s = event.at_s
        if self.detector.heard_speech and self.prefetcher is not None:
            events_so_far = TurnEvents(interrupted=turn.interruptions, response_delay_s=self._delay(turn))
            self.prefetcher.guess(self.customer, self._partial, events_so_far, self.mic.now())
        self.view.listening(self.detector.level_dbfs, self._partial)
        return events

    def _delay(self, turn: _LiveTurn) -> float | None:
        """From the end of the customer's line to the trainee's first speech (0 when they talked over it)."""
        if turn.speech_start_s is None:
            return None
        return round_s(max(0.0, turn.speech_start_s - turn.heard[1]))


def run_live(setup: CallSetup, line: Line, store: SessionStore, view: LiveView | None = None,
             settings: TurnSettings = TurnSettings(), microphone: Microphone | None = None,
             prefetch: bool = True, second_pass_wait_s: float = WAIT_S) -> CallResult:
    """The call on a streaming line (a headset), until it ends or Ctrl-C."""
    return LiveCall(setup, line, store, view or LiveView(), settings, microphone, prefetch, second_pass_wait_s).run()
