"""The practice call: customer, voice, line, ASR, scoring and session, turn by turn.

Two ways to run the same call:

* :func:`run_live` on any :class:`~voicesim.headset.Line` that streams a microphone
  (the :class:`~voicesim.headset.Headset`, or :class:`PacedFileLine`, which feeds reply
  files at real-time pace): turn-taking by voice (:mod:`voicesim.turns`), barge-in,
  silence prompts, live partial transcript.
* :func:`run_scripted` with the trainee's replies as recordings, one per turn: no
  device, no clock, the same files give the same session.json (apart from timestamps).

>>> from voicesim.call import CallSetup, run_scripted
>>> from voicesim.session import SessionStore
>>> setup = CallSetup.prepare("late-delivery", lang="en", seed=1, trainee="sam")   # doctest: +SKIP
>>> result = run_scripted(setup, ["reply1.wav", "reply2.wav"], SessionStore("/tmp/s"))  # doctest: +SKIP
>>> result.outcome, result.turns                                                    # doctest: +SKIP
('resolved', 2)

Latency: while the trainee speaks, the customer's likely answers are worked out from
the live partial transcript and synthesized in the background (:class:`Prefetcher`),
so when the turn ends the answer is usually already rendered and plays at once.
"""

from __future__ import annotations

import copy
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.customer import Customer, CustomerReaction, TurnEvents
from voicesim.debrief import Debrief, build_debrief, debrief_to_json, format_debrief
from voicesim.errors import VoicesimError
from voicesim.liveview import LiveView
from voicesim.scenario import Scenario
from voicesim.session import DEVICE_LOST, INTERRUPTED, Session, SessionMeta, SessionStore
from voicesim.transcript import Transcript, Word
from voicesim.turns import (
    BARGE_IN,
    END_OF_TURN,
    SILENCE_TIMEOUT,
    SPEECH_START,
    TurnDetector,
    TurnSettings,
    speech_bounds,
)

TALKS_OVER_FROM = "angry"
"""Anger level from which the customer talks over a trainee who interrupts; below it they stop and listen."""
MAX_TURN_S = 60.0
"""A reply that runs this long is closed as a turn anyway, so a stuck microphone cannot hang the call."""
PREFETCH_EVERY_S = 0.25
"""Least time between two background guesses at the customer's answer."""
LINE_GAP_S = 0.25
"""Pause between two lines the customer says in one go (a reaction, then a question)."""


@dataclass(frozen=True)
class CallSetup:
    """Everything a call needs before it starts (each part loaded and checked)."""

    scenario: Scenario
    lang: str
    seed: int
    trainee: str
    model: Any = field(repr=False)
    """The loaded vosk.Model."""
    model_name: str
    """The model folder's name, which carries its version (e.g. vosk-model-small-en-us-0.15)."""
    pack: Any = field(repr=False)
    """The scoring language pack (voicesim.language.load_language)."""

    @classmethod
    def prepare(cls, scenario_id: str, *, lang: str | None = None, seed: int = 0, trainee: str = "trainee",
                model_path: str | None = None) -> "CallSetup":
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
    outcome: str
    """resolved | hung_up | turn_limit, or interrupted (Ctrl-C) / device_lost."""
    turns: int
    overall: int | None
    """Mean of the replies' overall scores, 0-100; None without replies."""
    debrief: Debrief
    latencies_s: tuple[float, ...] = ()
    """End-of-turn latency of each answered turn (live calls only)."""

    def to_json(self) -> dict[str, Any]:
        """The --json contract of `voicesim practice`."""
        return {"session_dir": str(self.session_dir), "outcome": self.outcome, "turns": self.turns, "overall": self.overall}


# --- pieces shared by both modes ---------------------------------------------------------


def customer_voice(setup: CallSetup, lines: Sequence[str]) -> Audio:
    """What the customer says, as heard on the phone: each line rendered (and cached) on its own."""
    from voicesim.tts import synthesize

    voice = setup.scenario.voice_settings()
    rendered = [synthesize(text, lang=setup.lang, voice=voice) for text in lines]
    if len(rendered) == 1:
        return rendered[0]
    # espeak pads every line with silence; at the joins it would add up to an unnatural pause.
    parts: list[Audio] = []
    for i, audio in enumerate(rendered):
        bounds = speech_bounds(audio.samples)
        lo, hi = (0.0, audio.duration_s) if bounds is None else bounds
        lo = 0.0 if i == 0 else lo
        hi = audio.duration_s if i == len(rendered) - 1 else hi
        if parts:
            parts.append(Audio.silence(LINE_GAP_S))
        parts.append(Audio(audio.samples[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)]))
    return Audio.concat(parts)


def texts(reaction_or_line) -> tuple[str, ...]:
    """The separate lines of a CustomerReaction, or of one CustomerLine."""
    lines = getattr(reaction_or_line, "lines", None)
    return tuple(l.text for l in lines) if lines is not None else (reaction_or_line.text,)


def scenario_lines(scenario: Scenario) -> list[str]:
    """Every line the customer might say, roughly in the order a call needs them."""
    out: list[str] = []
    for group in (
        *scenario.reactions.values(),
        *(lines for stage in ("opening", "details") for lines in scenario.stages.get(stage, {}).values()),
        *((f.answer,) for f in scenario.facts),
        *(lines for stage in ("solution", "closing") for lines in scenario.stages.get(stage, {}).values()),
        *scenario.endings.values(),
    ):
        out.extend(t for t in group if t not in out)
    return out


def score(setup: CallSetup, transcript: Transcript, audio: Audio | None, interruptions: int,
          delay: float | None):
    from voicesim.learned import load_judge
    from voicesim.scoring import score_reply

    # load_judge is cached: the embedder and its sentence-vector LRU live for the whole process.
    return score_reply(transcript, setup.pack, audio=audio, interruptions=interruptions, response_delay_s=delay,
                       judge=load_judge(setup.pack.code))


def card_json(card) -> dict[str, Any]:
    """The scorecard in the score command's JSON shape (DESIGN.md), as a dict for session.json."""
    import json

    from voicesim.scoring import scorecard_to_json

    return json.loads(scorecard_to_json(card))


def call_overall(turns: Sequence[dict[str, Any]]) -> int | None:
    """The call's score: the mean of its replies' overall scores, rounded half up."""
    scores = [t["scorecard"]["overall"] for t in turns if t.get("scorecard")]
    return int(sum(scores) / len(scores) + 0.5) if scores else None


def words_json(words: Sequence[Word], offset_s: float) -> list[dict[str, Any]]:
    """Words with times moved onto the session recording's clock."""
    return [
        {"word": w.word, "start_s": _r(w.start_s + offset_s) if w.start_s is not None else None,
         "end_s": _r(w.end_s + offset_s) if w.end_s is not None else None, "conf": w.conf}
        for w in words
    ]


def reaction_json(reaction: CustomerReaction) -> dict[str, Any]:
    return {
        "text": reaction.text,
        "slots": [line.slot for line in reaction.lines],
        "anger": reaction.anger,
        "anger_delta": reaction.anger_delta,
        "rules": [{"rule": h.rule, "delta": h.delta} for h in reaction.rules],
        "outcome": reaction.outcome,
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def finish_call(setup: CallSetup, session: Session, view: LiveView, outcome: str,
                latencies: Sequence[float] = ()) -> CallResult:
    """Score the call as a whole, write the debrief into the session, show it."""
    cards = [t["scorecard"] for t in session.turns if t.get("scorecard")]
    overall = call_overall(session.turns)
    debrief = build_debrief(cards, outcome=outcome, lang=setup.lang)
    session.finish(outcome, overall, debrief_to_json(debrief))
    view.scorecard(cards, outcome, overall)
    view.lines(format_debrief(debrief))
    view.notice(f"Session saved in {session.folder}")
    view.close()
    return CallResult(session.folder, outcome, len(session.turns), overall, debrief, tuple(latencies))


# --- scripted calls ------------------------------------------------------------------------


def run_scripted(setup: CallSetup, replies: Sequence[str | os.PathLike | Audio], store: SessionStore,
                 view: LiveView | None = None) -> CallResult:
    """The call with the trainee's turns from recordings; customer audio goes into the session recording.

    When the replies run out before the customer ends the call, the outcome is
    turn_limit: the script's turns are used up.
    """
    from voicesim.asr import transcribe
    from voicesim.audiofile import load_audio

    view = view or LiveView(tty=False)
    # Load every reply first: a bad file is reported before a session folder exists.
    audios = [r if isinstance(r, Audio) else load_audio(r) for r in replies]
    customer = Customer(setup.scenario, seed=setup.seed)
    with store.create(setup.meta("scripted")) as session:
        try:
            opening = customer.opening()
            line = opening.text
            view.customer(line)
            heard = session.recording.add_customer(customer_voice(setup, texts(opening)).samples)
            outcome = "turn_limit"
            for index, audio in enumerate(audios, 1):
                reply_start = session.recording.position_s
                session.recording.add_trainee(audio.samples)
                bounds = speech_bounds(audio.samples)
                transcript = transcribe(audio, setup.lang, setup.model)
                delay = _r(bounds[0]) if bounds else None
                card = score(setup, transcript, audio, 0, delay)
                view.trainee(transcript.text)
                events = TurnEvents(silent=bounds is None or not transcript.words, response_delay_s=delay)
                reaction = customer.react(card, events)
                turn = _turn_record(index, line, heard, transcript, reply_start, card, delay, None, 0, [], reaction)
                view.turn_result(turn["scorecard"])
                view.customer(reaction.text)
                heard = session.recording.add_customer(customer_voice(setup, texts(reaction)).samples)
                session.add_turn(turn)
                line = reaction.text
                if reaction.ended:
                    outcome = reaction.outcome or outcome
                    break
        except KeyboardInterrupt:
            return finish_call(setup, session, view, INTERRUPTED)
        return finish_call(setup, session, view, outcome)


def _turn_record(index: int, line: str, heard: tuple[float, float], transcript: Transcript, reply_start: float,
                 card, delay: float | None, latency: float | None, interruptions: int,
                 prompts: list[dict[str, Any]], reaction: CustomerReaction) -> dict[str, Any]:
    words = words_json(transcript.words, reply_start)
    return {
        "index": index,
        "customer": {"text": line, "start_s": _r(heard[0]), "end_s": _r(heard[1])},
        "silence_prompts": prompts,
        "trainee": {
            "text": transcript.text,
            "start_s": words[0]["start_s"] if words else None,
            "end_s": words[-1]["end_s"] if words else None,
            "words": words,
        },
        "scorecard": card_json(card),
        "response_delay_s": delay,
        "end_of_turn_latency_s": latency,
        "interruptions": interruptions,
        "customer_answer": reaction_json(reaction),
    }


# --- live calls ------------------------------------------------------------------------------


def fork(customer: Customer) -> Customer:
    """A copy of the customer to try a reaction on; the scenario and rules are shared, not copied."""
    return copy.deepcopy(customer, {id(customer.scenario): customer.scenario, id(customer.rules): customer.rules})


class Prefetcher:
    """Renders the customer's next lines in the background, so answers start at once.

    Two sources: every line of the scenario, warmed in order from the call's start
    (:meth:`warm`); and a guess at the coming answer from the live partial transcript,
    scored (text only) on a copy of the customer with and without a calm-tone slip
    (:meth:`guess`), for lines the warm-up has not reached yet.
    """

    def __init__(self, setup: CallSetup) -> None:
        self.setup = setup
        self._jobs: queue.Queue[tuple[Customer, str, TurnEvents] | None] = queue.Queue(maxsize=1)
        self._done: set[str] = set()
        self._closed = threading.Event()
        self.idle = threading.Event()
        """Set while nobody needs the CPU much (the customer is talking): warm at full speed."""
        self._thread = threading.Thread(target=self._work, name="voicesim-prefetch", daemon=True)
        self._thread.start()
        self._last = 0.0

    def guess(self, customer: Customer, partial: str, events: TurnEvents, now: float) -> None:
        """Offer the latest partial; dropped when a guess is still being worked on."""
        if not partial or now - self._last < PREFETCH_EVERY_S:
            return
        self._last = now
        try:
            self._jobs.put_nowait((fork(customer), partial, events))
        except queue.Full:
            pass

    def warm(self, lines: Sequence[str]) -> None:
        """Render these lines in a background thread of their own, in order, until closed."""
        def work() -> None:
            for text in lines:
                if self._closed.is_set():
                    return
                began = time.monotonic()
                try:
                    self._render(text)
                except Exception:  # a line that fails now is rendered (or reported) when it is needed
                    continue
                if not self.idle.is_set():
                    # The trainee is speaking: a third of the time at most, so the recognizer
                    # keeps up with the microphone and the guesses get rendered first.
                    self._closed.wait(2 * (time.monotonic() - began))

        threading.Thread(target=work, name="voicesim-warm", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        try:
            self._jobs.put_nowait(None)
        except queue.Full:
            pass

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            customer, partial, events = job
            try:
                for text in self._candidates(customer, partial, events):
                    self._render(text)
            except Exception:  # a guess that fails costs only the cache hit, never the call
                continue

    def _candidates(self, customer: Customer, partial: str, events: TurnEvents) -> list[str]:
        card = score(self.setup, Transcript.from_text(partial), None, events.interrupted, events.response_delay_s)
        lines = list(texts(fork(customer).react(card, events)))
        calm = card.checks.get("calm_tone")
        if calm is not None and calm.passed:
            slipped = replace(card, checks={**card.checks, "calm_tone": replace(calm, passed=False)})
            lines += texts(fork(customer).react(slipped, events))
        return lines

    def _render(self, text: str) -> None:
        if text in self._done:
            return
        self._done.add(text)
        customer_voice(self.setup, (text,))


class PacedFileLine:
    """A line that behaves like a headset in real time, without a sound card.

    Customer audio 'plays' for its real duration (heard nowhere; the session records
    it). The microphone delivers faint noise in 20 ms blocks at real-time pace, and
    `reply_gap_s` after the customer finishes a line it speaks the next reply.
    Used by the latency benchmark and by tests of the live loop.
    """

    block_s = 0.02

    def __init__(self, replies: Sequence[Audio], reply_gap_s: float = 0.4, noise_dbfs: float = -70.0,
                 seed: int = 0) -> None:
        self._replies = deque(replies)
        self.reply_gap_s = reply_gap_s
        self._noise = 10 ** (noise_dbfs / 20)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._play_until = 0.0
        self._reply_due = float("inf")
        self.speech_ends: list[float] = []
        """Wall time of each reply's last voiced sample, as it was delivered."""
        self.play_starts: list[float] = []
        """Wall time of each play_async call."""

    def play(self, audio: Audio) -> None:
        self.play_async(audio)
        while self.is_playing:
            time.sleep(0.005)

    def play_async(self, audio: Audio) -> None:
        now = time.monotonic()
        with self._lock:
            self.play_starts.append(now)
            self._play_until = now + audio.duration_s
            self._reply_due = self._play_until + self.reply_gap_s

    def stop_playback(self) -> float:
        with self._lock:
            self._play_until = min(self._play_until, time.monotonic())
        return 0.0

    @property
    def is_playing(self) -> bool:
        return time.monotonic() < self._play_until

    def open_input_stream(self, on_chunk: Callable[[np.ndarray], None], on_level=None):
        from voicesim.headset import InputStream

        return InputStream(self._blocks, on_chunk, on_level)

    def _blocks(self):
        n = int(SAMPLE_RATE * self.block_s)
        due = time.monotonic()
        pending = np.zeros(0, dtype=np.float32)
        while True:
            due += self.block_s
            time.sleep(max(0.0, due - time.monotonic()))
            if not len(pending):
                pending = self._next_reply()
            block = self._rng.standard_normal(n).astype(np.float32) * self._noise
            take = pending[:n]
            block[: len(take)] += take
            pending = pending[len(take):]
            yield block

    def _next_reply(self) -> np.ndarray:
        with self._lock:
            if not self._replies or time.monotonic() < self._reply_due:
                return np.zeros(0, dtype=np.float32)
            self._reply_due = float("inf")
            reply = self._replies.popleft()
        bounds = speech_bounds(reply.samples)
        self.speech_ends.append(time.monotonic() + (bounds[1] if bounds else reply.duration_s))
        return reply.samples


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
    """Words heard before the trainee went on after a pause: (offset from start_pos in s, words)."""
    interruptions: int = 0
    prompts: list[dict[str, Any]] = field(default_factory=list)
    speech_start_s: float | None = None

    def words(self, last: Transcript, last_offset_s: float) -> Transcript:
        """All the turn's words, times from start_pos."""
        words = tuple(
            replace(w, start_s=_r(w.start_s + off), end_s=_r(w.end_s + off))
            for off, seg in (*self.segments, (last_offset_s, last))
            for w in seg.words
        )
        return Transcript(" ".join(w.word for w in words), words, _r(sum(len(a) for a in self.audio) / SAMPLE_RATE))


class LiveCall:
    """One call on a streaming line; :meth:`run` returns when the call has ended.

    The customer answers as soon as the turn detector hears the trainee stop. If the
    trainee goes on within the first moments of that answer (a pause, not the end), the
    customer breaks off, nothing of that answer counts, and the turn continues: so the
    answer comes quickly without cutting off a thinking pause for good.
    """

    def __init__(self, setup: CallSetup, line, store: SessionStore, view: LiveView,
                 settings: TurnSettings = TurnSettings()) -> None:
        from voicesim.asr import Recognizer

        self.setup = setup
        self.line = line
        self.store = store
        self.view = view
        self.settings = settings
        self.detector = TurnDetector(settings, setup.lang)
        # The live view and the prefetch want fresh partial text; the words with timings
        # come from finish() anyway.
        self.recognizer = Recognizer(setup.model, partial_words=False)
        self.customer = Customer(setup.scenario, seed=setup.seed)
        self.prefetcher = Prefetcher(setup)
        self._chunks: queue.Queue[np.ndarray] = queue.Queue()
        self._received = 0
        """Stream samples delivered by the microphone thread."""
        self._pos = 0
        """Stream samples processed by the loop (the detector's and the recording's clock)."""
        self._rec_start = 0
        """Stream sample where the recognizer's current turn began."""
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=500)
        """(stream sample at the end of a chunk, wall time it arrived): maps stream time to wall time."""
        self.latencies: list[float] = []
        self.breakdown: list[tuple[float, float]] = []
        """Per answered turn: (trailing silence waited, seconds from decision to the answer's start)."""
        self._partial = ""

    # microphone thread
    def _on_chunk(self, chunk: np.ndarray) -> None:
        self._received += len(chunk)
        self._arrivals.append((self._received, time.monotonic()))
        self._chunks.put(chunk)

    def run(self) -> CallResult:
        session = self.store.create(self.setup.meta("live"))
        stream = self.line.open_input_stream(self._on_chunk)
        try:
            with session:
                try:
                    stream.__enter__()
                    outcome = self._converse(session, stream)
                except KeyboardInterrupt:
                    outcome = INTERRUPTED
                except VoicesimError as exc:
                    from voicesim.headset import AudioDeviceLostError

                    if not isinstance(exc, AudioDeviceLostError):
                        raise
                    self._stop_everything(stream)
                    finish_call(self.setup, session, self.view, DEVICE_LOST, self.latencies)
                    raise VoicesimError(
                        f"{exc}; the call stopped there and the session so far is saved in {session.folder}"
                    ) from None
                self._stop_everything(stream)
                return finish_call(self.setup, session, self.view, outcome, self.latencies)
        finally:
            self.prefetcher.close()

    def _stop_everything(self, stream) -> None:
        try:
            self.line.stop_playback()
        except Exception:
            pass  # the device may be gone already; nothing is left to stop then
        stream.error = None  # handled already; closing must not raise it again
        stream.close()

    # --- the conversation ----------------------------------------------------------------

    def _warm_up(self) -> None:
        """Run scoring once before the call, so its first real use pays no imports or set-up."""
        noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.01
        score(self.setup, Transcript.from_text("i am sorry when did it start"), Audio(noise), 0, None)

    def _converse(self, session: Session, stream) -> str:
        self._warm_up()
        opening = self.customer.opening()
        turn = _LiveTurn(line=opening.text)
        self.view.customer(turn.line)
        start, audio, _ = self._start_line(session, texts(opening))
        self.prefetcher.warm(scenario_lines(self.setup.scenario))
        turn.heard = self._play_out(session, stream, turn, start, audio)
        while True:
            end_event = self._listen(session, stream, turn)
            if end_event is None:  # silence timeout: the customer prompts, the turn goes on
                reaction = self.customer.prompt_silence()
                turn.prompts.append({"text": reaction.text, "start_s": _r(self._received / SAMPLE_RATE)})
                self.view.customer(reaction.text)
                self._play_out(session, stream, turn, *self._start_line(session, texts(reaction))[:2])
                if reaction.ended:
                    return reaction.outcome or "hung_up"
                continue
            decided_at = time.monotonic()
            segment_offset = (self._rec_start - turn.start_pos) / SAMPLE_RATE
            last = self.recognizer.finish()  # flushes Vosk: the last word is known now, no partial lag
            self._rec_start = self._pos
            transcript = turn.words(last, segment_offset)
            if self._pause_not_end(transcript, end_event):
                turn.segments.append((segment_offset, last))
                self.detector.keep_waiting()
                continue
            self.detector.start_listening()
            customer = fork(self.customer)
            reaction, record = self._answer(customer, len(session.turns) + 1, turn, transcript)
            start, audio, started_at = self._start_line(session, texts(reaction))
            latency = self._latency(end_event.speech_end_s, started_at)
            following = _LiveTurn(line=reaction.text, start_pos=self._pos)
            if self._trainee_goes_on(session, stream, following, start):
                # A pause, not the end: the customer breaks off and the turn continues.
                turn.segments.append((segment_offset, last))
                turn.audio.extend(following.audio)
                self.view.customer("(breaks off: you went on)", interrupted=True)
                continue
            self.customer = customer
            record["end_of_turn_latency_s"] = latency
            if latency is not None:
                self.latencies.append(latency)
                self.breakdown.append((_r(end_event.at_s - end_event.speech_end_s), _r(started_at - decided_at)))
            session.add_turn(record)  # on disk while the answer plays
            self.view.trainee(transcript.text)
            self.view.turn_result(record["scorecard"], _turn_notes(turn))
            self.view.customer(reaction.text)
            turn = following
            turn.heard = self._play_out(session, stream, turn, start, audio)
            if reaction.ended:
                return reaction.outcome or "turn_limit"

    def _pause_not_end(self, transcript: Transcript, end_event) -> bool:
        """The words end open ("… and", "um") and the silence is still short: a thinking pause."""
        if end_event.speech_end_s is None:
            return False
        silence = end_event.at_s - end_event.speech_end_s
        return silence < self.settings.end_hold_s and self.detector.ends_open(transcript.text)

    def _answer(self, customer: Customer, index: int, turn: _LiveTurn, transcript: Transcript):
        """Score the finished reply and let (a fork of) the customer react; returns (reaction, turn record)."""
        self._partial = ""
        audio = Audio(np.concatenate(turn.audio).astype(np.float32) / 32768.0) if turn.audio else Audio.silence(0)
        delay = self._delay(turn)
        card = score(self.setup, transcript, audio, turn.interruptions, delay)
        events = TurnEvents(interrupted=turn.interruptions, silent=not transcript.words, response_delay_s=delay)
        reaction = customer.react(card, events)
        record = _turn_record(index, turn.line, turn.heard, transcript, turn.start_pos / SAMPLE_RATE, card, delay,
                              None, turn.interruptions, turn.prompts, reaction)
        return reaction, record

    # --- speaking ---------------------------------------------------------------------------

    def _start_line(self, session: Session, lines: Sequence[str]) -> tuple[float, Audio, float]:
        """Start the customer speaking; returns (start in the recording, the audio, wall time it started)."""
        audio = customer_voice(self.setup, lines)
        self.line.play_async(audio)
        started_at = time.monotonic()
        start = session.recording.schedule_customer(audio.samples, self._received / SAMPLE_RATE)
        return start, audio, started_at

    def _latency(self, speech_end_s: float | None, started_at: float) -> float | None:
        """End-of-turn latency: the trainee's last voiced sample (as it arrived) to the answer's start."""
        if speech_end_s is None:
            return None
        spoken_at = self._wall_time(int(round(speech_end_s * SAMPLE_RATE)))
        return None if spoken_at is None else _r(started_at - spoken_at)

    def _trainee_goes_on(self, session: Session, stream, following: _LiveTurn, start: float) -> bool:
        """Watch the first moments of the answer: True (and the customer stopped) if the trainee speaks on."""
        until = start + self.settings.barge_in_grace_s
        while self.line.is_playing and self._pos / SAMPLE_RATE < until:
            for event in self._pump(session, stream, following, customer_playing=True):
                if event.kind == SPEECH_START:
                    self.line.stop_playback()
                    session.recording.cut_customer(self._received / SAMPLE_RATE)
                    return True
        return False

    def _play_out(self, session: Session, stream, turn: _LiveTurn, start: float, audio: Audio) -> tuple[float, float]:
        """Run the loop while the customer speaks, handling barge-in per persona; returns (start_s, end_s)."""
        if not self.detector.heard_speech:
            self.detector.start_listening()
        self.prefetcher.idle.set()
        try:
            return self._play_through(session, stream, turn, start, audio)
        finally:
            self.prefetcher.idle.clear()

    def _play_through(self, session: Session, stream, turn: _LiveTurn, start: float, audio: Audio) -> tuple[float, float]:
        while self.line.is_playing:
            for event in self._pump(session, stream, turn, customer_playing=True):
                if event.kind == BARGE_IN:
                    turn.interruptions += 1
                    if self.customer_yields():
                        self.line.stop_playback()
                        cut = self._received / SAMPLE_RATE
                        session.recording.cut_customer(cut)
                        self.view.customer("(stops talking)", interrupted=True)
                        return start, _r(cut)
        if not self.detector.heard_speech:
            self.detector.start_listening()  # the silence timeout counts from the end of the line
        return start, _r(start + audio.duration_s)

    def customer_yields(self) -> bool:
        """Below TALKS_OVER_FROM the customer stops when talked over; angrier, they talk on."""
        return self.customer.state.anger < self.customer.rules.levels[TALKS_OVER_FROM]

    # --- listening --------------------------------------------------------------------------

    def _listen(self, session: Session, stream, turn: _LiveTurn):
        """Run until the trainee's turn ends (-> the END_OF_TURN event) or the silence timeout (-> None)."""
        from voicesim.turns import TurnEvent

        while True:
            for event in self._pump(session, stream, turn, customer_playing=False):
                if event.kind == SILENCE_TIMEOUT:
                    return None
                if event.kind == END_OF_TURN:
                    return event
            if self.detector.heard_speech and (self._pos - turn.start_pos) / SAMPLE_RATE > MAX_TURN_S:
                self.detector.start_listening()
                return TurnEvent(END_OF_TURN, self._pos / SAMPLE_RATE, None)

    def _pump(self, session: Session, stream, turn: _LiveTurn, customer_playing: bool) -> list:
        """Take the next microphone chunk into recording, detector and recognizer; return turn events."""
        from voicesim.asr import Final, Partial

        try:
            chunk = self._chunks.get(timeout=0.05)
        except queue.Empty:
            stream.raise_if_lost()
            if not stream.alive:
                raise VoicesimError("the microphone stream ended unexpectedly; check the input device")
            return []
        session.recording.add_trainee(chunk.astype(np.float32) / 32768.0)
        turn.audio.append(chunk)
        self._pos += len(chunk)
        events = self.detector.feed(chunk, customer_playing=customer_playing)
        result = self.recognizer.feed(chunk)
        if isinstance(result, Partial):
            self._partial = result.text
        elif isinstance(result, Final):
            self.detector.note_final(result.transcript.text)
        for event in events:
            if event.kind == SPEECH_START and turn.speech_start_s is None:
                turn.speech_start_s = event.at_s
        if self.detector.heard_speech:
            events_so_far = TurnEvents(interrupted=turn.interruptions, response_delay_s=self._delay(turn))
            self.prefetcher.guess(self.customer, self._partial, events_so_far, time.monotonic())
        self.view.listening(self.detector.level_dbfs, self._partial)
        return events

    def _delay(self, turn: _LiveTurn) -> float | None:
        """From the end of the customer's line to the trainee's first speech (0 when they talked over it)."""
        if turn.speech_start_s is None:
            return None
        return _r(max(0.0, turn.speech_start_s - turn.heard[1]))

    def _wall_time(self, stream_pos: int) -> float | None:
        """When the sample at `stream_pos` arrived (from the chunk arrival log)."""
        for end, at in self._arrivals:
            if end >= stream_pos:
                return at - (end - stream_pos) / SAMPLE_RATE
        return None


def _turn_notes(turn: _LiveTurn) -> list[str]:
    notes = []
    if turn.interruptions:
        notes.append(f"talked over the customer x{turn.interruptions}")
    if turn.prompts:
        notes.append(f"silence prompt x{len(turn.prompts)}")
    return notes


def run_live(setup: CallSetup, line, store: SessionStore, view: LiveView | None = None,
             settings: TurnSettings = TurnSettings()) -> CallResult:
    """The call on a streaming line (headset or PacedFileLine), until it ends or Ctrl-C."""
    return LiveCall(setup, line, store, view or LiveView(), settings).run()
