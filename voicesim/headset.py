"""The trainee's headset: the customer's voice out to the earpiece, the trainee's voice in.

>>> from voicesim.headset import Headset, list_devices
>>> line = Headset()                                  # doctest: +SKIP
>>> line.play(customer_audio)                         # doctest: +SKIP
>>> reply = line.record(max_seconds=10, on_level=lambda dbfs: print(f"{dbfs:6.1f} dBFS"))  # doctest: +SKIP
>>> Headset(output="USB", input=2)                    # a device by name substring or by index  # doctest: +SKIP

Every :class:`Line` speaks :class:`~voicesim.audio.Audio` (mono float32, 16 kHz). A
:class:`Headset` opens PortAudio streams (python-sounddevice) at 16 kHz when the device
takes that rate, else at the device's own rate, and resamples. :class:`FileLine` stands in
for the headset with WAV files (``--out`` / ``--replies``).

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
:class:`AudioDeviceLostError`; its ``partial`` holds what was recorded up to then.
"""

from __future__ import annotations

import atexit
import math
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from voicesim.audio import SAMPLE_RATE, Audio, float_to_int16
from voicesim.errors import VoicesimError

BLOCK_SECONDS = 0.02
"""Length of one microphone chunk (and one level-meter reading)."""

SILENCE_DBFS = -120.0
"""Level reported for digital silence, so the meter never yields -inf."""

OUTPUT_LATENCY_SECONDS = 0.1
"""Output buffer: short enough to cut the customer off promptly on barge-in, long enough
not to underrun on a busy machine (0.04 s underran through ALSA's pulse plugin)."""

INPUT_LATENCY = "high"
"""PortAudio's safe input latency; the callback only queues blocks, so this adds no lag to processing."""

STALL_SECONDS = 3.0
"""An input stream that delivers nothing for this long is treated as lost."""

ChunkCallback = Callable[[np.ndarray], None]
"""Receives each microphone chunk: 1-D int16 samples at 16 kHz."""

StopCallback = Callable[[np.ndarray], bool]
"""Called with each int16 chunk while recording; returning True ends the recording."""

DeviceSpec = int | str | None
"""A device by index, by (case-insensitive) name substring, or None for the default."""


class AudioDeviceError(VoicesimError):
    """A sound device is missing, unknown, or cannot be opened."""


class NoAudioDeviceError(AudioDeviceError):
    """No input or output device exists at all."""


class AudioDeviceLostError(AudioDeviceError):
    """The device vanished mid-stream; :attr:`partial` keeps what was recorded before."""

    def __init__(self, message: str, partial: Audio | None = None) -> None:
        super().__init__(message)
        self.partial = partial if partial is not None else Audio.silence(0.0)


@dataclass(frozen=True)
class DeviceInfo:
    """One sound device as PortAudio sees it."""

    index: int
    """PortAudio device index (what ``--input`` / ``--output`` accept)."""
    name: str
    hostapi: str
    """Host API, e.g. ``ALSA``."""
    input_channels: int
    output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


class Line(Protocol):
    """Where the customer is heard and the trainee is recorded: a headset or files."""

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

    def record(
        self,
        max_seconds: float,
        on_level: Callable[[float], None] | None = None,
        stop: StopCallback | None = None,
    ) -> Audio:
        """Record up to `max_seconds`; `on_level` gets dBFS per block; `stop` may end early."""

    def open_input_stream(
        self, on_chunk: ChunkCallback, on_level: Callable[[float], None] | None = None
    ) -> InputStream:
        """Stream int16 16 kHz chunks to `on_chunk` from a background thread until closed."""


# -- devices --------------------------------------------------------------------------


def _sounddevice():
    # Imported lazily: a missing libportaudio2 must become one clear line, not an ImportError.
    try:
        import sounddevice
    except OSError as exc:
        raise NoAudioDeviceError(
            f"the PortAudio library is missing ({exc}): install libportaudio2 (scripts/setup does), "
            "or use --replies / --out to work with WAV files instead of a headset"
        ) from None
    return sounddevice


NO_DEVICES_FIXES = (
    "plug in a headset, or start PulseAudio (`pulseaudio --start`), or use --replies / --out to work with WAV files"
)
"""What a user can do when there is no sound device at all."""

_streams_open = 0
_streams_lock = threading.Lock()


class _NativeStderrFilter:
    """While streams are open, drops PortAudio's and ALSA's C-level chatter from stderr.

    Debian's PortAudio prints ``Expression '...' failed in pa_linux_alsa.c`` lines straight
    to the C stderr when a device vanishes, and ALSA's pulse plugin prints ``ALSA lib ...
    underrun occurred``; either would break the CLI's one-line error. File descriptor 2 goes
    through a pipe whose reader forwards every other line. VOICESIM_AUDIO_DEBUG=1 turns it off.
    """

    NOISE = (b"Expression '", b"ALSA lib ")

    def __init__(self) -> None:
        self._saved: int | None = None
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        if os.environ.get("VOICESIM_AUDIO_DEBUG") or self._saved is not None:
            return
        sys.stderr.flush()
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        # The pump owns a copy of the real stderr: a child process started meanwhile may keep
        # the pipe open after stop(), and its output must still get through.
        self._pump = threading.Thread(target=self._forward, args=(read_end, os.dup(self._saved)),
                                      name="voicesim-stderr", daemon=True)
        self._pump.start()

    def stop(self) -> None:
        if self._saved is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes our write end of the pipe: the pump reads to EOF
        os.close(self._saved)
        self._saved = None
        if self._pump is not None:
            self._pump.join(timeout=1.0)
            self._pump = None

    @classmethod
    def _forward(cls, read_end: int, real: int) -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            _write_all(real, b"".join(line + b"\n" for line in lines if not line.startswith(cls.NOISE)))
        _write_all(real, pending)
        os.close(read_end)
        os.close(real)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


_stderr_filter = _NativeStderrFilter()
atexit.register(_stderr_filter.stop)  # restore fd 2 (and forward what is queued) before exit


def refresh_devices() -> None:
    """Make PortAudio list devices anew (it caches them when it starts).

    Needed after a PulseAudio server starts or stops. Does nothing while a stream of
    this module is open, since re-initialising PortAudio would close it.
    """
    sd = _sounddevice()
    with _streams_lock:
        if _streams_open:
            return
        if sd._initialized:
            sd._terminate()
        try:
            sd._initialize()
        except sd.PortAudioError as exc:
            raise NoAudioDeviceError(f"PortAudio could not start ({exc}): {NO_DEVICES_FIXES}") from None


def list_devices() -> list[DeviceInfo]:
    """Every input and output device PortAudio knows, in index order."""
    sd = _sounddevice()
    try:
        hostapis = sd.query_hostapis()
        devices = sd.query_devices()
    except sd.PortAudioError as exc:
        raise NoAudioDeviceError(f"PortAudio cannot list sound devices ({exc}): {NO_DEVICES_FIXES}") from None
    default_in, default_out = _default_indexes(sd)
    return [
        DeviceInfo(
            index=i,
            name=d["name"],
            hostapi=hostapis[d["hostapi"]]["name"],
            input_channels=d["max_input_channels"],
            output_channels=d["max_output_channels"],
            default_samplerate=float(d["default_samplerate"]),
            is_default_input=i == default_in,
            is_default_output=i == default_out,
        )
        for i, d in enumerate(devices)
    ]


def _default_indexes(sd) -> tuple[int, int]:
    try:
        default_in, default_out = sd.default.device
    except sd.PortAudioError:
        return -1, -1
    return int(default_in), int(default_out)


def find_device(spec: DeviceSpec, kind: str) -> DeviceInfo:
    """The `kind` ('input' or 'output') device meant by `spec`; a clear error if none.

    A string that is all digits counts as an index, so ``--input 2`` works from the CLI.
    Otherwise every word of the string must occur, in order, in the device name; an exact
    name wins over partial matches (python-sounddevice's rule).
    """
    try:
        return _find_device(spec, kind)
    except AudioDeviceError:
        refresh_devices()  # a sound server may have started, or a headset been plugged in, since PortAudio looked
        return _find_device(spec, kind)


def _find_device(spec: DeviceSpec, kind: str) -> DeviceInfo:
    devices = _devices_of_kind(kind)
    if not devices:
        raise NoAudioDeviceError(_no_device_message(kind))
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)
    if spec is None:
        return _default_device(devices, kind)
    if isinstance(spec, int):
        matches = [d for d in devices if d.index == spec]
    else:
        matches = _match_name(devices, spec)
    if len(matches) != 1:
        raise AudioDeviceError(_unknown_device_message(spec, kind, devices, matches))
    return matches[0]


def _devices_of_kind(kind: str) -> list[DeviceInfo]:
    return [d for d in list_devices() if _channels(d, kind) > 0]


def _channels(device: DeviceInfo, kind: str) -> int:
    return device.input_channels if kind == "input" else device.output_channels


def _default_device(devices: list[DeviceInfo], kind: str) -> DeviceInfo:
    for d in devices:
        if d.is_default_input if kind == "input" else d.is_default_output:
            return d
    # PortAudio names no default (ALSA without a 'default' PCM): the first one will do.
    return devices[0]


def _match_name(devices: list[DeviceInfo], query: str) -> list[DeviceInfo]:
    words = query.lower().split()
    matches = [d for d in devices if _words_in_order(words, f"{d.name}, {d.hostapi}".lower())]
    exact = [d for d in matches if query.lower() in (d.name.lower(), f"{d.name}, {d.hostapi}".lower())]
    return exact if len(exact) == 1 else matches


def _words_in_order(words: list[str], text: str) -> bool:
    pos = 0
    for word in words:
        pos = text.find(word, pos)
        if pos < 0:
            return False
        pos += len(word)
    return bool(words)


def _describe(devices: Iterable[DeviceInfo]) -> str:
    return ", ".join(f"[{d.index}] {d.name}" for d in devices)


def _unknown_device_message(spec: DeviceSpec, kind: str, devices: list[DeviceInfo], matches: list[DeviceInfo]) -> str:
    if len(matches) > 1:
        return (f"{kind} device {spec!r} is ambiguous, it matches {_describe(matches)}: "
                "give more of the name or the index")
    return (f"no {kind} device {spec!r}; {kind} devices are: {_describe(devices)} "
            "(see `voicesim devices`; pass a name substring or an index)")


def _no_device_message(kind: str) -> str:
    fallback = "use --out FILE.wav to write the customer's audio to a file" if kind == "output" \
        else "use --replies FILE.wav to read the trainee's replies from files"
    return (f"no audio {kind} device found: plug in a headset, or start PulseAudio "
            f"(`pulseaudio --start`), or {fallback}")


# -- levels and rates -----------------------------------------------------------------


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of float samples in dBFS (full-scale sine = -3 dBFS); silence = SILENCE_DBFS."""
    if len(samples) == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DBFS, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DBFS


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
        sd = _sounddevice()
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
    sd = _sounddevice()
    _stream_opened()  # before PortAudio touches the device, so its chatter is filtered too
    try:
        return factory(device=device.index, **kwargs)
    except sd.PortAudioError as exc:
        _stream_closed()
        raise AudioDeviceError(
            f"cannot open {kind} device [{device.index}] {device.name} at {kwargs['samplerate']} Hz: {exc}"
        ) from None


def _close_stream(stream) -> None:
    sd = _sounddevice()
    try:
        stream.abort()
        stream.close()
    except sd.PortAudioError:
        pass  # the device is already gone; nothing left to release
    _stream_closed()


def _stream_opened() -> None:
    global _streams_open
    with _streams_lock:
        if _streams_open == 0:
            _stderr_filter.start()
        _streams_open += 1


def _stream_closed() -> None:
    global _streams_open
    with _streams_lock:
        _streams_open -= 1
        if _streams_open == 0:
            _stderr_filter.stop()


class _Playback:
    """One clip playing on a PortAudio output stream, fed from a callback."""

    def __init__(self, device: DeviceInfo, rate: int, samples: np.ndarray) -> None:
        sd = _sounddevice()
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
            raise _sounddevice().CallbackStop

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


def _collect(blocks: Iterator[np.ndarray], max_seconds: float,
             on_level: Callable[[float], None] | None, stop: StopCallback | None,
             kept: list[np.ndarray]) -> None:
    """Append blocks to `kept` until max_seconds, `stop` says so, or the blocks run out."""
    budget = int(round(max_seconds * SAMPLE_RATE))
    have = 0
    for block in blocks:
        block = block[: budget - have]
        kept.append(block)
        have += len(block)
        if on_level is not None:
            on_level(level_dbfs(block))
        if have >= budget or (stop is not None and stop(float_to_int16(block))):
            return


# -- the two lines -----------------------------------------------------------------------


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
        sd = _sounddevice()
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

    def wait_playback(self) -> None:
        """Block until :meth:`play_async` audio has played (AudioDeviceLostError if the device goes)."""
        if self._playback is not None:
            playback, self._playback = self._playback, None
            playback.wait()

    # -- input

    def _capture(self) -> _Capture:
        return _Capture(self.input_device, self.device_rate("input"))

    def record(self, max_seconds: float, on_level: Callable[[float], None] | None = None,
               stop: StopCallback | None = None) -> Audio:
        kept: list[np.ndarray] = []
        capture = self._capture()
        with capture:
            try:
                _collect(capture.blocks(), max_seconds, on_level, stop, kept)
            except AudioDeviceLostError as exc:
                exc.partial = Audio(np.concatenate(kept)) if kept else Audio.silence(0.0)
                raise
        return Audio(np.concatenate(kept)) if kept else Audio.silence(0.0)

    def open_input_stream(self, on_chunk: ChunkCallback,
                          on_level: Callable[[float], None] | None = None) -> InputStream:
        capture = self._capture()
        return InputStream(capture.blocks, on_chunk, on_level, source=capture)


class FileLine:
    """A line made of WAV files: playback is written to `out_path`, replies are read from `in_path`.

    `out_path` holds everything played so far, in order. `in_path` may be one file or a
    sequence of files; each :meth:`record` (or input stream) takes the next one.

    >>> line = FileLine(out_path="customer.wav", in_path=["reply1.wav", "reply2.wav"])  # doctest: +SKIP
    """

    def __init__(self, out_path: str | os.PathLike | None = None,
                 in_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None) -> None:
        self.out_path = Path(out_path) if out_path is not None else None
        if in_path is None:
            self.in_paths: list[Path] = []
        elif isinstance(in_path, (str, os.PathLike)):
            self.in_paths = [Path(in_path)]
        else:
            self.in_paths = [Path(p) for p in in_path]
        self._next_reply = 0
        self._played: list[Audio] = []

    def play(self, audio: Audio) -> None:
        if self.out_path is None:
            raise VoicesimError("this FileLine has no out_path to write the customer's audio to: pass --out FILE.wav")
        from voicesim.audiofile import write_wav

        self._played.append(audio)
        write_wav(self.out_path, Audio.concat(self._played))

    def play_async(self, audio: Audio) -> None:
        self.play(audio)

    def stop_playback(self) -> float:
        return 0.0

    def wait_playback(self) -> None:
        """Nothing to wait for: the file is written by the time play_async returns."""

    @property
    def is_playing(self) -> bool:
        return False

    def _next_audio(self) -> Audio:
        if self._next_reply >= len(self.in_paths):
            given = ", ".join(str(p) for p in self.in_paths) or "none"
            raise VoicesimError(f"no more reply files to read (given: {given}): pass one --replies file per turn")
        from voicesim.audiofile import load_audio

        path = self.in_paths[self._next_reply]
        self._next_reply += 1
        return load_audio(path)

    def record(self, max_seconds: float, on_level: Callable[[float], None] | None = None,
               stop: StopCallback | None = None) -> Audio:
        kept: list[np.ndarray] = []
        _collect(_file_blocks(self._next_audio()), max_seconds, on_level, stop, kept)
        return Audio(np.concatenate(kept)) if kept else Audio.silence(0.0)

    def open_input_stream(self, on_chunk: ChunkCallback,
                          on_level: Callable[[float], None] | None = None) -> InputStream:
        audio = self._next_audio()
        return InputStream(lambda: _file_blocks(audio), on_chunk, on_level)


def _file_blocks(audio: Audio) -> Iterator[np.ndarray]:
    step = int(round(SAMPLE_RATE * BLOCK_SECONDS))
    for start in range(0, len(audio.samples), step):
        yield audio.samples[start:start + step]
