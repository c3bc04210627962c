"""Audio files: every common layout loads as 16 kHz mono; bad files give one clear VoicesimError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.audiofile import load_audio, write_wav
from voicesim.errors import VoicesimError

# Largest error one quantization step of each layout can cause on full-scale [-1, 1] samples.
LAYOUT_TOLERANCE = {
    "PCM_U8": 1 / 64,
    "PCM_16": 1 / 16384,
    "PCM_24": 1e-6,
    "PCM_32": 1e-6,
    "FLOAT": 1e-6,
    "DOUBLE": 1e-6,
}


@pytest.fixture(scope="module")
def jfk(real_speech_dir: Path) -> Audio:
    return load_audio(real_speech_dir / "jfk.flac")


def test_flac_44k_stereo_24bit_becomes_16k_mono(jfk: Audio) -> None:
    assert jfk.sample_rate == SAMPLE_RATE
    assert jfk.samples.dtype == np.float32 and jfk.samples.ndim == 1
    assert jfk.duration_s == pytest.approx(11.0, abs=0.001)
    assert 0.1 < np.max(np.abs(jfk.samples)) <= 1.0


@pytest.mark.parametrize("subtype", sorted(LAYOUT_TOLERANCE))
def test_every_wav_sample_width_loads_the_same_samples(subtype: str, jfk: Audio, tmp_path: Path) -> None:
    path = tmp_path / f"jfk-{subtype}.wav"
    sf.write(path, jfk.samples, SAMPLE_RATE, subtype=subtype)
    loaded = load_audio(path)
    assert len(loaded.samples) == len(jfk.samples)
    assert np.max(np.abs(loaded.samples - jfk.samples)) <= LAYOUT_TOLERANCE[subtype]


@pytest.mark.parametrize("fmt", ["MP3", "OGG"])
def test_compressed_formats_load_close_to_the_original(fmt: str, jfk: Audio, tmp_path: Path) -> None:
    path = tmp_path / f"jfk.{fmt.lower()}"
    sf.write(path, jfk.samples, SAMPLE_RATE, format=fmt)
    loaded = load_audio(path)
    assert loaded.duration_s == pytest.approx(jfk.duration_s, abs=0.05)
    n = min(len(loaded.samples), len(jfk.samples))
    assert np.corrcoef(loaded.samples[:n], jfk.samples[:n])[0, 1] > 0.99


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_any_rate_is_resampled_to_16k_keeping_pitch(rate: int, tmp_path: Path) -> None:
    t = np.arange(int(1.5 * rate)) / rate
    path = tmp_path / f"tone-{rate}.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440.0 * t), rate, subtype="PCM_16")
    loaded = load_audio(path)
    assert loaded.duration_s == pytest.approx(1.5, abs=1e-3)
    spectrum = np.abs(np.fft.rfft(loaded.samples))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(loaded.samples)
    assert peak_hz == pytest.approx(440.0, abs=2.0)


def test_stereo_is_averaged_to_mono(jfk: Audio, tmp_path: Path) -> None:
    path = tmp_path / "left-only.wav"
    sf.write(path, np.stack([jfk.samples, np.zeros_like(jfk.samples)], axis=1), SAMPLE_RATE, subtype="FLOAT")
    assert np.allclose(load_audio(path).samples, jfk.samples / 2, atol=1e-6)


def test_float_wav_beyond_full_scale_is_clipped(tmp_path: Path) -> None:
    path = tmp_path / "hot.wav"
    sf.write(path, np.array([0.5, 1.7, -2.5, 0.0], dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    assert load_audio(path).samples.tolist() == [0.5, 1.0, -1.0, 0.0]


def test_write_wav_is_16bit_mono_and_round_trips(jfk: Audio, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "out.wav", jfk)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    # Audio scales by 32767 on the way out and 32768 on the way in, so allow one step.
    diff = load_audio(path).to_int16().astype(np.int32) - jfk.to_int16()
    assert np.max(np.abs(diff)) <= 1


def test_write_wav_replaces_whole_file_and_leaves_no_temp_files(jfk: Audio, tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    write_wav(path, jfk)
    write_wav(path, Audio.silence(0.5))
    assert sf.info(path).frames == SAMPLE_RATE // 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_write_wav_same_audio_gives_identical_bytes(jfk: Audio, tmp_path: Path) -> None:
    a, b = write_wav(tmp_path / "a.wav", jfk), write_wav(tmp_path / "b.wav", jfk)
    assert a.read_bytes() == b.read_bytes()


def test_write_wav_into_missing_folder_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(VoicesimError, match="does not exist"):
        write_wav(tmp_path / "nope" / "out.wav", Audio.silence(0.1))


def truncated_wav(folder: Path, jfk: Audio) -> Path:
    """A WAV cut off half-way, as a crashed recorder leaves it: header promises all samples."""
    whole = write_wav(folder / "whole.wav", jfk).read_bytes()
    path = folder / "truncated.wav"
    path.write_bytes(whole[: len(whole) // 2])
    return path


BAD_FILES = {
    "missing": (lambda d, jfk: d / "no-such.wav", "does not exist"),
    "folder": (lambda d, jfk: d, "is a folder"),
    "empty": (lambda d, jfk: _write(d / "empty.wav", b""), "is empty"),
    "not audio": (lambda d, jfk: _write(d / "notes.wav", b"just some text, not a recording\n" * 20), "not an audio"),
    "truncated wav": (truncated_wav, "truncated"),
    "header only": (lambda d, jfk: write_wav(d / "header.wav", Audio.silence(0.0)), "no samples"),
    "cut flac": (lambda d, jfk: _cut_flac(d), "damaged or truncated"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _cut_flac(folder: Path) -> Path:
    from conftest import REAL_SPEECH

    whole = (REAL_SPEECH / "jfk.flac").read_bytes()
    return _write(folder / "cut.flac", whole[: len(whole) // 2])


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_gives_one_line_naming_the_file(case: str, jfk: Audio, tmp_path: Path) -> None:
    make, expected = BAD_FILES[case]
    path = make(tmp_path, jfk)
    with pytest.raises(VoicesimError) as err:
        load_audio(path)
    message = str(err.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message


def test_int16_float_round_trip_is_lossless():
    from voicesim.audio import float_to_int16, int16_to_float

    every = np.arange(-32768, 32768, dtype=np.int16)
    assert np.array_equal(float_to_int16(int16_to_float(every)), every)
    assert float_to_int16(np.array([2.0, -2.0], dtype=np.float32)).tolist() == [32767, -32768]
