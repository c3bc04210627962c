"""The telephone line: band limits measured on the output spectrum, deterministic hiss."""

from __future__ import annotations

import numpy as np
import pytest

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.telephone import LineSettings, line_noise, telephone_line

QUIET_LINE = LineSettings(noise_dbfs=None)


def band_energy_db(samples: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Energy (dB) of the spectrum between low_hz and high_hz."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    band = (freqs >= low_hz) & (freqs < high_hz)
    return float(10 * np.log10(spectrum[band].sum() + 1e-20))


def white_noise(seconds: float = 2.0) -> Audio:
    return Audio((0.2 * np.random.default_rng(42).standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32))


def tone(hz: float, seconds: float = 1.0) -> Audio:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return Audio((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32))


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


@pytest.mark.parametrize("low_hz, high_hz", [(20, 200), (4000, 7900)])
def test_line_removes_energy_outside_the_voice_band(low_hz, high_hz):
    noise = white_noise()
    phoned = telephone_line(noise, QUIET_LINE)
    lost = band_energy_db(noise.samples, low_hz, high_hz) - band_energy_db(phoned.samples, low_hz, high_hz)
    assert lost > 30, f"{low_hz}-{high_hz} Hz only {lost:.1f} dB quieter"


def test_line_keeps_energy_inside_the_voice_band():
    noise = white_noise()
    phoned = telephone_line(noise, QUIET_LINE)
    lost = band_energy_db(noise.samples, 500, 3000) - band_energy_db(phoned.samples, 500, 3000)
    assert abs(lost) < 1.5, f"500-3000 Hz changed by {lost:.1f} dB"


def test_edges_sit_at_300_and_3400_hz():
    """Tones just inside the band pass far louder than tones just outside it."""
    passed = {hz: rms(telephone_line(tone(hz), QUIET_LINE).samples[4000:]) for hz in (150, 400, 3000, 3800)}
    assert passed[400] > 4 * passed[150]
    assert passed[3000] > 4 * passed[3800]


def test_line_keeps_rate_and_length():
    audio = Audio(white_noise(1.2345).samples)
    phoned = telephone_line(audio)
    assert phoned.sample_rate == audio.sample_rate
    assert len(phoned.samples) == len(audio.samples)
    assert phoned.samples.dtype == np.float32


def test_hiss_is_deterministic_and_at_its_level():
    silence = Audio.silence(2.0)
    line = LineSettings(noise_dbfs=-40.0, seed=7, narrowband=False)
    first, second = telephone_line(silence, line), telephone_line(silence, line)
    assert first.samples.tobytes() == second.samples.tobytes()
    # Band-limiting keeps (3400-300)/8000 of white noise's power: about -4 dB.
    level = 20 * np.log10(rms(first.samples))
    assert -47 < level < -41
    other_seed = telephone_line(silence, LineSettings(noise_dbfs=-40.0, seed=8, narrowband=False))
    assert other_seed.samples.tobytes() != first.samples.tobytes()


def test_silent_line_adds_nothing():
    assert not telephone_line(Audio.silence(0.5), QUIET_LINE).samples.any()


def test_narrowband_removes_what_8khz_cannot_carry():
    wide = LineSettings(noise_dbfs=None, high_hz=7000, narrowband=False)
    narrow = LineSettings(noise_dbfs=None, high_hz=7000, narrowband=True)
    noise = white_noise()
    above_4k_wide = band_energy_db(telephone_line(noise, wide).samples, 4500, 6800)
    above_4k_narrow = band_energy_db(telephone_line(noise, narrow).samples, 4500, 6800)
    assert above_4k_wide - above_4k_narrow > 30


def test_line_noise_level():
    assert abs(20 * np.log10(rms(line_noise(SAMPLE_RATE, -30.0, 0))) + 30) < 0.5
