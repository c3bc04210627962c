"""Finds the sound devices PortAudio knows and names them in errors a user can act on.

>>> from voicesim.devices import find_device, list_devices
>>> [d.name for d in list_devices()]                  # doctest: +SKIP
['pulse', 'default']
>>> find_device("USB", "output")                      # by name substring, or an index  # doctest: +SKIP
DeviceInfo(index=3, name='USB headset', ...)

Also the one place that knows whether PortAudio has streams open
(:func:`stream_opened` / :func:`stream_closed`), because re-listing devices restarts
PortAudio and that would close them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from voicesim.errors import VoicesimError
from voicesim.native_stderr import native_stderr

DeviceSpec = int | str | None
"""A device by index, by (case-insensitive) name substring, or None for the default."""


class AudioDeviceError(VoicesimError):
    """A sound device is missing, unknown, or cannot be opened."""


class NoAudioDeviceError(AudioDeviceError):
    """No input or output device exists at all."""


class AudioDeviceLostError(AudioDeviceError):
    """The device vanished mid-stream (unplugged, or the sound server went away)."""


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


def portaudio():
    """The sounddevice module; NoAudioDeviceError when libportaudio2 is missing."""
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


def stream_opened() -> None:
    """Count a stream about to open; the first one starts filtering PortAudio's stderr chatter."""
    global _streams_open
    with _streams_lock:
        if _streams_open == 0:
            native_stderr.start()
        _streams_open += 1


def stream_closed() -> None:
    """Count a stream closed (or failed to open); the last one stops the stderr filter."""
    global _streams_open
    with _streams_lock:
        _streams_open -= 1
        if _streams_open == 0:
            native_stderr.stop()


def refresh_devices() -> None:
    """Make PortAudio list devices anew (it caches them when it starts).

    Needed after a PulseAudio server starts or stops. Does nothing while a stream of
    this module is open, since re-initialising PortAudio would close it.
    """
    sd = portaudio()
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
    sd = portaudio()
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

