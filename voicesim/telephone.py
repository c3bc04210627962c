"""The telephone line between the customer and the trainee's headset.

A call-center agent hears customers through a narrowband phone line, not studio
audio: only 300-3400 Hz pass and the call was sampled at 8 kHz on the way. A real
handset band-limits speech but does not bury it in noise: the hiss is faint
(-65 dBFS, some 40 dB below the customer's speech), which keeps the customer easy to
follow (BENCHMARKS.md, "Customer voice"). Pure numpy/scipy, no I/O, and deterministic: the hiss
comes from a fixed seed, so the same audio in gives the same samples out.

>>> import numpy as np
>>> from voicesim.audio import Audio
>>> from voicesim.telephone import LineSettings, telephone_line
>>> tone = Audio(np.sin(2 * np.pi * 100 * np.arange(16000) / 16000).astype(np.float32))
>>> phoned = telephone_line(tone, LineSettings(noise_dbfs=None))
>>> bool(np.abs(phoned.samples).max() < 0.1)   # 100 Hz hum does not pass the line
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

from voicesim.audio import Audio

NARROWBAND_RATE = 8000
"""Sample rate of a classic (G.711) telephone call."""


@dataclass(frozen=True)
class LineSettings:
    """How the telephone line colours the customer's voice."""

    low_hz: float = 300.0
    """Lower edge of the pass band."""
    high_hz: float = 3400.0
    """Upper edge of the pass band."""
    order: int = 6
    """Butterworth order of each band edge; 6 gives a steep but ringing-free edge."""
    narrowband: bool = True
    """Pass the audio through 8 kHz sampling and back, like a real phone call."""
    noise_dbfs: float | None = -65.0
    """RMS level of the line hiss in dBFS; None for a silent line."""
    seed: int = 0
    """Seed of the hiss, so the same input always gives the same output."""


def telephone_line(audio: Audio, line: LineSettings = LineSettings()) -> Audio:
    """`audio` as heard over the telephone `line` (same rate and length)."""
    samples = audio.samples.astype(np.float64)
    if line.noise_dbfs is not None:
        # Hiss joins before the filters, so it is band-limited like real line noise.
        samples = samples + line_noise(len(samples), line.noise_dbfs, line.seed)
    if line.narrowband and audio.sample_rate > NARROWBAND_RATE:
        samples = _through_narrowband(samples, audio.sample_rate)
    samples = band_pass(samples, audio.sample_rate, line.low_hz, line.high_hz, line.order)
    return Audio(np.clip(samples, -1.0, 1.0).astype(np.float32), audio.sample_rate)


def band_pass(samples: np.ndarray, rate: int, low_hz: float, high_hz: float, order: int = 6) -> np.ndarray:
    """Butterworth band-pass; causal (sosfilt) like a real line, so no pre-echo."""
    sos = butter(order, [low_hz, high_hz], btype="bandpass", fs=rate, output="sos")
    return sosfilt(sos, samples)


def line_noise(n: int, dbfs: float, seed: int) -> np.ndarray:
    """`n` samples of white hiss at `dbfs` RMS, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n) * 10.0 ** (dbfs / 20.0)


def _through_narrowband(samples: np.ndarray, rate: int) -> np.ndarray:
    """Down to 8 kHz and back: the anti-alias filters cut what a phone call cannot carry."""
    down = resample_poly(samples, NARROWBAND_RATE, rate)
    up = resample_poly(down, rate, NARROWBAND_RATE)
    return _fit_length(up, len(samples))


def _fit_length(samples: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad to `n` samples (resampling odd lengths can be off by one)."""
    if len(samples) >= n:
        return samples[:n]
    return np.concatenate([samples, np.zeros(n - len(samples))])
