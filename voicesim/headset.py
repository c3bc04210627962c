"""The trainee's headset: the customer's voice out to the earpiece, the trainee's voice in.

>>> from voicesim.headset import Headset
>>> line = Headset()                                  # doctest: +SKIP
>>> line.play(customer_audio)                         # doctest: +SKIP
>>> Headset(output="USB", input=2)                    # a device by name substring or by index  # doctest: +SKIP

Every :class:`Line` speaks :class:`~voicesim.audio.Audio` (mono float32, 16 kHz). A
:class:`Headset` opens PortAudio streams (python-sounddevice) at 16 kHz when the device
takes that rate, else at the device's own rate, and resamples. Finding and naming the
devices is :mod:`voicesim.devices`.

For the live call, playback runs in the background (:meth:`Headset.play_async`) while
:meth:`Headset.open_input_stream` hands 20 ms int16 chunks of the microphone to a callback,
so the practice loop can notice the trainee talking over the customer::

    with line.open_input_stream(vad.feed) as mic:     # doctest: +SKIP
        line.play_async(customer_audio)
        while line.is_playing:
            if vad.speech_started:
                line.stop_playback()                  # barge-in
            mic.raise_if_lost()

A device that vanishes mid-stream (headset unplugged, PulseAudio gone) raises
:class:`~voicesim.devices.AudioDeviceLostError`; the chunks delivered until then have
reached the callback.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from voicesim.audio import SAMPLE_RATE, Audio, float_to_int16, level_dbfs
from voicesim.devices import (
    AudioDeviceError,
    AudioDeviceLostError,
    DeviceInfo,
    DeviceSpec,
    find_device,
    portaudio,
    stream_closed,
    stream_opened,
)

BLOCK_SECONDS = 0.02
"""Length of one microphone chunk (and one level-meter reading)."""

OUTPUT_LATENCY_SECONDS = 0.1
"""Output buffer: short enough to cut the customer off promptly on barge-in, long enough
not to underrun on a busy machine (0.04 s underran through ALSA's pulse plugin)."""

INPUT_LATENCY = "high"
"""PortAudio's safe input latency; the callback only queues blocks, so this adds no lag to processing."""

STALL_SECONDS = 3.0
"""An input stream that delivers nothing for this long is treated as lost."""

ChunkCallback = Callable[[np.ndarray], None]
"""Receives each microphone chunk: 1-D int16 samples at 16 kHz."""


class Line(Protocol):
    """Where the customer is heard and the trainee is recorded: the headset, or a stand-in in tests."""

    def play(self, audio: Audio) -> None:
        """Play `audio` and return when it has been played."""

    def play_async(self, audio: Audio) -> None:
        """Start playing `audio` and return at once."""

    def stop_playback(self) -> float:
        """Cut the playback short; returns the seconds of the clip handed to the device
        (what the trainee heard, give or take the 0.1 s output buffer)."""

    @property
    def is_playing(self) -> bool:
        """True while :meth:`play_async` audio is still playing."""

    def open_input_stream(
        self, on_chunk: ChunkCallback, on_level: Callable[[float], None] | None = None
    ) -> InputStream:
        """Stream int16 16 kHz chunks to `on_chunk` from a background thread until closed."""


# -- rates -----------------------------------------------------------------------------


class StreamResampler:
    """Rate conversion for a live stream, block by block, without clicks at block edges.

    An anti-alias low-pass (when going down) then linear interpolation; the filter state and
    the interpolation phase carry over from one block to the next. Speech-grade, not hi-fi.
    """

    def __init__(self, source_rate: float, target_rate: float = SAMPLE_RATE) -> None:
        self.step = source_rate / target_rate
        """Input samples per output sample."""
        self.sos = butter(8, 0.45 * target_rate, fs=source_rate, output="sos") if target_rate < source_rate else None
        self.zi = sosfilt_zi(self.sos) * 0.0 if self.sos is not None else None
        self.next_pos = 0.0
        """Position of the next output sample, in input samples from the next block's start."""
        self.last = 0.0
        """Last (filtered) input sample of the previous block, at position -1."""

    def __call__(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block, dtype=np.float64)
        if len(x) == 0:
            return np.zeros(0, dtype=np.float32)
        if self.sos is not None:
            x, self.zi = sosfilt(self.sos, x, zi=self.zi)
        count = max(0, math.floor((len(x) - 1 - self.next_pos) / self.step) + 1)
        positions = self.next_pos + np.arange(count) * self.step
        padded = np.concatenate([[self.last], x])
        out = np.interp(positions + 1.0, np.arange(len(padded)), padded)
        self.next_pos += count * self.step - len(x)
        self.last = x[-1]
        return out.astype(np.float32)


def _resample_whole(samples: np.ndarray, rate: int) -> np.ndarray:
    # A whole clip can use the better polyphase filter the file reader uses.
    from voicesim.audiofile import to_sample_rate

    return to_sample_rate(samples, SAMPLE_RATE, rate)


# -- streams ----------------------------------------------------------------------------


class _Capture:
    """A PortAudio input stream whose blocks come out of :meth:`blocks` as float32 at 16 kHz."""

    _LOST = object()

    def __init__(self, device: DeviceInfo, rate: int) -> None:
        self.device = device
        self.rate = rate
        self._queue: queue.Queue = queue.Queue()
        self._closing = False
        self._resample = StreamResampler(rate) if rate != SAMPLE_RATE else None
        self._stream = None

    def __enter__(self) -> _Capture:
        sd = portaudio()
        self._stream = _open_stream(
            sd.InputStream, self.device, "input",
            samplerate=self.rate, channels=1, dtype="float32",
            blocksize=int(round(self.rate * BLOCK_SECONDS)), latency=INPUT_LATENCY,
            callback=self._on_block, finished_callback=self._on_finished,
        )
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            self.__exit__()
            raise AudioDeviceError(f"cannot start input device [{self.device.index}] {self.device.name}: {exc}") from None
        return self

    def __exit__(self, *exc) -> None:
        self._closing = True
        if self._stream is not None:
            _close_stream(self._stream)
            self._stream = None

    def _on_block(self, indata, frames, time_info, status) -> None:
        self._queue.put(indata[:, 0].copy())

    def _on_finished(self) -> None:
        # PortAudio ends a stream by itself only when the device failed under it.
        if not self._closing:
            self._queue.put(self._LOST)

    def blocks(self) -> Iterator[np.ndarray]:
        """16 kHz float32 blocks until the caller stops; AudioDeviceLostError if the device goes."""
        while True:
            try:
                item = self._queue.get(timeout=STALL_SECONDS)
            except queue.Empty:
                item = self._LOST
            if item is self._LOST:
                raise AudioDeviceLostError(self.lost_message())
            yield self._resample(item) if self._resample else item

    def lost_message(self) -> str:
        return (f"input device [{self.device.index}] {self.device.name} stopped delivering audio "
                "(unplugged, or the sound server went away); what was recorded until then is kept")


def _open_stream(factory, device: DeviceInfo, kind: str, **kwargs):
    sd = portaudio()
    stream_opened()  # before PortAudio touches the device, so its chatter is filtered too
    try:
        return factory(device=device.index, **kwargs)
    except sd.PortAudioError as exc:
        stream_closed()
        raise AudioDeviceError(
            f"cannot open {kind} device [{device.index}] {device.name} at {kwargs['samplerate']} Hz: {exc}"
        ) from None


def _close_stream(stream) -> None:
    sd = portaudio()
    try:
        stream.abort()
        stream.close()
    except sd.PortAudioError:
        pass  # the device is already gone; nothing left to release
    stream_closed()


class _Playback:
    """One clip playing on a PortAudio output stream, fed from a callback."""

    def __init__(self, device: DeviceInfo, rate: int, samples: np.ndarray) -> None:
        sd = portaudio()
        self.device = device
        self.rate = rate
        self.samples = samples
        self.position = 0
        """Frames handed to the device so far."""
        self.done = threading.Event()
        self.aborted = False
        self._stream = _open_stream(
            sd.OutputStream, device, "output", samplerate=rate, channels=1, dtype="float32",
            blocksize=int(round(rate * BLOCK_SECONDS)), latency=OUTPUT_LATENCY_SECONDS,
            callback=self._fill, finished_callback=self.done.set,
        )
        # Some backends (ALSA's pulse plugin) drop what is still buffered when the stream
        # ends, so trailing silence as long as the buffer keeps the last word audible.
        self._padded = np.concatenate([samples, np.zeros(int(rate * (self._stream.latency + 0.05)), np.float32)])
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            self.close()
            raise AudioDeviceError(f"cannot start output device [{device.index}] {device.name}: {exc}") from None

    def _fill(self, outdata, frames, time_info, status) -> None:
        chunk = self._padded[self.position:self.position + frames]
        outdata[: len(chunk), 0] = chunk
        outdata[len(chunk):] = 0.0
        self.position += len(chunk)
        if len(chunk) < frames:
            raise portaudio().CallbackStop

    @property
    def played_s(self) -> float:
        """Seconds of the clip (not of the padding) handed to the device."""
        return min(self.position, len(self.samples)) / self.rate

    @property
    def finished_normally(self) -> bool:
        return self.done.is_set() and self.position >= len(self._padded)

    def wait(self) -> None:
        """Block until played; AudioDeviceLostError if the device dies or hangs meanwhile."""
        budget = len(self._padded) / self.rate + STALL_SECONDS
        self.done.wait(timeout=budget)
        lost = not self.aborted and not self.finished_normally
        self.close()
        if lost:
            raise AudioDeviceLostError(
                f"output device [{self.device.index}] {self.device.name} stopped playing after "
                f"{self.played_s:.1f} of {len(self.samples) / self.rate:.1f} s "
                "(unplugged, or the sound server went away)"
            )

    def abort(self) -> float:
        self.aborted = True
        self.close()
        return self.played_s

    def close(self) -> None:
        if self._stream is not None:
            _close_stream(self._stream)
            self._stream = None


class InputStream:
    """A running microphone: a thread hands each int16 16 kHz chunk to a callback.

    Use it as a context manager. If the device is lost, the thread stops and
    :attr:`error` holds the :class:`AudioDeviceLostError` (also raised by
    :meth:`raise_if_lost` and on leaving the ``with`` block).
    """

    def __init__(self, blocks: Callable[[], Iterator[np.ndarray]], on_chunk: ChunkCallback,
                 on_level: Callable[[float], None] | None = None, source: object = None) -> None:
        self._blocks = blocks
        self._on_chunk = on_chunk
        self._on_level = on_level
        self._source = source
        """A context manager (the PortAudio capture) held open while streaming, if any."""
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: Exception | None = None
        """Why delivery stopped early: usually AudioDeviceLostError, or what `on_chunk` raised."""

    def __enter__(self) -> InputStream:
        if self._source is not None:
            self._source.__enter__()
        self._running.set()
        self._thread = threading.Thread(target=self._pump, name="voicesim-mic", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        if exc_type is None:
            self.raise_if_lost()

    def close(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=STALL_SECONDS + 1)
            self._thread = None
        if self._source is not None:
            self._source.__exit__(None, None, None)
            self._source = None

    @property
    def alive(self) -> bool:
        """True while chunks are still being delivered."""
        return self._thread is not None and self._thread.is_alive()

    def raise_if_lost(self) -> None:
        """Raise the error that stopped delivery, if any (AudioDeviceLostError when the device went)."""
        if self.error is not None:
            raise self.error

    def _pump(self) -> None:
        try:
            for block in self._blocks():
                if not self._running.is_set():
                    return
                if self._on_level is not None:
                    self._on_level(level_dbfs(block))
                self._on_chunk(float_to_int16(block))
        except Exception as exc:  # noqa: BLE001 - handed to the owning thread, not swallowed
            self.error = exc


# -- the headset ---------------------------------------------------------------------------


class Headset:
    """The real thing: PortAudio output and input devices (sounddevice).

    `output` / `input` pick a device by index or by name substring (None: the system
    default). `samplerate` forces the device-side rate; by default 16 kHz is used when
    the device accepts it, else the device's own default rate, with resampling.
    Devices are looked up on first use, so a playback-only caller never needs a mic.
    """

    def __init__(self, output: DeviceSpec = None, input: DeviceSpec = None, samplerate: int | None = None) -> None:
        self.output_spec = output
        self.input_spec = input
        self.samplerate = samplerate
        self._output: DeviceInfo | None = None
        self._input: DeviceInfo | None = None
        self._playback: _Playback | None = None

    def __repr__(self) -> str:
        return f"Headset(output={self.output_spec!r}, input={self.input_spec!r})"

    @property
    def output_device(self) -> DeviceInfo:
        if self._output is None:
            self._output = find_device(self.output_spec, "output")
        return self._output

    @property
    def input_device(self) -> DeviceInfo:
        if self._input is None:
            self._input = find_device(self.input_spec, "input")
        return self._input

    def device_rate(self, kind: str) -> int:
        """The rate a stream on the `kind` device opens at (16 kHz if the device takes it)."""
        if self.samplerate is not None:
            return int(self.samplerate)
        sd = portaudio()
        device = self.input_device if kind == "input" else self.output_device
        check = sd.check_input_settings if kind == "input" else sd.check_output_settings
        try:
            check(device=device.index, samplerate=SAMPLE_RATE, channels=1, dtype="float32")
            return SAMPLE_RATE
        except sd.PortAudioError:
            return int(device.default_samplerate)

    # -- output

    def play(self, audio: Audio) -> None:
        self.play_async(audio)
        playback = self._playback
        assert playback is not None
        self._playback = None
        playback.wait()

    def play_async(self, audio: Audio) -> None:
        self.stop_playback()
        device = self.output_device
        rate = self.device_rate("output")
        samples = audio.samples if rate == audio.sample_rate else _resample_whole(audio.samples, rate)
        self._playback = _Playback(device, rate, samples)

    @property
    def is_playing(self) -> bool:
        if self._playback is None:
            return False
        if self._playback.done.is_set():
            self._playback.close()  # release the device as soon as anyone notices the end
            return False
        return True

    def stop_playback(self) -> float:
        if self._playback is None:
            return 0.0
        played = self._playback.abort()
        self._playback = None
        return played

    # -- input

    def _capture(self) -> _Capture:
        return _Capture(self.input_device, self.device_rate("input"))

    def open_input_stream(self, on_chunk: ChunkCallback,
                          on_level: Callable[[float], None] | None = None) -> InputStream:
        capture = self._capture()
        return InputStream(capture.blocks, on_chunk, on_level, source=capture)
