"""The customer's voice: text to speech with pyttsx3 on espeak-ng, as in-memory Audio.

>>> from voicesim.tts import synthesize, persona_settings, cache_info
>>> line = synthesize("I have been waiting three weeks for my refund!", persona="angry")
>>> line.sample_rate, 1.0 < line.duration_s < 5.0
(16000, True)
>>> synthesize("I have been waiting three weeks for my refund!", persona="angry") is line
True
>>> cache_info().hits >= 1
True
>>> persona_settings("de", "calm").lang
'de'

Which espeak-ng voice speaks a language, and how fast, high and loud each persona
speaks, is data in ``voicesim/data/voices.toml``; a scenario can pass its own
:class:`VoiceSettings` instead. Unless ``phone_line=False`` the line then passes
through :func:`voicesim.telephone.telephone_line`, as a caller sounds on a headset.

Each line is rendered in a fresh worker process (:mod:`voicesim.tts_worker`, kept
started one ahead), so any thread may call :func:`synthesize` at any time and the same
line always gives the same samples. Rendered lines stay in an in-memory LRU cache, so
a repeated line costs nothing; the cached samples are read-only because callers share
them.

Set ``VOICESIM_ESPEAK_LIBRARY`` to a libespeak-ng shared library to use it instead of
the system's.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voicesim.audio import Audio
from voicesim.audiofile import to_sample_rate
from voicesim.errors import VoicesimError
from voicesim.resources import data_file
from voicesim.telephone import telephone_line

VOICES_FILE = data_file("voices.toml")
"""Voices per language and personas."""

CACHE_SIZE = 256
"""Rendered lines kept in memory (a 4 s line is 256 KB)."""

RENDER_TIMEOUT_S = 120.0
"""Longest a worker may take for one line before it is considered hung."""

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class VoiceSettings:
    """How espeak-ng speaks one customer."""

    rate: int = 175
    """Speaking rate in words per minute (espeak-ng accepts 80-450)."""
    pitch: int = 50
    """Base pitch 0-100; 50 is the voice's normal pitch."""
    volume: float = 1.0
    """Loudness 0-1."""
    variant: str = ""
    """espeak-ng voice variant (`espeak-ng --voices=variant`), e.g. "m3", "f2"; "" for the plain voice."""
    lang: str = "en"
    """voicesim language code; voices.toml names the espeak-ng voice that speaks it."""

    def __post_init__(self) -> None:
        problem = _settings_problem(self)
        if problem:
            raise VoicesimError(f"voice settings {self}: {problem}")


def _settings_problem(s: VoiceSettings) -> str | None:
    if not (isinstance(s.rate, int) and 80 <= s.rate <= 450):
        return f"rate {s.rate!r} must be a whole number of words per minute from 80 to 450"
    if not (isinstance(s.pitch, int) and 0 <= s.pitch <= 100):
        return f"pitch {s.pitch!r} must be a whole number from 0 to 100"
    if not (isinstance(s.volume, (int, float)) and 0.0 <= s.volume <= 1.0):
        return f"volume {s.volume!r} must be from 0 to 1"
    if not isinstance(s.variant, str) or any(c in s.variant for c in "+/ "):
        return f"variant {s.variant!r} must be a variant name like 'm3' (see `espeak-ng --voices=variant`)"
    return None


def synthesize(
    text: str,
    *,
    lang: str = "en",
    persona: str = "calm",
    phone_line: bool = True,
    voice: VoiceSettings | None = None,
) -> Audio:
    """`text` spoken by the customer: mono float32 at 16 kHz, samples read-only.

    `voice`, when given, replaces the `lang`/`persona` lookup in voices.toml.
    """
    words = " ".join(str(text).split())
    if not words:
        raise VoicesimError("nothing to say: the text is empty; give the customer's line as text")
    return _synthesize_cached(words, voice or persona_settings(lang, persona), phone_line)


def persona_settings(lang: str, persona: str) -> VoiceSettings:
    """The voice of `persona` ("calm", "angry", ...) in language `lang`, from voices.toml."""
    voices = _voices()
    _espeak_voice(lang)  # fail early, naming the languages there are
    personas = voices.get("personas", {})
    if persona not in personas:
        raise VoicesimError(f"no persona {persona!r} in {VOICES_FILE}; known personas: {', '.join(sorted(personas))}")
    try:
        return VoiceSettings(lang=lang, **personas[persona])
    except TypeError as exc:
        raise VoicesimError(f"persona {persona!r} in {VOICES_FILE}: {exc}; allowed keys: rate, pitch, volume, variant") from None


def cache_info() -> functools._CacheInfo:
    """Hits, misses and size of the rendered-line cache."""
    return _synthesize_cached.cache_info()


def clear_cache() -> None:
    """Forget every rendered line."""
    _synthesize_cached.cache_clear()


@functools.lru_cache(maxsize=CACHE_SIZE)
def _synthesize_cached(text: str, voice: VoiceSettings, phone_line: bool) -> Audio:
    samples, rate = _render(text, voice)
    audio = Audio(to_sample_rate(samples, rate))
    if phone_line:
        audio = telephone_line(audio)
    audio.samples.flags.writeable = False  # every caller of a cached line shares this array
    return audio


@functools.cache
def _voices() -> dict:
    try:
        return tomllib.loads(VOICES_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VoicesimError(f"cannot read the voice list {VOICES_FILE}: {exc}; reinstall voicesim") from None


def _espeak_voice(lang: str) -> str:
    known = _voices().get("languages", {})
    if lang not in known or "espeak_voice" not in known[lang]:
        raise VoicesimError(f"no customer voice for language {lang!r} in {VOICES_FILE}; known languages: {', '.join(sorted(known))}")
    return known[lang]["espeak_voice"]


def _render(text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
    """Samples and rate of `text` as espeak-ng speaks it, from a fresh worker process."""
    espeak_voice = _espeak_voice(voice.lang) + (f"+{voice.variant}" if voice.variant else "")
    with tempfile.TemporaryDirectory(prefix="voicesim-tts-") as folder:
        wav = Path(folder) / "line.wav"
        request = {
            "text": text,
            "voice": espeak_voice,
            "variant": voice.variant,
            "rate": voice.rate,
            "pitch": voice.pitch,
            "volume": float(voice.volume),
            "wav": str(wav),
        }
        _run_worker(_WORKERS.take(), json.dumps(request))
        samples, rate = sf.read(wav, dtype="float32")
    return samples, rate


def _run_worker(worker: subprocess.Popen, request: str) -> None:
    try:
        _, err = worker.communicate(request + "\n", timeout=RENDER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate()
        raise VoicesimError(f"espeak-ng took longer than {RENDER_TIMEOUT_S:.0f} s for one line; check `espeak-ng 'hello'` works") from None
    if worker.returncode != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"it exited with code {worker.returncode}"
        raise VoicesimError(f"text to speech failed: {reason}")


class _SpareWorker:
    """Keeps one worker process started ahead, so espeak-ng is loaded before a line arrives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: subprocess.Popen | None = None

    def take(self) -> subprocess.Popen:
        with self._lock:
            worker = self._spare or _start_worker()
            self._spare = _start_worker()
        return worker

    def close(self) -> None:
        with self._lock:
            worker, self._spare = self._spare, None
        if worker is not None:
            worker.communicate("")  # an empty request makes an unused worker exit at once


def _start_worker() -> subprocess.Popen:
    env = dict(os.environ)
    # The worker must import this same voicesim, also when it runs from a source checkout.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "voicesim.tts_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,  # pyttsx3 prints "Audio saved to ..." there
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


_WORKERS = _SpareWorker()
atexit.register(_WORKERS.close)
