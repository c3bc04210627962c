"""Lines that stand in for a headset in tests and benchmarks: real audio, simulated time.

* :class:`ClockedLine`: a line and microphone on a manual clock, no threads, no sleeps.
  The live loop's decisions (end of turn, barge-in, silence prompt, device loss,
  Ctrl-C) run in milliseconds, on real speech through the real turn detector and Vosk.
* :class:`PacedFileLine`: a line that behaves like a headset in real time (threads,
  sleeps), for the latency benchmark.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from voicesim.audio import SAMPLE_RATE, Audio, float_to_int16
from voicesim.turns import speech_bounds

CHUNK = 320
"""Samples per microphone read: 20 ms, like the headset's blocks."""


@dataclass(kw_only=True)
class Step:
    """One thing the trainee does, when its cue comes; exactly one cue is set.

    The cue is one of: `gap_s` after the customer's next line has ended (and they are
    not talking then), `into_line_s` into the customer's next line, or `after_own_s`
    after the trainee's previous step, whatever the customer does. "Next" counts from
    when the previous step was done (the call's start for the first step).
    """

    gap_s: float | None = None
    into_line_s: float | None = None
    after_own_s: float | None = None

    def __post_init__(self) -> None:
        if sum(cue is not None for cue in (self.gap_s, self.into_line_s, self.after_own_s)) != 1:
            raise ValueError("give a step exactly one cue: gap_s, into_line_s or after_own_s")


@dataclass
class Say(Step):
    """The trainee speaks `audio` into the microphone."""

    audio: Audio


@dataclass
class Fail(Step):
    """The microphone read raises `error` (AudioDeviceLostError: the device went; KeyboardInterrupt: Ctrl-C)."""

    error: BaseException


class ClockedLine:
    """A line and its microphone on a manual clock: time moves only when the call reads the microphone.

    Pass it as both the line and the microphone: ``run_live(setup, line, store, view,
    microphone=line)``. Each :meth:`read` returns the next 20 ms of the trainee's side
    (faint seeded noise, plus speech when a :class:`Say` step is due) and moves the clock
    on by 20 ms; customer audio 'plays' for its duration on that clock. So a minute of
    call takes as long as the detector, Vosk and scoring need for it, and the same
    script gives the same call every run.
    """

    def __init__(self, script: Sequence[Step], noise_dbfs: float = -70.0, seed: int = 0,
                 max_s: float = 120.0) -> None:
        self._script = deque(script)
        self._noise = 10 ** (noise_dbfs / 20)
        self._rng = np.random.default_rng(seed)
        self.max_s = max_s
        """Simulated time after which a read fails the test: a call the script never ends."""
        self.received = 0
        self._pending = np.zeros(0, dtype=np.float32)
        self._line_start = 0.0
        self._line_end = 0.0
        self._was_playing = False
        self._anchor: float | None = None
        """End of the customer's first line since the current step became current."""
        self._own_end = 0.0
        self._step_since = 0.0
        """When the current step became current."""
        self.played: list[tuple[float, float]] = []
        """(start, planned end) of every customer line, on the clock."""
        self.stopped: list[float] = []
        """When the call cut the customer off (barge-in, breaking off)."""
        self.spoken: list[tuple[float, float]] = []
        """(start, end of the last voiced sample) of every Say, on the clock."""

    # --- the line ------------------------------------------------------------------------

    def play_async(self, audio: Audio) -> None:
        self._line_start, self._line_end = self.now(), self.now() + audio.duration_s
        self.played.append((self._line_start, self._line_end))

    def stop_playback(self) -> float:
        if self.is_playing:
            self.stopped.append(self.now())
            self._line_end = self.now()
        return self.now() - self._line_start

    @property
    def is_playing(self) -> bool:
        return self.now() < self._line_end

    # --- the microphone ----------------------------------------------------------------------

    def open(self) -> None:
        """Nothing to start: chunks are made when read."""

    def close(self) -> None:
        """Nothing to stop."""

    def now(self) -> float:
        return self.received / SAMPLE_RATE

    def arrived_at(self, stream_pos: int) -> float | None:
        return stream_pos / SAMPLE_RATE

    def read(self) -> np.ndarray:
        if self.now() >= self.max_s:
            raise AssertionError(f"the call ran past {self.max_s} s of simulated time; end the script with a Fail step")
        self._follow_script()
        block = self._rng.standard_normal(CHUNK).astype(np.float32) * self._noise
        speech, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
        block[: len(speech)] += speech
        self.received += CHUNK
        return float_to_int16(block)

    def _follow_script(self) -> None:
        playing = self.is_playing
        if self._was_playing and not playing and self._anchor is None:
            self._anchor = self._line_end
        self._was_playing = playing
        if len(self._pending) or not self._script or not self._due(self._script[0], playing):
            return
        step = self._script.popleft()
        self._anchor = None  # the next gap_s counts from the customer's next line
        self._step_since = self.now()
        if isinstance(step, Fail):
            raise step.error
        bounds = speech_bounds(step.audio.samples)
        self.spoken.append((self.now(), self.now() + (bounds[1] if bounds else step.audio.duration_s)))
        self._pending = np.asarray(step.audio.samples, dtype=np.float32)
        self._own_end = self.now() + step.audio.duration_s

    def _due(self, step: Step, playing: bool) -> bool:
        if step.into_line_s is not None:
            return playing and self._line_start >= self._step_since and self.now() - self._line_start >= step.into_line_s
        if step.after_own_s is not None:
            return self.now() >= self._own_end + step.after_own_s
        return not playing and self._anchor is not None and self.now() >= self._anchor + step.gap_s


class PacedFileLine:
    """A line that behaves like a headset in real time, without a sound card.

    Customer audio 'plays' for its real duration (heard nowhere; the session records
    it). The microphone delivers faint noise in 20 ms blocks at real-time pace, and
    `reply_gap_s` after the customer finishes a line it speaks the next reply.
    Used by the latency benchmark (scripts/bench_latency).
    """

    block_s = 0.02

    def __init__(self, replies: Sequence[Audio], reply_gap_s: float = 0.4, noise_dbfs: float = -70.0,
                 seed: int = 0, line_cap_s: float | None = None) -> None:
        self._replies = deque(replies)
        self.reply_gap_s = reply_gap_s
        self.line_cap_s = line_cap_s
        """Customer lines 'end' after this long: the turn benchmark measures the trainee's side, not the customer's."""
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
        duration = audio.duration_s if self.line_cap_s is None else min(audio.duration_s, self.line_cap_s)
        with self._lock:
            self.play_starts.append(now)
            self._play_until = now + duration
            self._reply_due = self._play_until + self.reply_gap_s

    def stop_playback(self) -> float:
        with self._lock:
            self._play_until = min(self._play_until, time.monotonic())
            self._reply_due = float("inf")  # a line broken off is not one to answer: wait for the next
        return 0.0

    @property
    def is_playing(self) -> bool:
        return time.monotonic() < self._play_until

    @property
    def replies_left(self) -> int:
        """Replies not yet begun."""
        with self._lock:
            return len(self._replies)

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
