"""Speech to text with Vosk: a whole recording, or a live stream of microphone chunks.

A whole file:

>>> from voicesim.asr import transcribe
>>> from voicesim.audiofile import load_audio
>>> transcribe(load_audio("tests/data/real-speech/jfk.flac"), lang="en").text  # doctest: +ELLIPSIS
'and so my fellow americans ... what your country can do for you ...'

Live, one trainee reply (a *turn*) at a time, 16 kHz int16 chunks as the microphone
delivers them:

>>> from voicesim.asr import Final, Partial, Recognizer, load_model
>>> from voicesim.models import resolve_model_path
>>> rec = Recognizer(load_model(resolve_model_path("en")))             # doctest: +SKIP
>>> for chunk in microphone_blocks():                                  # doctest: +SKIP
...     event = rec.feed(chunk)
...     if isinstance(event, Partial):
...         show_live(event.text)
>>> reply = rec.finish()          # the whole turn as a Transcript     # doctest: +SKIP
>>> [(w.word, w.start_s, w.end_s, w.conf) for w in reply.words][:1]   # doctest: +SKIP
[('and', 0.3, 0.6, 1.0)]

Word times count from the start of the turn (the last :meth:`Recognizer.finish`), rounded to milliseconds, so the same audio gives the same
numbers byte for byte: Vosk runs every model without feature dither (see
:func:`voicesim.models.dither_free`), so no random numbers are drawn, whatever else
the process runs.
"""

from __future__ import annotations

import functools
import json
import signal
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import vosk

from voicesim.audio import SAMPLE_RATE, Audio, float_to_int16
from voicesim.errors import VoicesimError
from voicesim.transcript import Transcript, Word

# Kaldi logs every model load to stderr; the CLI promises clean, one-line errors.
vosk.SetLogLevel(-1)

CHUNK_S = 0.25
"""Chunk length :func:`transcribe` feeds Vosk; endpoints are checked once per chunk."""

MAX_POOLED_AUDIO_S = 1800.0
"""Audio a pooled Vosk recognizer may have heard before it is dropped.

Vosk adds each word's time to the recognizer's running sample count in single precision;
below half an hour that is off by about 0.1 ms at most, far from the 0.5 ms that would
change a time rounded to milliseconds, whatever the recognizer heard before.
"""
MAX_IDLE = 2
"""Idle recognizers kept per model; each holds its share of the composed graph in memory."""
STOP_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}
"""Ctrl-C and hang-ups: the CLI turns them into exceptions raised in the main thread."""


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Hold Ctrl-C and hang-ups while a Vosk object is built; they are raised again right after.

    Why: raised half-way through vosk's ``__init__`` (before it has its C handle), they
    leave an object whose ``__del__`` prints a traceback on the way out of a call that was
    meant to end with one clean line. Blocking them with a signal mask is not enough: the
    process's other threads (BLAS, PortAudio) would still take them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs signal handlers in the main thread only
        return
    arrived: list[int] = []
    handlers = {sig: signal.signal(sig, lambda number, _frame: arrived.append(number)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: not set from Python
        for number in dict.fromkeys(arrived):
            signal.raise_signal(number)


@dataclass(frozen=True)
class Partial:
    """The turn so far while the trainee is still speaking; may still change."""

    text: str
    """Closed segments plus Vosk's current guess, lower case, no punctuation."""
    words: tuple[Word, ...] = ()
    """The current guess's words with tentative timings (closed segments not repeated)."""


@dataclass(frozen=True)
class Final:
    """A stretch of speech Vosk closed at a pause; its words will not change any more."""

    transcript: Transcript
    """This segment's words only, times from the start of the turn."""


def load_model(path: str | Path) -> vosk.Model:
    """Load the Vosk model folder at `path` without feature dither, once per process and model state."""
    from voicesim.models import dither_free

    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise VoicesimError(
            f"Vosk model folder {folder} does not exist; "
            "give an unpacked model folder (`voicesim models list` shows the installed ones)"
        )
    return _load_model_once(str(dither_free(folder)), str(folder))


@functools.cache
def _load_model_once(view: str, folder: str) -> vosk.Model:
    try:
        with _stop_signals_held():
            return vosk.Model(view)
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise VoicesimError(
            f"Vosk could not load a model from {folder} ({exc}); check it is an unpacked Vosk model or fetch it again"
        ) from None


def model_for(lang: str = "en", model: vosk.Model | str | Path | None = None) -> vosk.Model:
    """The model to use: a loaded one as is, a folder path, or the installed model for `lang`."""
    if isinstance(model, vosk.Model):
        return model
    from voicesim.models import resolve_model_path

    return load_model(resolve_model_path(lang, None if model is None else str(model)))


@dataclass
class _Slot:
    """A Vosk recognizer and how much audio it has heard (its clock counts from its creation)."""

    vosk: vosk.KaldiRecognizer
    rate: int
    fed: int = 0
    """Samples given to this Vosk recognizer since it was created."""


class _Pool:
    """Vosk recognizers that finished their work, kept to be used again.

    Why: the small models decode with a graph (HCLr composed with Gr) that Vosk builds
    lazily, state by state, and caches inside each recognizer. A new recognizer builds it
    again from nothing; a used one finds most states it needs already built, and decodes
    in about half the CPU time (scripts/bench_speech, "used recognizer" rows). The result is the
    same either way: the composition is deterministic and each turn starts Vosk's
    feature pipeline afresh (see :meth:`Recognizer._final_result`).
    """

    def __init__(self) -> None:
        self._idle: weakref.WeakKeyDictionary[vosk.Model, list[_Slot]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def take(self, model: vosk.Model, sample_rate: int) -> _Slot:
        with self._lock:
            slots = self._idle.get(model, [])
            slot = next((s for s in slots if s.rate == sample_rate), None)
            if slot is not None:
                slots.remove(slot)
                return slot
        with _stop_signals_held():
            return _Slot(vosk.KaldiRecognizer(model, sample_rate), sample_rate)

    def give_back(self, model_ref: weakref.ref, slot: _Slot) -> None:
        model = model_ref()
        if model is None or slot.fed / slot.rate > MAX_POOLED_AUDIO_S:
            return
        with self._lock:
            slots = self._idle.setdefault(model, [])
            if len(slots) < MAX_IDLE:
                slots.append(slot)


_POOL = _Pool()


class Recognizer:
    """Streaming recognition of one turn at a time; feed 16 kHz mono int16 chunks from one thread.

    `partials=False` skips the live-view guesses (cheaper) when only the finished turn matters;
    `partial_words=False` keeps the guesses but without word timings, which lets Vosk
    refresh them every chunk instead of about once a second.
    The Vosk recognizer underneath comes from a pool and goes back to it when this
    object is gone, so its decoding graph stays built (see :class:`_Pool`).
    """

    def __init__(self, model: vosk.Model, sample_rate: int = SAMPLE_RATE, partials: bool = True,
                 partial_words: bool = True) -> None:
        self._slot = _POOL.take(model, sample_rate)
        weakref.finalize(self, _POOL.give_back, weakref.ref(model), self._slot)
        self._vosk = self._slot.vosk
        self._vosk.SetWords(True)
        self._vosk.SetPartialWords(partials and partial_words)
        self._rate = sample_rate
        self._partials = partials
        self._final_result()  # a pooled recognizer may have been dropped mid-turn
        self._turn_start = self._slot.fed
        self._segments: list[Transcript] = []
        self._last_partial = ""

    @property
    def turn_duration_s(self) -> float:
        return (self._slot.fed - self._turn_start) / self._rate

    def feed(self, chunk: np.ndarray | bytes) -> Partial | Final | None:
        """Add audio; returns a closed segment, a changed partial text, or None (nothing new)."""
        pcm = _pcm16_bytes(chunk)
        self._slot.fed += len(pcm) // 2
        if self._vosk.AcceptWaveform(pcm):
            segment = self._transcript(json.loads(self._vosk.Result()).get("result", []))
            if not segment.words:
                return None
            self._segments.append(segment)
            self._last_partial = ""
            return Final(segment)
        if not self._partials:
            return None
        return self._partial()

    def finish(self) -> Transcript:
        """Close the turn: every word since the last finish; the next chunk starts a new turn."""
        last = self._transcript(self._final_result())
        duration = round(self.turn_duration_s, 3)
        # Vosk counts in whole 30 ms frames; clamping keeps the promise that every word lies
        # inside the turn even if a last frame were to run past the audio (not seen so far).
        words = tuple(
            replace(w, start_s=min(w.start_s, duration), end_s=min(w.end_s, duration))
            for seg in (*self._segments, last)
            for w in seg.words
        )
        turn = Transcript(text=" ".join(w.word for w in words), words=words, duration_s=duration)
        self._start_turn()
        return turn

    def _final_result(self) -> list[dict]:
        """Vosk's last words, leaving it with no audio of this turn and its clock at the samples fed."""
        # Right after a closed segment Vosk's FinalResult is a no-op that keeps the segment's
        # undecoded tail, which would leak into the next turn and skew its clock. An empty
        # chunk reopens the utterance, so FinalResult really flushes and restarts.
        self._vosk.AcceptWaveform(b"")
        return json.loads(self._vosk.FinalResult()).get("result", [])

    def _start_turn(self) -> None:
        self._turn_start = self._slot.fed
        self._segments = []
        self._last_partial = ""

    def _partial(self) -> Partial | None:
        result = json.loads(self._vosk.PartialResult())
        text = " ".join(t for t in (*(s.text for s in self._segments), result.get("partial", "")) if t)
        if text == self._last_partial:
            return None
        self._last_partial = text
        return Partial(text=text, words=self._transcript(result.get("partial_result", [])).words)

    def _transcript(self, vosk_words: list[dict]) -> Transcript:
        offset = self._turn_start / self._rate
        words = tuple(
            Word(
                word=w["word"],
                start_s=round(max(0.0, w["start"] - offset), 3),
                end_s=round(max(0.0, w["end"] - offset), 3),
                conf=round(w["conf"], 3),
            )
            for w in vosk_words
        )
        return Transcript(text=" ".join(w.word for w in words), words=words)


def transcribe(audio: Audio, lang: str = "en", model: vosk.Model | str | Path | None = None) -> Transcript:
    """All words in `audio` with timings; `model` is a loaded model, a folder, or None for `lang`'s."""
    if audio.sample_rate != SAMPLE_RATE:
        raise ValueError(f"transcribe needs {SAMPLE_RATE} Hz audio, got {audio.sample_rate} Hz")
    rec = Recognizer(model_for(lang, model), partials=False)
    pcm = audio.to_int16()
    step = int(CHUNK_S * SAMPLE_RATE)
    for start in range(0, len(pcm), step):
        rec.feed(pcm[start : start + step])
    return rec.finish()


def _pcm16_bytes(chunk: np.ndarray | bytes) -> bytes:
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        pcm = bytes(chunk)
        if len(pcm) % 2:
            raise ValueError(f"16-bit PCM chunk has an odd number of bytes ({len(pcm)})")
        return pcm
    arr = np.asarray(chunk)
    if arr.dtype.kind == "f":
        arr = float_to_int16(arr)
    if arr.dtype != np.int16:
        raise TypeError(f"audio chunk must be int16 or float samples, got {arr.dtype}")
    return np.ascontiguousarray(arr.reshape(-1)).tobytes()
