"""`voicesim score` through the real CLI: JSON contract, determinism, terminal card, recordings, bad input.

The CLI runs in-process (tests/cli_runner.py); one test runs it as a real process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.audiofile import write_wav
from voicesim.scorecard import CHECK_IDS

REPO = Path(__file__).resolve().parents[1]
GOOD = "I'm so sorry about the delay, that must be frustrating. When did you order it? I'll confirm it in writing by email."


def voicesim(*args: str) -> subprocess.CompletedProcess:
    return run_cli("score", *args)


def contract(stdout: str) -> dict:
    obj = json.loads(stdout)
    assert list(obj) == ["lang", "transcript", "checks", "tone", "overall"]
    assert list(obj["checks"]) == list(CHECK_IDS)
    assert all(list(c) == ["passed", "score", "evidence", "tip"] for c in obj["checks"].values())
    assert isinstance(obj["overall"], int) and 0 <= obj["overall"] <= 100
    return obj


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voicesim: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_text_json_is_the_contract_and_byte_identical_twice():
    first, second = voicesim("--text", GOOD, "--lang", "en", "--json"), voicesim("--text", GOOD, "--lang", "en", "--json")
    assert first.returncode == 0 and first.stderr == ""
    assert first.stdout == second.stdout
    obj = contract(first.stdout)
    assert obj["transcript"] == GOOD and obj["checks"]["apology"]["passed"]
    assert obj["checks"]["apology"]["evidence"][0]["start_s"] is None
    assert obj["tone"]["measured"] is False


def test_german_text():
    text = "Es tut mir leid, das war unser Fehler. Wann haben Sie bestellt? Ich schicke Ihnen eine schriftliche Bestätigung."
    proc = voicesim("--text", text, "--lang", "de", "--json")
    obj = contract(proc.stdout)
    assert obj["lang"] == "de" and obj["checks"]["apology"]["passed"] and proc.stderr == ""
    assert obj["checks"]["calm_tone"]["evidence"][0]["text"].startswith("Stimme nicht gemessen")
    assert "Bestätigung" in proc.stdout and "\\u00e4" not in proc.stdout  # UTF-8 as is, not escaped


def test_terminal_card_has_ticks_crosses_evidence_tips_and_overall():
    proc = voicesim("--text", GOOD + " CALM DOWN!!", "--lang", "en")
    assert proc.returncode == 0
    out = proc.stdout
    assert "✓ apology" in out and "✗ calm_tone" in out and "✗ not_personal" in out
    assert '"CALM DOWN"' in out and "tip: " in out and "Overall " in out and "/100" in out
    assert "tone of voice not measured" in out


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    from trainee_voice import speak

    folder = tmp_path_factory.mktemp("score_cli")
    noise = np.random.default_rng(11).standard_normal(2 * SAMPLE_RATE) * 0.05
    files = {
        "reply": Audio.concat([Audio.silence(0.3), speak(GOOD, 1.7), Audio.silence(0.3)]),
        "silence": Audio.silence(2.0),
        "noise": Audio(noise.astype(np.float32)),
    }
    return {name: write_wav(folder / f"{name}.wav", audio) for name, audio in files.items()}


def test_recording_is_transcribed_timed_and_measured_byte_identically(recordings):
    first = voicesim(str(recordings["reply"]), "--lang", "en", "--json")
    second = voicesim(str(recordings["reply"]), "--lang", "en", "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    obj = contract(first.stdout)
    assert "sorry" in obj["transcript"] and obj["tone"]["measured"] is True
    assert obj["tone"]["words_per_minute"] > 0 and obj["tone"]["pitch_median_hz"] > 0
    assert obj["checks"]["apology"]["passed"]
    assert obj["checks"]["apology"]["evidence"][0]["start_s"] is not None


def test_recording_terminal_card_shows_the_measured_tone(recordings):
    out = voicesim(str(recordings["reply"]), "--lang", "en").stdout
    assert "recording" in out and "words per minute" in out and "dBFS" in out


@pytest.mark.parametrize("name", ["silence", "noise"])
def test_recording_without_speech_is_a_card_with_the_reason(recordings, name):
    proc = voicesim(str(recordings[name]), "--lang", "en", "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    obj = contract(proc.stdout)
    assert obj["overall"] == 0 and obj["tone"]["measured"] is False
    assert "no speech" in (obj["tone"]["reason"] or "") or obj["transcript"] == ""
    assert proc.stderr.startswith("voicesim: note: ")
    plain = voicesim(str(recordings[name]), "--lang", "en")
    assert plain.returncode == 0 and "note: " in plain.stdout


@pytest.mark.parametrize(
    "text, note",
    [
        ("", "empty reply"),
        ("um uh um", "only filler words"),
        ("Es tut mir leid, das war unser Fehler. Wann ist das passiert?", "looks like Deutsch"),
    ],
)
def test_limited_replies_give_a_card_and_a_note(text, note):
    proc = voicesim("--text", text, "--lang", "en", "--json")
    assert proc.returncode == 0
    contract(proc.stdout)
    assert note in proc.stderr and proc.stderr.startswith("voicesim: note: ")


def test_ten_thousand_words():
    text = " ".join([GOOD] * (10_000 // len(GOOD.split()) + 1))
    proc = voicesim("--text", text, "--lang", "en", "--json")
    assert proc.returncode == 0
    assert len(contract(proc.stdout)["transcript"].split()) >= 10_000
    assert "very long reply" in proc.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (["--text", GOOD, "--lang", "xx"], "unknown language 'xx'"),
        (["--lang", "en"], "either as --text"),
        (["reply.wav", "--text", GOOD], "either as --text"),
        (["--text", GOOD, "--model", "/tmp"], "--model only applies"),
        (["/no/such/reply.wav", "--lang", "en"], "/no/such/reply.wav"),
    ],
)
def test_bad_input_is_one_clear_line(args, says):
    assert says in one_error_line(voicesim(*args))


def test_a_real_process_exits_nonzero_with_one_error_line():
    """The process boundary: the exit status and stderr a shell sees from `python -m voicesim`."""
    proc = subprocess.run([sys.executable, "-m", "voicesim", "score", "--text", GOOD, "--lang", "xx"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert "unknown language 'xx'" in one_error_line(proc)


def test_not_an_audio_file_is_one_clear_line(tmp_path):
    bogus = tmp_path / "reply.wav"
    bogus.write_text("not audio")
    assert str(bogus) in one_error_line(voicesim(str(bogus), "--lang", "en"))


def test_missing_model_folder_is_one_clear_line(recordings, tmp_path):
    line = one_error_line(voicesim(str(recordings["reply"]), "--lang", "en", "--model", str(tmp_path / "nomodel")))
    assert "nomodel" in line
