"""Issue 9: audio files a careless user can give, and where `say` writes.

Damaged headers, NaN samples, a never-patched WAV and folders given as --out each
end in correct behaviour or one `voicesim: error:` line, never a traceback.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicesim.audio import float_to_int16
from voicesim.audiofile import load_audio
from voicesim.cli import main

DEMO = sorted((Path(__file__).resolve().parents[1] / "voicesim" / "data" / "demo" / "late-delivery").glob("*.wav"))


def one_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert err.startswith("voicesim: error: ") and err.count("\n") == 1, err
    return err


def with_header(src: Path, dst: Path, **patch: int) -> Path:
    """A copy of `src` with fields of its 44-byte RIFF header replaced (rate, data_size)."""
    raw = bytearray(src.read_bytes())
    if "rate" in patch:
        raw[24:28] = struct.pack("<I", patch["rate"])
        raw[28:32] = struct.pack("<I", patch["rate"] * 2)
    if "data_size" in patch:
        at = raw.index(b"data")
        raw[at + 4 : at + 8] = struct.pack("<I", patch["data_size"])
    dst.write_bytes(bytes(raw))
    return dst


@pytest.mark.parametrize("rate", [1, 3999, 400_000])
def test_insane_sample_rate_is_refused_before_decoding(tmp_path: Path, capsys, rate: int):
    bad = with_header(DEMO[0], tmp_path / "bad.wav", rate=rate)
    err = one_error(capsys, main(["transcribe", str(bad)]))
    assert f"{rate} Hz" in err and str(bad) in err


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_damaged_audio(tmp_path: Path, capsys, value: float):
    samples = load_audio(DEMO[0]).samples.copy()
    samples[16000] = value
    bad = tmp_path / "nan.wav"
    sf.write(bad, samples, 16000, subtype="FLOAT")
    err = one_error(capsys, main(["score", str(bad), "--json"]))
    assert "not numbers" in err and "1.00 s" in err


def test_wav_with_unpatched_zero_data_size_reads_what_is_there(tmp_path: Path):
    reply = load_audio(DEMO[0])
    # What a recorder that died before patching its header leaves: sizes 0, samples after.
    header = (b"RIFF" + struct.pack("<I", 0) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
              + b"data" + struct.pack("<I", 0))
    crashed = tmp_path / "crashed.wav"
    crashed.write_bytes(header + float_to_int16(reply.samples).tobytes())
    assert np.array_equal(load_audio(crashed).samples, reply.samples)


def test_reply_files_are_decoded_only_when_their_turn_comes(tmp_path: Path, capsys):
    # The demo call is resolved at turn 4: a fifth reply whose samples are damaged is never needed...
    samples = load_audio(DEMO[0]).samples.copy()
    samples[100] = np.nan
    unused = tmp_path / "unused.wav"
    sf.write(unused, samples, 16000, subtype="FLOAT")
    args = ["practice", "--scenario", "late-delivery", "--sessions-dir", str(tmp_path / "s"), "--json", "--replies"]
    assert main([*args, *map(str, DEMO), str(unused)]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "resolved"
    # ...but one whose header is unreadable is reported before any session folder exists.
    (tmp_path / "not-audio.wav").write_text("hello")
    err = one_error(capsys, main([*args, *map(str, DEMO), str(tmp_path / "not-audio.wav")]))
    assert "not-audio.wav" in err
    assert len(list((tmp_path / "s").iterdir())) == 2  # the first call's folder and its index only


def test_an_overlong_reply_is_refused_before_the_call(tmp_path: Path, capsys):
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(16 * 60 * 4000, np.int16), 4000, subtype="PCM_16")  # 16 minutes
    err = one_error(capsys, main(["practice", "--sessions-dir", str(tmp_path / "s"), "--replies", str(long)]))
    assert "16 minutes" in err
    assert list((tmp_path / "s").iterdir()) == []


@pytest.mark.parametrize("out", [".", "{tmp}", ""])
def test_say_out_must_be_a_file(tmp_path: Path, monkeypatch, capsys, out: str):
    monkeypatch.chdir(tmp_path)
    err = one_error(capsys, main(["say", "Where is my parcel?", "--out", out.format(tmp=tmp_path)]))
    assert "folder" in err or "empty" in err
    assert list(tmp_path.iterdir()) == []


def test_say_into_an_unwritable_folder_is_one_line(capsys):
    # /proc refuses new files even to root, so this holds however the tests are run.
    err = one_error(capsys, main(["say", "Where is my parcel?", "--out", "/proc/voicesim-line.wav"]))
    assert "/proc/voicesim-line.wav" in err


def test_say_without_a_device_never_overwrites(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent")  # no sound server: no device to play on
    (tmp_path / "voicesim-say.wav").write_bytes(b"the trainer's file")
    assert main(["say", "Where is my parcel?"]) == 0
    assert (tmp_path / "voicesim-say.wav").read_bytes() == b"the trainer's file"
    assert "voicesim-say-2.wav" in capsys.readouterr().err
    assert sf.info(str(tmp_path / "voicesim-say-2.wav")).frames > 0
