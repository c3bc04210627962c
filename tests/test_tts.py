"""The customer's voice, through real pyttsx3 on real espeak-ng.

Persona differences are measured on the synthesized audio (speech span, F0, loudness),
never read back from the settings.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_cli

from voicesim.audio import SAMPLE_RATE
from voicesim.errors import VoicesimError
from voicesim.tts import VoiceSettings, cache_info, clear_cache, persona_settings, synthesize

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "voicesim"]

SENTENCE = {
    "en": "I have been waiting three weeks for my refund and nobody has called me back.",
    "de": "Ich warte seit drei Wochen auf meine Erstattung und niemand hat mich zurückgerufen.",
}


# -- measurements on the audio itself


def frames(samples: np.ndarray, seconds: float = 0.03, hop_s: float = 0.01) -> np.ndarray:
    size, hop = int(seconds * SAMPLE_RATE), int(hop_s * SAMPLE_RATE)
    starts = range(0, len(samples) - size, hop)
    return np.stack([samples[i : i + size].astype(np.float64) for i in starts])


def frame_rms(samples: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(frames(samples) ** 2, axis=1))


def speech_span_s(samples: np.ndarray) -> float:
    """Seconds from the first to the last frame within 30 dB of the loudest one."""
    rms = frame_rms(samples)
    loud = np.nonzero(rms > rms.max() * 10 ** (-30 / 20))[0]
    return (loud[-1] - loud[0]) * 0.01 + 0.03


def median_f0_hz(samples: np.ndarray, fmin: float = 60.0, fmax: float = 400.0) -> float:
    """Median autocorrelation F0 over voiced frames (normalised peak above 0.5)."""
    found = []
    rms = frame_rms(samples)
    lo, hi = int(SAMPLE_RATE / fmax), int(SAMPLE_RATE / fmin)
    for frame, level in zip(frames(samples, seconds=0.04), rms, strict=False):  # 40 ms frames: one fewer than rms's 30 ms ones
        if level < rms.max() * 0.1:
            continue
        frame = frame - frame.mean()
        ac = np.correlate(frame, frame, "full")[len(frame) - 1 :]
        ac = ac / ac[0]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5:
            found.append(SAMPLE_RATE / lag)
    assert len(found) > 20, "too few voiced frames to measure pitch"
    return float(np.median(found))


def loudness_db(samples: np.ndarray) -> float:
    """Mean level of the speech frames (within 30 dB of the loudest), in dBFS."""
    rms = frame_rms(samples)
    speech = rms[rms > rms.max() * 10 ** (-30 / 20)]
    return float(20 * np.log10(np.sqrt(np.mean(speech**2))))


def band_energy_db(samples: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    return float(10 * np.log10(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum() + 1e-20))


def cli(*args: str, env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """`voicesim ARGS` in-process (tests/cli_runner.py); `env`, when given, is the whole environment."""
    return run_cli(*args, env=env, clean_env=env is not None, cwd=cwd)


def cli_process(*args: str, env: dict) -> subprocess.CompletedProcess:
    """`voicesim ARGS` as a real process, for what happens as one starts."""
    return subprocess.run([*CLI, *args], cwd=REPO, env=dict(env, PYTHONPATH=str(REPO)), capture_output=True,
                          text=True, timeout=120, check=False)


def assert_one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("voicesim: error:")
    assert "Traceback" not in proc.stderr
    return lines[0]


# -- synthesis


@pytest.mark.parametrize("lang", ["en", "de"])
def test_speech_is_audible_and_of_plausible_length(lang):
    audio = synthesize(SENTENCE[lang], lang=lang)
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.float32
    # 13-14 words at 120-260 words per minute.
    assert 13 * 60 / 260 < speech_span_s(audio.samples) < 14 * 60 / 120
    assert loudness_db(audio.samples) > -30


@pytest.mark.parametrize("lang", ["en", "de"])
def test_angry_customer_speaks_faster_higher_and_louder(lang):
    calm = synthesize(SENTENCE[lang], lang=lang, persona="calm", phone_line=False).samples
    angry = synthesize(SENTENCE[lang], lang=lang, persona="angry", phone_line=False).samples
    assert speech_span_s(angry) < 0.85 * speech_span_s(calm)
    # A musical interval, not jitter: at least two semitones higher.
    assert 12 * np.log2(median_f0_hz(angry) / median_f0_hz(calm)) > 2
    assert loudness_db(angry) > loudness_db(calm) + 1.5


def test_scenario_voice_settings_take_effect():
    base = VoiceSettings(rate=170, pitch=50, volume=0.8, variant="m3", lang="en")
    low = synthesize(SENTENCE["en"], voice=base, phone_line=False).samples
    high = synthesize(SENTENCE["en"], voice=VoiceSettings(rate=170, pitch=90, volume=0.8, variant="m3"), phone_line=False).samples
    assert median_f0_hz(high) > 1.1 * median_f0_hz(low)


def test_female_variant_is_higher_than_male():
    male = synthesize(SENTENCE["en"], voice=VoiceSettings(variant="m3"), phone_line=False).samples
    female = synthesize(SENTENCE["en"], voice=VoiceSettings(variant="f2"), phone_line=False).samples
    assert median_f0_hz(female) > 1.3 * median_f0_hz(male)


def test_phone_line_removes_energy_outside_300_to_3400_hz():
    wide = synthesize(SENTENCE["en"], phone_line=False).samples
    phoned = synthesize(SENTENCE["en"], phone_line=True).samples
    for low, high in [(50, 200), (4000, 7900)]:
        lost = band_energy_db(wide, low, high) - band_energy_db(phoned, low, high)
        assert lost > 20, f"{low}-{high} Hz only {lost:.1f} dB quieter over the phone line"
    kept = band_energy_db(wide, 500, 3000) - band_energy_db(phoned, 500, 3000)
    assert abs(kept) < 2


def test_same_line_gives_the_same_samples_even_after_other_lines():
    """espeak-ng keeps state between utterances; each line renders in a fresh worker, so it cannot leak."""
    clear_cache()
    first = synthesize(SENTENCE["en"]).samples.tobytes()
    synthesize("Something else entirely, said in between.", persona="angry")
    clear_cache()
    assert synthesize(SENTENCE["en"]).samples.tobytes() == first


def test_repeated_line_is_a_cache_hit_with_identical_samples():
    clear_cache()
    first = synthesize("Where is my parcel?", persona="angry")
    before = cache_info()
    again = synthesize("Where  is my parcel? ", persona="angry")  # same words, other spacing
    after = cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses
    assert again.samples.tobytes() == first.samples.tobytes()
    with pytest.raises(ValueError):
        again.samples[0] = 1.0  # shared by every caller, so read-only


def test_calls_from_several_threads_all_succeed():
    texts = [f"This is complaint number {n}, and I am not happy about it." for n in range(6)]
    clear_cache()
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def speak(n: int) -> None:
        try:
            results[n] = synthesize(texts[n], persona=("angry", "calm")[n % 2]).samples.tobytes()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=speak, args=(n,)) for n in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert sorted(results) == list(range(len(texts)))
    clear_cache()
    # Concurrency changed nothing: each line equals the same line rendered alone.
    assert results[3] == synthesize(texts[3], persona="calm").samples.tobytes()
    assert all(np.frombuffer(r, np.float32).std() > 0.01 for r in results.values())


# -- settings and bad input


def test_personas_come_from_the_voice_file():
    calm, angry = persona_settings("en", "calm"), persona_settings("en", "angry")
    assert calm.lang == angry.lang == "en"
    assert persona_settings("de", "angry").lang == "de"
    assert calm != angry


@pytest.mark.parametrize(
    "call, names",
    [
        (lambda: synthesize("hello", lang="fr"), "'fr'"),
        (lambda: synthesize("hello", persona="furious"), "'furious'"),
        (lambda: synthesize("   "), "empty"),
        (lambda: VoiceSettings(rate=1000), "rate"),
        (lambda: VoiceSettings(pitch=150), "pitch"),
        (lambda: VoiceSettings(volume=2.0), "volume"),
        (lambda: synthesize("hello", voice=VoiceSettings(variant="nosuchvariant")), "nosuchvariant"),
    ],
)
def test_bad_settings_say_what_is_wrong(call, names):
    with pytest.raises(VoicesimError, match=names):
        call()


def test_missing_espeak_library_is_one_line_naming_the_package(tmp_path):
    env = dict(os.environ, VOICESIM_ESPEAK_LIBRARY=str(tmp_path / "libespeak-ng.so.1"))
    line = assert_one_error_line(cli_process("say", "hello", "--out", str(tmp_path / "x.wav"), env=env))
    assert "apt-get install espeak-ng" in line
    assert not (tmp_path / "x.wav").exists()


def system_espeak_library() -> Path:
    """Path of the libespeak-ng.so.1 the dynamic loader picks, read from this process's maps."""
    ctypes.CDLL("libespeak-ng.so.1")
    maps = Path("/proc/self/maps").read_text().splitlines()
    return Path(next(line.split()[-1] for line in maps if "libespeak-ng.so" in line))


def test_espeak_library_variable_is_honoured(tmp_path):
    """A copy elsewhere is what gets loaded (the worker checks pyttsx3 got that very library)."""
    copy = tmp_path / "lib" / "libespeak-ng.so.1"
    copy.parent.mkdir()
    shutil.copy(system_espeak_library(), copy)
    env = dict(os.environ, VOICESIM_ESPEAK_LIBRARY=str(copy))
    proc = cli("say", "Hello there", "--out", str(tmp_path / "copy.wav"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert cli("say", "Hello there", "--out", str(tmp_path / "system.wav")).returncode == 0
    assert (tmp_path / "copy.wav").read_bytes() == (tmp_path / "system.wav").read_bytes()


# -- voicesim say


def test_say_out_writes_a_16_bit_wav(tmp_path):
    out = tmp_path / "line.wav"
    proc = cli("say", SENTENCE["de"], "--lang", "de", "--persona", "angry", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    samples, _ = sf.read(str(out), dtype="float32")
    assert 2.0 < len(samples) / SAMPLE_RATE < 8.0
    assert np.abs(samples).max() > 0.1


def test_say_writes_the_same_bytes_every_time(tmp_path):
    for name in ("a.wav", "b.wav"):
        clear_cache()  # render anew each time, as a new process would
        assert cli("say", "Hello, is anybody there?", "--no-phone", "--out", str(tmp_path / name)).returncode == 0
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


@pytest.mark.headset
def test_say_plays_the_line_into_the_earpiece(virtual_headset, tmp_path):  # noqa: F811 - fixture
    with virtual_headset.capture_earpiece() as heard:
        proc = cli("say", "Where is my parcel?", "--persona", "angry", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert not (tmp_path / "voicesim-say.wav").exists()
    expected = synthesize("Where is my parcel?", persona="angry").samples
    assert abs(speech_span_s(heard.audio.samples) - speech_span_s(expected)) < 0.3
    assert loudness_db(heard.audio.samples) > loudness_db(expected) - 6


def test_say_without_a_device_saves_the_line_and_says_so(tmp_path):
    # No PulseAudio server to reach: PortAudio then finds no output device.
    # (The machine has no sound card; the virtual headset, when running, is behind PulseAudio.)
    env = dict(os.environ, PULSE_SERVER="unix:" + str(tmp_path / "no-pulse"))
    proc = cli("say", "Hello there", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "voicesim-say.wav").is_file()
    assert "voicesim-say.wav" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("say", "", "--out", "x.wav"),
        ("say", "hello", "--persona", "furious"),
        ("say", "hello", "--lang", "xx"),
        ("say", "hello", "--out", "/no/such/folder/x.wav"),
    ],
)
def test_say_bad_input_is_one_error_line(args, tmp_path):
    assert_one_error_line(cli(*args, cwd=tmp_path))
