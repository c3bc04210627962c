"""Prosody against known truth: synthetic voices of known pitch and level, Piper speech at
two asked rates (timed by the real Vosk model), silence and noise."""

from __future__ import annotations

import numpy as np
import pytest

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.prosody import count_syllables, filler_share, measure_tone
from voicesim.transcript import Word


def harmonic_voice(f0_hz, seconds: float = 1.5, rms_dbfs: float = -20.0, harmonics: int = 12) -> Audio:
    """A buzz like a sustained vowel: harmonics falling 6 dB per octave; f0_hz may be a per-sample track."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = np.broadcast_to(np.asarray(f0_hz, dtype=float), t.shape)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    x = sum(np.sin(k * phase + k) / k for k in range(1, harmonics + 1))
    x *= 10 ** (rms_dbfs / 20) / np.sqrt(np.mean(x**2))
    return Audio(x.astype(np.float32))


@pytest.mark.parametrize("f0", [70.0, 98.0, 123.5, 180.0, 247.0, 330.0, 440.0])
def test_pitch_of_a_harmonic_voice_within_2_percent(f0):
    m = measure_tone(harmonic_voice(f0), [])
    assert m.speech_found
    assert m.pitch_median_hz == pytest.approx(f0, rel=0.02)
    assert m.pitch_range_semitones < 0.5  # a steady voice has no range


@pytest.mark.parametrize("level", [-6.0, -18.0, -30.0, -42.0])
def test_loudness_of_a_known_level_within_half_a_db(level):
    m = measure_tone(harmonic_voice(150.0, rms_dbfs=level), [])
    assert m.loudness_dbfs == pytest.approx(level, abs=0.5)
    assert m.loudness_variability_db < 0.5


def test_peak_of_a_sine_of_known_amplitude():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    m = measure_tone(Audio((0.25 * np.sin(2 * np.pi * 200.5 * t)).astype(np.float32)), [])
    assert m.peak_dbfs == pytest.approx(20 * np.log10(0.25), abs=0.1)
    assert m.loudness_dbfs == pytest.approx(20 * np.log10(0.25 / np.sqrt(2)), abs=0.5)


def test_pitch_range_in_semitones_of_two_notes_an_octave_apart():
    audio = Audio.concat([harmonic_voice(110.0, 1.0), harmonic_voice(220.0, 1.0)])
    m = measure_tone(audio, [])
    assert m.pitch_range_semitones == pytest.approx(12.0, abs=0.3)


@pytest.mark.parametrize("end_hz, rising", [(160.0, True), (100.0, False)])
def test_final_rise_and_fall(end_hz, rising):
    steady = np.full(int(1.0 * SAMPLE_RATE), 125.0)
    glide = np.geomspace(125.0, end_hz, int(0.4 * SAMPLE_RATE))
    m = measure_tone(harmonic_voice(np.concatenate([steady, glide]), seconds=1.4), [])
    expected = 12 * np.log2(end_hz / 125.0)
    assert m.final_pitch_change_semitones == pytest.approx(expected, abs=1.0)
    assert m.rising_end is rising


def test_rate_pauses_and_delay_from_word_timings():
    # 10 words from 0.5 s to 5.5 s: 120 words per minute; 0.2 s gaps are articulation, one 1.0 s gap a pause
    starts = [0.5, 1.0, 1.5, 2.0, 2.5, 3.8, 4.2, 4.6, 5.0, 5.2]
    words = [Word("word", s, s + 0.3) for s in starts[:-1]] + [Word("word", 5.2, 5.5)]
    m = measure_tone(harmonic_voice(120.0, seconds=6.0), words, fillers=())
    assert m.words_per_minute == pytest.approx(120.0)
    assert m.syllables_per_second == pytest.approx(2.0)
    assert m.delay_before_first_word_s == pytest.approx(0.5)
    assert (m.pause_count, m.pause_total_s, m.longest_pause_s) == (1, pytest.approx(1.0), pytest.approx(1.0))


def test_fillers_single_and_multi_word():
    assert filler_share(["Um,", "I", "you", "know", "uh", "agree"], {"um", "uh", "you know"}) == (4, 4 / 6)
    assert filler_share([], {"um"}) == (0, 0.0)


def test_syllable_estimate():
    assert [count_syllables(w) for w in ("frustrating", "sorry", "Entschuldigung", "hmm")] == [3, 2, 4, 1]


def test_silence_is_no_speech():
    m = measure_tone(Audio.silence(2.0), [])
    assert not m.speech_found and "silence" in m.reason
    assert m.loudness_dbfs is None and m.pitch_median_hz is None and m.words_per_minute is None


@pytest.mark.parametrize("level_dbfs", [-40.0, -20.0, -6.0])
def test_white_noise_is_no_speech(level_dbfs):
    rng = np.random.default_rng(7)
    noise = rng.standard_normal(3 * SAMPLE_RATE) * 10 ** (level_dbfs / 20)
    m = measure_tone(Audio(noise.astype(np.float32)), [Word("the", 0.5, 0.7)])
    assert not m.speech_found and "noise" in m.reason
    assert m.loudness_dbfs is None and m.pitch_median_hz is None and m.words_per_minute is None


def test_audio_shorter_than_one_block_is_no_speech():
    assert not measure_tone(Audio(np.ones(100, dtype=np.float32) * 0.1), []).speech_found


SENTENCE = (
    "I completely understand how frustrating this must be, and I am sorry for the trouble "
    "with your order. Let me check the tracking number and call you back this afternoon."
)


def _spoken_span_s(audio: Audio) -> float:
    """From the first to the last 10 ms block above -40 dBFS: the speech, measured without the ASR."""
    x = audio.samples[: len(audio.samples) // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(10 * np.log10(np.mean(x.astype(float) ** 2, axis=1) + 1e-12) > -40)
    return (loud[-1] - loud[0] + 1) * 0.01


@pytest.fixture(scope="module")
def two_rates(en_model):
    from trainee_voice import speak

    from voicesim.asr import transcribe

    out = {}
    for scale in (0.8, 1.5):  # Piper's length_scale: 1.5 is slower, 0.8 faster
        audio = speak(SENTENCE, scale)
        out[scale] = (audio, measure_tone(audio, transcribe(audio, "en", en_model).words))
    return out


def test_piper_speech_at_two_rates_in_order_and_near_the_asked_rate(two_rates):
    slow, fast = two_rates[1.5][1], two_rates[0.8][1]
    assert slow.speech_found and fast.speech_found
    assert fast.words_per_minute > slow.words_per_minute
    assert fast.syllables_per_second > slow.syllables_per_second
    # The asked rate is what Piper really spoke: the sentence's words over the audible span.
    # (Piper does not scale linearly: length_scale 1.5 vs 0.8 gives about 1.5x, not 1.875x.)
    words = len(SENTENCE.split())
    expected = {scale: words / _spoken_span_s(audio) * 60 for scale, (audio, _) in two_rates.items()}
    assert slow.words_per_minute == pytest.approx(expected[1.5], rel=0.1)
    assert fast.words_per_minute == pytest.approx(expected[0.8], rel=0.1)
    ratio = fast.words_per_minute / slow.words_per_minute
    assert ratio == pytest.approx(expected[0.8] / expected[1.5], rel=0.1) and ratio > 1.3


def test_piper_speech_has_a_male_voice_pitch_and_a_sane_level(two_rates):
    for _, m in two_rates.values():
        assert 70 < m.pitch_median_hz < 180  # Piper's "joe" is a male voice
        assert -40 < m.loudness_dbfs < -6 and m.peak_dbfs <= 0.5
        assert m.pitch_range_semitones < 12  # read calmly, it stays within an octave
