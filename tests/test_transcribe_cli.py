"""`voicesim transcribe` as a user runs it: its stdout, stderr and exit code (in-process, tests/cli_runner.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_cli
from wer import word_error_rate

from voicesim.audio import SAMPLE_RATE
from voicesim.audiofile import load_audio, to_sample_rate, write_wav


def voicesim(*args: str) -> subprocess.CompletedProcess:
    return run_cli(*args)


def assert_one_line_error(proc: subprocess.CompletedProcess, *expected: str) -> str:
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("voicesim: error: ")
    for text in expected:
        assert text in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def jfk_path(real_speech_dir: Path) -> Path:
    return real_speech_dir / "jfk.flac"


@pytest.fixture(scope="module")
def jfk_json(jfk_path: Path) -> tuple[str, dict]:
    proc = voicesim("transcribe", str(jfk_path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout, json.loads(proc.stdout)


def test_json_has_exactly_text_duration_and_words(jfk_json, real_speech_references) -> None:
    _, out = jfk_json
    assert list(out) == ["text", "duration_s", "words"]
    assert out["duration_s"] == 11.0
    assert word_error_rate(real_speech_references["jfk.flac"], out["text"]) <= 0.15
    assert out["text"] == " ".join(w["word"] for w in out["words"])
    for w in out["words"]:
        assert list(w) == ["word", "start_s", "end_s", "conf"]
        for key in ("start_s", "end_s", "conf"):
            assert round(w[key], 3) == w[key]
        assert 0 <= w["start_s"] <= w["end_s"] <= out["duration_s"]


def test_json_output_is_byte_identical_across_runs(jfk_path: Path, jfk_json) -> None:
    assert voicesim("transcribe", str(jfk_path), "--json").stdout == jfk_json[0]


def test_plain_output_is_the_text(real_speech_dir: Path, real_speech_references) -> None:
    proc = voicesim("transcribe", str(real_speech_dir / "vosk-digits.wav"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    assert word_error_rate(real_speech_references["vosk-digits.wav"], lines[0]) <= 0.45


# Other widths and rates are covered in-process by test_audiofile.py; these two go end to end.
@pytest.mark.parametrize(("subtype", "rate"), [("PCM_U8", 16000), ("FLOAT", 22050)])
def test_other_wav_layouts_transcribe_as_well(
    subtype: str, rate: int, jfk_path: Path, real_speech_references, tmp_path: Path
) -> None:
    jfk16 = load_audio(jfk_path)
    path = tmp_path / f"jfk-{subtype}-{rate}.wav"
    sf.write(path, to_sample_rate(jfk16.samples, SAMPLE_RATE, rate), rate, subtype=subtype)
    assert sf.info(path).subtype == subtype
    proc = voicesim("transcribe", str(path))
    assert proc.returncode == 0, proc.stderr
    assert word_error_rate(real_speech_references["jfk.flac"], proc.stdout) <= 0.15


def test_silence_only_file_says_no_speech_found(tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    rng = np.random.default_rng(7)
    sf.write(path, rng.normal(0, 1e-4, 3 * SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")  # room-tone hiss
    assert_one_line_error(voicesim("transcribe", str(path)), f"no speech found in {path}")


def _truncated(folder: Path, jfk_path: Path) -> Path:
    whole = write_wav(folder / "whole.wav", load_audio(jfk_path)).read_bytes()
    path = folder / "cut.wav"
    path.write_bytes(whole[: len(whole) // 3])
    return path


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_INPUTS = {
    "missing file": (lambda d, jfk: d / "absent.wav", "does not exist"),
    "empty file": (lambda d, jfk: _written(d / "empty.wav", b""), "is empty"),
    "not audio": (lambda d, jfk: _written(d / "readme.wav", b"# not a recording\n" * 50), "not an audio file"),
    "truncated wav": (_truncated, "truncated"),
    "directory": (lambda d, jfk: d, "is a folder"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line(case: str, jfk_path: Path, tmp_path: Path) -> None:
    make, expected = BAD_INPUTS[case]
    path = make(tmp_path, jfk_path)
    assert_one_line_error(voicesim("transcribe", str(path)), expected, str(path))


@pytest.mark.parametrize("model", ["missing", "not a model"])
def test_bad_model_folder_gives_one_clear_line(model: str, jfk_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "absent" if model == "missing" else tmp_path
    assert_one_line_error(voicesim("transcribe", str(jfk_path), "--model", str(folder)), str(folder))


def test_unknown_language_names_the_known_ones(jfk_path: Path) -> None:
    assert_one_line_error(voicesim("transcribe", str(jfk_path), "--lang", "xx"), "'xx'", "en")
