"""The headset and device lookup on real parts: PortAudio through ALSA's pulse plugin into a private
PulseAudio (tests/virtual_headset.py), espeak-ng for the customer, Piper for the trainee,
Vosk to check what the microphone heard."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate
from trainee_voice import speak
from virtual_headset import VirtualHeadset

from voicesim.asr import transcribe
from voicesim.audio import DIGITAL_SILENCE_DBFS, SAMPLE_RATE, Audio, int16_to_float, level_dbfs
from voicesim.audiofile import load_audio, write_wav
from voicesim.devices import (
    AudioDeviceError,
    AudioDeviceLostError,
    NoAudioDeviceError,
    find_device,
    list_devices,
    refresh_devices,
)
from voicesim.headset import Headset, StreamResampler

CUSTOMER_LINE = "I have been waiting for my parcel for two weeks and nobody calls me back."
TRAINEE_REPLY = "When did you place the order? I will check the tracking for you."


def customer_line(text: str) -> Audio:
    """The customer's voice: voicesim.tts when it is there, else espeak-ng straight to a file."""
    try:
        from voicesim.tts import synthesize
    except ImportError:
        return _espeak(text)
    return synthesize(text, lang="en", persona="angry")


def _espeak(text: str) -> Audio:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "line.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
        return load_audio(wav)


def tone(seconds: float, hz: float = 440.0, amplitude: float = 0.3) -> Audio:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return Audio((amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32))


def voiced_span(audio: Audio, threshold_dbfs: float = -50.0) -> tuple[int, int]:
    """First and last sample of the 20 ms blocks louder than the threshold."""
    n = SAMPLE_RATE // 50
    loud = [i for i in range(0, len(audio.samples), n) if level_dbfs(audio.samples[i:i + n]) > threshold_dbfs]
    assert loud, "nothing audible in the capture"
    return loud[0], min(len(audio.samples), loud[-1] + n)


def similarity(heard: np.ndarray, played: np.ndarray) -> float:
    """Normalized correlation at the best lag: 1.0 when `heard` contains `played` unchanged."""
    c = correlate(heard.astype(np.float64), played.astype(np.float64), mode="valid", method="fft")
    lag = int(np.argmax(np.abs(c)))
    window = heard[lag:lag + len(played)].astype(np.float64)
    return float(abs(c[lag]) / (np.linalg.norm(played) * np.linalg.norm(window)))


def wait_for_chunks(chunks: list, count: int, timeout_s: float = 5.0) -> None:
    """Block until the microphone callback has delivered `count` chunks (or the timeout passes)."""
    deadline = time.monotonic() + timeout_s
    while len(chunks) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def peak_hz(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def record_while_trainee_speaks(vh: VirtualHeadset, line: Headset, reply: Audio | Path, max_seconds: float,
                                on_level=None) -> Audio:
    """The first `max_seconds` of the line's microphone stream; the trainee starts speaking once it delivers."""
    chunks: list[np.ndarray] = []
    live, enough = threading.Event(), threading.Event()

    def keep(chunk: np.ndarray) -> None:
        live.set()
        if not enough.is_set():
            chunks.append(chunk)
        if sum(len(c) for c in chunks) >= max_seconds * SAMPLE_RATE:
            enough.set()

    def level(dbfs: float) -> None:
        if on_level is not None and not enough.is_set():
            on_level(dbfs)

    with line.open_input_stream(keep, level) as mic:
        assert live.wait(10), "the microphone stream never delivered"
        vh.play_into_mic(reply)
        assert enough.wait(max_seconds + 10), "the microphone stream stopped delivering"
    mic.raise_if_lost()
    return Audio(int16_to_float(np.concatenate(chunks))[: int(round(max_seconds * SAMPLE_RATE))])


# -- pure parts ----------------------------------------------------------------------


def test_level_of_full_scale_sine_is_minus_3_dbfs_and_silence_is_the_floor():
    assert level_dbfs(tone(1.0, amplitude=1.0).samples) == pytest.approx(-3.01, abs=0.01)
    assert level_dbfs(np.zeros(320, np.float32)) == DIGITAL_SILENCE_DBFS
    assert level_dbfs(np.zeros(0, np.float32)) == DIGITAL_SILENCE_DBFS


@pytest.mark.parametrize("rate", [44100, 48000, 8000])
def test_stream_resampler_blockwise_matches_length_and_pitch(rate):
    t = np.arange(rate * 2) / rate
    signal = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    resample = StreamResampler(rate)
    blocks = [resample(signal[i:i + 441]) for i in range(0, len(signal), 441)]
    out = np.concatenate(blocks)
    assert abs(len(out) - 2 * SAMPLE_RATE) <= 1
    assert peak_hz(out) == pytest.approx(440, rel=0.01)
    # No clicks at block edges: sample-to-sample steps stay those of a 440 Hz sine.
    steady = out[SAMPLE_RATE // 10:]
    assert np.max(np.abs(np.diff(steady))) < 0.5 * 2 * np.pi * 440 / SAMPLE_RATE * 1.2


def test_stream_resampler_is_deterministic():
    signal = np.random.default_rng(3).standard_normal(48000).astype(np.float32) * 0.1
    a, b = StreamResampler(48000), StreamResampler(48000)
    assert np.concatenate([a(signal[i:i + 960]) for i in range(0, 48000, 960)]).tobytes() == \
        np.concatenate([b(signal[i:i + 960]) for i in range(0, 48000, 960)]).tobytes()


# -- the real (virtual) headset --------------------------------------------------------


@pytest.mark.headset
def test_customer_line_arrives_in_the_earpiece(virtual_headset):
    audio = customer_line(CUSTOMER_LINE)
    with virtual_headset.capture_earpiece() as heard:
        Headset().play(audio)
    start, end = voiced_span(heard.audio)
    played_start, played_end = voiced_span(audio)
    # All of it, start to end: the voiced part lasts as long as in the clip (within 2 blocks).
    assert abs((end - start) - (played_end - played_start)) <= 2 * 320
    assert level_dbfs(heard.audio.samples[start:end]) == pytest.approx(
        level_dbfs(audio.samples[played_start:played_end]), abs=1.0)
    assert similarity(heard.audio.samples, audio.samples) > 0.95


@pytest.mark.headset
def test_trainee_reply_from_the_mic_transcribes_like_the_file(virtual_headset, en_model, tmp_path):
    wav = write_wav(tmp_path / "reply.wav", speak(TRAINEE_REPLY))
    reply = load_audio(wav)
    recorded = record_while_trainee_speaks(virtual_headset, Headset(), wav, reply.duration_s + 1.0)
    expected = transcribe(reply, model=en_model).text
    assert expected, "Vosk heard nothing in the Piper reply itself"
    assert transcribe(recorded, model=en_model).text == expected


@pytest.mark.headset
def test_level_meter_is_higher_during_speech_than_in_silence(virtual_headset):
    reply = Audio.concat([Audio.silence(0.6), speak("Let me check that for you."), Audio.silence(0.6)])
    levels: list[float] = []
    recorded = record_while_trainee_speaks(virtual_headset, Headset(), reply, reply.duration_s + 0.5,
                                           on_level=levels.append)
    start, end = voiced_span(recorded)
    speech = levels[start // 320:end // 320]
    silence = levels[: max(1, start // 320 - 2)]
    assert len(levels) == pytest.approx(recorded.duration_s / 0.02, abs=1)
    assert np.median(speech) > max(silence) + 30


@pytest.mark.headset
def test_devices_chosen_by_name_and_by_index(virtual_headset):
    pulse = find_device("pulse", "output")
    assert pulse.name == "pulse" and pulse.input_channels > 0
    assert find_device(str(pulse.index), "input") == pulse
    for line in (Headset(output="pulse", input="pulse"), Headset(output=pulse.index, input=pulse.index)):
        with virtual_headset.capture_earpiece() as heard:
            line.play(tone(0.5))
        assert peak_hz(heard.audio.samples) == pytest.approx(440, rel=0.01)
        recorded = record_while_trainee_speaks(virtual_headset, line, tone(0.5, hz=880), 1.0)
        assert peak_hz(recorded.samples) == pytest.approx(880, rel=0.01)
        assert line.output_device == pulse and line.input_device == pulse


@pytest.mark.headset
@pytest.mark.parametrize("spec", ["USB headset 9000", 99])
def test_unknown_device_names_what_exists(virtual_headset, spec):
    with pytest.raises(AudioDeviceError) as caught:
        Headset(output=spec).play(tone(0.1))
    message = str(caught.value)
    assert "\n" not in message and repr(spec) in message
    for device in list_devices():
        assert f"[{device.index}] {device.name}" in message


@pytest.mark.headset
def test_device_side_rate_other_than_16k_is_resampled(virtual_headset):
    line = Headset(samplerate=44100)
    assert line.device_rate("output") == 44100
    with virtual_headset.capture_earpiece() as heard:
        line.play(tone(1.0, hz=500))
    start, end = voiced_span(heard.audio)
    assert abs((end - start) - SAMPLE_RATE) <= 2 * 320 and peak_hz(heard.audio.samples) == pytest.approx(500, rel=0.01)
    recorded = record_while_trainee_speaks(virtual_headset, line, tone(1.0, hz=700), 1.5)
    assert recorded.duration_s == pytest.approx(1.5, abs=0.001)
    assert peak_hz(recorded.samples) == pytest.approx(700, rel=0.01)


@pytest.mark.headset
def test_playback_in_background_can_be_cut_short_for_barge_in(virtual_headset):
    line = Headset()
    chunks: list[np.ndarray] = []
    with virtual_headset.capture_earpiece() as heard, line.open_input_stream(chunks.append) as mic:
        line.play_async(tone(5.0))
        assert line.is_playing
        virtual_headset.play_into_mic(tone(0.3, hz=880))  # the trainee talks over the customer
        played = line.stop_playback()
        assert not line.is_playing
        # PortAudio's input latency is 'high': on a busy machine the tone's tail is still in
        # its buffer when pacat returns. Wait for 0.3 s more of microphone before closing.
        wait_for_chunks(chunks, len(chunks) + 15)
    assert mic.error is None
    assert 0.0 < played < 5.0, played
    start, end = voiced_span(heard.audio)
    assert (end - start) / SAMPLE_RATE < 4.0, "the earpiece kept playing after stop_playback"
    assert chunks, "the microphone stream delivered nothing"
    assert {len(c) for c in chunks} == {320} and chunks[0].dtype == np.int16, {len(c) for c in chunks}
    assert peak_hz(np.concatenate(chunks).astype(np.float32)) == pytest.approx(880, rel=0.01)


@pytest.mark.headset
def test_play_returns_when_the_clip_has_played(virtual_headset):
    line = Headset()
    with virtual_headset.capture_earpiece() as heard:
        line.play(tone(0.8))
        assert not line.is_playing
    start, end = voiced_span(heard.audio)
    assert abs((end - start) - int(0.8 * SAMPLE_RATE)) <= 2 * 320


@pytest.mark.headset
def test_device_lost_mid_stream_says_so_after_delivering_what_was_heard(virtual_headset):
    reply = Audio.concat([speak(TRAINEE_REPLY)] * 3)
    virtual_headset.play_into_mic(reply, wait=False)
    chunks: list[np.ndarray] = []

    def unplug_after_a_second(chunk: np.ndarray) -> None:
        chunks.append(chunk)
        if len(chunks) == 50:
            virtual_headset.kill()

    with pytest.raises(AudioDeviceLostError) as caught:
        with Headset().open_input_stream(unplug_after_a_second) as mic:
            mic._thread.join(reply.duration_s + 10)
    assert "input device" in str(caught.value) and "\n" not in str(caught.value)
    heard = Audio(int16_to_float(np.concatenate(chunks)))
    assert 1.0 <= heard.duration_s < reply.duration_s
    assert level_dbfs(heard.samples) > -40, "the chunks before the loss should hold the trainee's speech"


@pytest.mark.headset
def test_device_lost_mid_playback_and_mid_stream(virtual_headset):
    line = Headset()
    chunks: list[np.ndarray] = []
    with pytest.raises(AudioDeviceLostError):
        with line.open_input_stream(chunks.append) as mic:
            threading.Timer(0.5, virtual_headset.kill).start()
            with pytest.raises(AudioDeviceLostError, match="output device"):
                line.play(tone(10.0))
            mic._thread.join(10)
    assert isinstance(mic.error, AudioDeviceLostError) and chunks


def test_no_audio_device_is_one_clear_error(monkeypatch, tmp_path):
    # No server at this address, and this machine has no sound card: ALSA finds nothing.
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/no-server/native")
    refresh_devices()
    try:
        if list_devices():
            pytest.skip(f"this machine has a sound card: {list_devices()[0].name}")
        with pytest.raises(NoAudioDeviceError, match=r"no audio output device .*--out"):
            Headset().play(tone(0.1))
        with pytest.raises(NoAudioDeviceError, match=r"no audio input device .*--replies"):
            Headset().open_input_stream(lambda chunk: None)
    finally:
        monkeypatch.undo()
        refresh_devices()


@pytest.mark.headset
def test_virtual_headset_leaves_no_process_and_restores_the_environment():
    before = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE")}
    with VirtualHeadset() as vh:
        pid = vh.process.pid
        assert os.environ["PULSE_SOURCE"] == "trainee_mic.monitor"
        assert any(d.name == "pulse" for d in list_devices())
    assert not Path(f"/proc/{pid}").exists()
    assert {k: os.environ.get(k) for k in before} == before

