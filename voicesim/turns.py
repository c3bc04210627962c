"""Turn-taking on the line: end of the trainee's turn, barge-in, silence timeout.

Pure logic over 16 kHz audio frames: no devices, no clocks. The call loop feeds
every microphone chunk with :meth:`TurnDetector.feed`, tells it whether the
customer is speaking right now, and passes on the segments Vosk closes with
:meth:`TurnDetector.note_final`. Times in events are seconds of audio fed so
far, so tests can use synthetic audio.

>>> import numpy as np
>>> det = TurnDetector(TurnSettings())
>>> tone = (0.3 * np.sin(np.arange(16000) * 0.2)).astype(np.float32)
>>> events = det.feed(tone, customer_playing=False) + det.feed(np.zeros(16000, np.float32), customer_playing=False)
>>> [str(e.kind) for e in events]
['speech_start', 'end_of_turn']

How the end of a turn is decided (why two holds): people leave about 200 ms
between turns, but pause to think in the middle of a sentence, mostly after a
filler or a word that promises more ("um", "and", "because", "the"). So after
speech the turn ends after ``quick_hold_s`` (0.16 s) of silence, or ``end_hold_s``
(0.7 s) when the words so far promise more. Which words those are comes from Vosk
itself: the call loop flushes the recognizer at END_OF_TURN and, if the last word is
open, calls :meth:`keep_waiting`; a final result from Vosk's endpointer during the
silence ends the turn at once, or holds it when it ends open. Live partial transcripts
are not used for this: they lag the audio by a few hundred ms, so in the silence a
partial often still ends on a word the trainee has already followed ("... must be
for" before "you"), which used to hold finished turns for the long hold. After
END_OF_TURN the detector waits for the call loop: :meth:`start_listening` (the
customer answers) or :meth:`keep_waiting`.
"""

from __future__ import annotations

import functools
import tomllib
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from voicesim.audio import SAMPLE_RATE, block_levels_dbfs, int16_to_float, level_dbfs
from voicesim.resources import data_file

FRAME_SAMPLES = 320
"""20 ms analysis frames: short enough for a quick end of turn, long enough for a stable level."""

NOISE_WINDOW_S = 2.0
"""The noise floor is the quietest frame of this much recent audio."""
INITIAL_NOISE_DBFS = -60.0
"""Assumed floor until real frames arrive: a quiet headset."""
NOISE_CEILING_DBFS = -35.0
"""The floor never rises above this, so a long stretch of loud speech stays speech."""


class TurnEventKind(StrEnum):
    """What the detector noticed; str-valued, so logs and JSON read as plain words."""

    SPEECH_START = "speech_start"
    END_OF_TURN = "end_of_turn"
    BARGE_IN = "barge_in"
    """The trainee started speaking while the customer talked (after the grace period)."""
    SILENCE_TIMEOUT = "silence_timeout"


# Short names, as the detector and its tests use them.
SPEECH_START = TurnEventKind.SPEECH_START
END_OF_TURN = TurnEventKind.END_OF_TURN
BARGE_IN = TurnEventKind.BARGE_IN
SILENCE_TIMEOUT = TurnEventKind.SILENCE_TIMEOUT


@dataclass(frozen=True)
class TurnSettings:
    """Tuning of the turn detector; defaults suit a close-talking headset microphone."""

    end_hold_s: float = 0.7
    """Trailing silence that ends a turn while the words so far promise more (or are unknown)."""
    quick_hold_s: float = 0.16
    """Trailing silence that ends a turn whose live transcript reads as finished."""
    min_speech_s: float = 0.25
    """Voiced time a turn needs before it can end; shorter blips (a cough, a click) don't count."""
    onset_s: float = 0.06
    """Consecutive voiced time that counts as the start of speech."""
    margin_db: float = 12.0
    """How far above the noise floor a frame must be to count as voiced."""
    min_speech_dbfs: float = -48.0
    """Absolute floor for voiced frames, so a digitally silent line never triggers."""
    silence_timeout_s: float = 7.0
    """No speech this long after the customer finished: the customer prompts ("Hello?")."""
    barge_in_grace_s: float = 0.5
    """Speech this soon after the customer starts is the trainee finishing a sentence, not an interruption."""


@dataclass(frozen=True)
class TurnEvent:
    """Something the call loop must react to."""

    kind: TurnEventKind
    at_s: float
    """Seconds of audio fed when it was decided."""
    speech_end_s: float | None = None
    """END_OF_TURN: where the last voiced frame ended (for end-of-turn latency)."""


@functools.cache
def hold_words(lang: str) -> frozenset[str]:
    """Words after which a speaker usually goes on (fillers, conjunctions, articles), from data/turns/<lang>.toml."""
    path = data_file("turns", f"{lang}.toml")
    if not path.is_file():
        return frozenset()
    return frozenset(w.lower() for w in tomllib.loads(path.read_text(encoding="utf-8")).get("hold_words", []))


def as_float(chunk: np.ndarray) -> np.ndarray:
    """int16 microphone chunks or float samples -> float32 in [-1, 1]."""
    arr = np.asarray(chunk).reshape(-1)
    if arr.dtype == np.int16:
        return int16_to_float(arr)
    return arr.astype(np.float32, copy=False)


class TurnDetector:
    """Decides, frame by frame, when the trainee starts, stops, interrupts or stays silent.

    One detector lives for the whole call; :meth:`start_listening` marks the
    moment the customer finished a line (silence timeout counts from there).
    """

    def __init__(self, settings: TurnSettings = TurnSettings(), lang: str = "en") -> None:
        self.settings = settings
        self._hold_words = hold_words(lang)
        self._pending = np.zeros(0, dtype=np.float32)
        self._fed = 0
        self._levels: deque[float] = deque([INITIAL_NOISE_DBFS], maxlen=int(NOISE_WINDOW_S * SAMPLE_RATE / FRAME_SAMPLES))
        self._noise_db = INITIAL_NOISE_DBFS
        self.level_dbfs = -120.0
        """Level of the latest frame, for the live meter."""
        self._customer_since: int | None = None
        self._barged = False
        self.start_listening()

    # --- what the call loop tells us -------------------------------------------------

    def start_listening(self) -> None:
        """A new trainee turn begins now (the customer just finished or the call started)."""
        self._listen_from = self._fed
        self._voiced_run = 0
        self._voiced_total = 0
        self._in_speech = False
        self._speech_start: int | None = None
        self._last_voiced_end: int | None = None
        self._expect_more = False
        self._final_seen = False
        self._timed_out = False
        self._ended = False

    def keep_waiting(self) -> None:
        """After END_OF_TURN: the words promise more ("… and"), so wait the long hold from the same speech."""
        self._ended = False
        self._expect_more = True
        self._final_seen = False

    def note_final(self, text: str) -> None:
        """Vosk's endpointer closed an utterance: a second end-of-turn signal, or a hold if it ends open."""
        if not text.strip():
            return
        if self._in_silence():
            self._expect_more = self.ends_open(text)
        self._final_seen = True

    def ends_open(self, text: str) -> bool:
        """True when the last word of `text` promises more (a filler, "and", "because", "the")."""
        words = text.lower().split()
        return bool(words) and words[-1] in self._hold_words

    def _in_silence(self) -> bool:
        return self._last_voiced_end is not None and not self._in_speech

    @property
    def heard_speech(self) -> bool:
        """Speech started in this turn."""
        return self._speech_start is not None

    @property
    def speech_start_s(self) -> float | None:
        return None if self._speech_start is None else self._speech_start / SAMPLE_RATE

    @property
    def fed_s(self) -> float:
        return self._fed / SAMPLE_RATE

    # --- frames ----------------------------------------------------------------------

    def feed(self, chunk: np.ndarray, *, customer_playing: bool) -> list[TurnEvent]:
        """Feed microphone samples (int16 or float); returns the events they caused, in order."""
        samples = np.concatenate([self._pending, as_float(chunk)])
        n_frames = len(samples) // FRAME_SAMPLES
        self._pending = samples[n_frames * FRAME_SAMPLES :]
        events: list[TurnEvent] = []
        for i in range(n_frames):
            frame = samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            events.extend(self._frame(frame, customer_playing))
        return events

    def _frame(self, frame: np.ndarray, customer_playing: bool) -> list[TurnEvent]:
        s = self.settings
        level = level_dbfs(frame)
        self.level_dbfs = level
        start = self._fed
        self._fed += len(frame)
        self._track_noise(level)
        voiced = level >= max(self._noise_db + s.margin_db, s.min_speech_dbfs)
        events: list[TurnEvent] = []

        if customer_playing and self._customer_since is None:
            self._customer_since, self._barged = start, False
        elif not customer_playing:
            self._customer_since = None

        if self._ended:
            return events  # the call loop decides what comes next: start_listening() or keep_waiting()
        if voiced:
            self._expect_more = False  # speech goes on: an earlier hint is out of date
            self._voiced_run += len(frame)
            self._voiced_total += len(frame)
            self._last_voiced_end = self._fed
            if not self._in_speech and self._voiced_run >= s.onset_s * SAMPLE_RATE:
                self._in_speech = True
                onset = self._fed - self._voiced_run
                if self._speech_start is None:
                    self._speech_start = onset
                    events.append(TurnEvent(SPEECH_START, onset / SAMPLE_RATE))
                if customer_playing:
                    events.extend(self._barge_in(onset))
            return events

        self._voiced_run = 0
        self._in_speech = False
        if customer_playing:
            return events
        if self._speech_start is None:
            if not self._timed_out and self._fed - self._listen_from >= s.silence_timeout_s * SAMPLE_RATE:
                self._timed_out = True
                events.append(TurnEvent(SILENCE_TIMEOUT, self._fed / SAMPLE_RATE))
            return events
        if self._turn_over():
            events.append(TurnEvent(END_OF_TURN, self._fed / SAMPLE_RATE, self._last_voiced_end / SAMPLE_RATE))
            self._ended = True
        return events

    def _barge_in(self, onset: int) -> list[TurnEvent]:
        """Speech while the customer talks; once per customer line, after the grace period."""
        assert self._customer_since is not None
        if self._barged or onset - self._customer_since < self.settings.barge_in_grace_s * SAMPLE_RATE:
            return []
        self._barged = True
        return [TurnEvent(BARGE_IN, onset / SAMPLE_RATE)]

    def _turn_over(self) -> bool:
        s = self.settings
        if self._voiced_total < s.min_speech_s * SAMPLE_RATE or self._last_voiced_end is None:
            return False
        silence = (self._fed - self._last_voiced_end) / SAMPLE_RATE
        if self._final_seen and not self._expect_more and silence >= FRAME_SAMPLES / SAMPLE_RATE:
            return True
        hold = s.end_hold_s if self._expect_more else s.quick_hold_s
        return silence >= hold

    def _track_noise(self, level: float) -> None:
        # Minimum statistics: the quietest frame of the last few seconds is the line's
        # noise. Speech always has gaps between words, so a reply never lifts the floor,
        # while a steady hum or hiss becomes the floor within NOISE_WINDOW_S.
        self._levels.append(max(level, -90.0))
        self._noise_db = min(min(self._levels), NOISE_CEILING_DBFS)


def speech_bounds(samples: np.ndarray, settings: TurnSettings = TurnSettings()) -> tuple[float, float] | None:
    """(first, last) voiced time in a recording, in seconds; None when nothing is voiced.

    Used for response delay in scripted calls and by the latency benchmark.
    """
    x = as_float(samples)
    n = len(x) // FRAME_SAMPLES
    if n == 0:
        return None
    db = block_levels_dbfs(x, FRAME_SAMPLES)
    # The quietest tenth is the room; capped so a file that is all speech still finds its words.
    floor = max(min(float(np.percentile(db, 10)), -55.0), -90.0)
    voiced = np.nonzero(db >= max(floor + settings.margin_db, settings.min_speech_dbfs))[0]
    if len(voiced) == 0:
        return None
    return float(voiced[0] * FRAME_SAMPLES / SAMPLE_RATE), float((voiced[-1] + 1) * FRAME_SAMPLES / SAMPLE_RATE)
