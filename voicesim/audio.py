"""The one canonical audio value (mono float32 samples at 16 kHz) and its conversions and levels.

Every stage passes :class:`Audio` around; conversions to the int16 bytes that
Vosk and PortAudio want happen at the edges.

>>> import numpy as np
>>> a = Audio(np.zeros(16000, dtype=np.float32))
>>> a.duration_s
1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16000
"""Samples per second of every :class:`Audio` inside voicesim."""

DIGITAL_SILENCE_DBFS = -120.0
"""Level given for digital silence (RMS at or below 1e-6), so a level is never -inf."""


@dataclass(frozen=True)
class Audio:
    """Mono audio, float32 in [-1, 1]."""

    samples: np.ndarray = field(repr=False)
    """1-D float32 array."""

    sample_rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        arr = np.asarray(self.samples, dtype=np.float32)
        if arr.ndim != 1:
            raise ValueError(f"Audio must be mono (1-D), got shape {arr.shape}")
        object.__setattr__(self, "samples", arr)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def to_int16(self) -> np.ndarray:
        """Samples as int16, clipped, for Vosk and 16-bit WAV."""
        return float_to_int16(self.samples)

    @classmethod
    def silence(cls, seconds: float, sample_rate: int = SAMPLE_RATE) -> Audio:
        return cls(np.zeros(int(round(seconds * sample_rate)), dtype=np.float32), sample_rate)

    @classmethod
    def concat(cls, parts: list[Audio]) -> Audio:
        if not parts:
            return cls.silence(0.0)
        rates = {p.sample_rate for p in parts}
        if len(rates) != 1:
            raise ValueError(f"cannot join audio of different rates {sorted(rates)}")
        return cls(np.concatenate([p.samples for p in parts]), parts[0].sample_rate)


def float_to_int16(samples: np.ndarray) -> np.ndarray:
    # The same 32768 scale as int16_to_float, so int16 -> float -> int16 is lossless.
    scaled = np.round(np.asarray(samples, dtype=np.float32) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def int16_to_float(samples: np.ndarray) -> np.ndarray:
    """int16 samples (microphone chunks, 16-bit WAV) as float32 in [-1, 1)."""
    return (np.asarray(samples, dtype=np.float32) / 32768.0).astype(np.float32)


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of float samples in dBFS (full-scale sine = -3 dBFS); DIGITAL_SILENCE_DBFS when silent or empty."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    return float(20.0 * np.log10(rms)) if rms > 1e-6 else DIGITAL_SILENCE_DBFS


def block_levels_dbfs(samples: np.ndarray, block: int) -> np.ndarray:
    """Level in dBFS of each whole `block` samples (a tail shorter than a block is dropped); -120 at most for silence.

    Mean power in the log domain (``10*log10``), the same figure as :func:`level_dbfs`
    up to rounding in the last bit, computed for all blocks at once.
    """
    x = np.asarray(samples)
    n = len(x) // block
    power = np.mean(np.square(x[: n * block].reshape(n, block), dtype=np.float64), axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-12))
