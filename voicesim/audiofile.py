"""Audio files in and out: any common WAV/FLAC layout becomes one :class:`Audio`.

>>> from voicesim.audiofile import load_audio, write_wav
>>> audio = load_audio("tests/data/real-speech/jfk.flac")   # 44.1 kHz stereo 24-bit FLAC
>>> audio.sample_rate, round(audio.duration_s, 1)
(16000, 11.0)
>>> write_wav("/tmp/jfk16k.wav", audio).name
'jfk16k.wav'

Reading goes through libsndfile (``soundfile``), so every PCM width (8/16/24/32-bit
integer), 32/64-bit float WAV, FLAC, OGG, MP3 and AIFF load the same way. Channels are averaged
to mono and any rate is resampled to 16 kHz with a polyphase filter.

Truncated WAV files are refused: libsndfile silently reads as much as is there, which
would hide a recording that was cut off (a crashed recorder, a half-copied file). The
RIFF header's ``data`` size is compared with the bytes actually present.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.errors import VoicesimError
from voicesim.files import replace_atomically

_CONVERT_HINT = "export the recording as WAV or FLAC and try again"

# RIFF writers that stream (no seek back) leave these placeholders as the data size.
_UNKNOWN_DATA_SIZES = (0, 0xFFFFFFFF)

MIN_RATE, MAX_RATE = 4_000, 384_000
"""Sample rates voicesim accepts; outside them a header is damaged (a 1 Hz header once asked for 2.6 GB)."""
BLOCK_FRAMES = 1 << 16
"""Frames decoded at a time, so a long file costs one mono copy in memory, not several."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header promises, checked before any sample is decoded."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    """Sample frames to decode (for a WAV whose data size was never patched: what the file holds)."""
    raw_offset: int | None = None
    """Byte offset of the samples when the WAV header's data size is 0 but samples follow (a crashed recorder)."""
    subtype: str = ""
    endian: str = "FILE"

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def probe_audio(path: str | os.PathLike) -> AudioInfo:
    """Check that `path` is an audio file voicesim can read, from its header alone; VoicesimError if not."""
    file = Path(path)
    _check_readable_file(file)
    try:
        with open(file, "rb") as f, sf.SoundFile(f) as snd:  # a file object: names need not be UTF-8
            info = AudioInfo(file, snd.samplerate, snd.channels, snd.frames, subtype=snd.subtype, endian=snd.endian)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise VoicesimError(_unreadable_message(file, exc)) from None
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise VoicesimError(
            f"audio file {file} says its sample rate is {info.sample_rate} Hz; voicesim reads {MIN_RATE}-{MAX_RATE} Hz, "
            f"so the header is damaged or the file is not a recording; {_CONVERT_HINT}"
        )
    _check_wav_complete(file)
    if info.frames == 0:
        info = _unpatched_wav(info)
    if info.frames == 0:
        raise VoicesimError(f"audio file {file} holds no samples (0 s of audio); record it again")
    return info


def load_audio(path: str | os.PathLike) -> Audio:
    """Read a WAV/FLAC/OGG/MP3/AIFF file as mono float32 at 16 kHz; VoicesimError if it can't."""
    info = probe_audio(path)
    mono = _decode_mono(info)
    if len(mono) == 0:
        raise VoicesimError(f"audio file {info.path} holds no samples (0 s of audio); record it again")
    if info.sample_rate == SAMPLE_RATE:  # clip in place: a long file is not copied once more
        return Audio(np.clip(mono, -1.0, 1.0, out=mono))
    return Audio(to_sample_rate(mono, info.sample_rate))


def _decode_mono(info: AudioInfo) -> np.ndarray:
    """All frames averaged to mono, block by block, refusing damaged (non-finite) samples."""
    out = np.empty(info.frames, dtype=np.float32)
    n = 0
    try:
        with open(info.path, "rb") as f, _open_samples(f, info) as snd:
            for block in snd.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    at = (n + int(np.argmin(np.isfinite(block).all(axis=1)))) / info.sample_rate
                    raise VoicesimError(
                        f"audio file {info.path} is damaged: it holds samples that are not numbers (NaN or infinity) "
                        f"from {at:.2f} s; record or export it again"
                    )
                m = len(block)
                if n + m > len(out):  # the header under-counted (some compressed formats estimate)
                    out = np.concatenate([out[:n], np.empty(max(m, n), dtype=np.float32)])
                np.mean(block, axis=1, dtype=np.float32, out=out[n : n + m])
                n += m
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise VoicesimError(_unreadable_message(info.path, exc)) from None
    return out[:n]


def _open_samples(f: BinaryIO, info: AudioInfo) -> sf.SoundFile:
    if info.raw_offset is None:
        return sf.SoundFile(f)
    return sf.SoundFile(_Tail(f, info.raw_offset), format="RAW", samplerate=info.sample_rate,
                        channels=info.channels, subtype=info.subtype, endian=info.endian)


class _Tail:
    """The bytes of `f` from `offset` on, as a file of their own (libsndfile reads RAW from byte 0)."""

    def __init__(self, f: BinaryIO, offset: int) -> None:
        self._f, self._offset = f, offset
        f.seek(offset)

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        base = self._offset if whence == os.SEEK_SET else 0
        return self._f.seek(pos + base, whence) - self._offset

    def tell(self) -> int:
        return self._f.tell() - self._offset

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def readinto(self, buffer) -> int:
        return self._f.readinto(buffer)


def _unpatched_wav(info: AudioInfo) -> AudioInfo:
    """A WAV whose data size says 0 (never patched) but holds samples: read what is there, as raw samples."""
    if not _is_riff_wave(info.path):
        return info
    declared, offset = _wav_data_chunk(info.path)
    if declared not in _UNKNOWN_DATA_SIZES or not offset:
        return info
    frame_bytes = info.channels * _SUBTYPE_BYTES.get(info.subtype, 0)
    if not frame_bytes:
        return info
    frames = (info.path.stat().st_size - offset) // frame_bytes
    endian = "BIG" if _head(info.path)[:4] == b"RIFX" else "LITTLE"
    return AudioInfo(info.path, info.sample_rate, info.channels, frames, raw_offset=offset, subtype=info.subtype, endian=endian)


_SUBTYPE_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def to_sample_rate(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float samples from `rate` to `target` Hz, clipped to [-1, 1]."""
    if rate != target:
        # Imported here: scipy.signal takes ~1 s to import and most files are already 16 kHz.
        from scipy.signal import resample_poly

        g = gcd(int(rate), target)
        samples = resample_poly(samples, target // g, int(rate) // g)
    # The anti-aliasing filter can overshoot full-scale input slightly; Audio promises [-1, 1].
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def write_wav(path: str | os.PathLike, audio: Audio) -> Path:
    """Write 16-bit PCM mono WAV atomically: a reader sees the old file or the whole new one."""
    file = Path(path)
    if not str(path).strip():
        raise VoicesimError("the output file name is empty; give a path ending in .wav")
    if file.is_dir():
        raise VoicesimError(f"cannot write {file}: it is a folder; give a file name such as {file / 'line.wav'}")
    if not file.parent.is_dir():
        raise VoicesimError(f"cannot write {file}: folder {file.parent} does not exist; create it first")
    try:
        replace_atomically(file, lambda out: sf.write(out, audio.to_int16(), audio.sample_rate, format="WAV", subtype="PCM_16"))
    except OSError as exc:
        raise VoicesimError(f"cannot write {file} ({exc.strerror or exc}); choose another folder or free some space") from None
    return file


def _check_readable_file(file: Path) -> None:
    if not file.exists():
        raise VoicesimError(f"audio file {file} does not exist; check the path")
    if file.is_dir():
        raise VoicesimError(f"{file} is a folder, not an audio file; give the path of a WAV or FLAC file")
    if file.stat().st_size == 0:
        raise VoicesimError(f"audio file {file} is empty (0 bytes); record or copy it again")
    if not os.access(file, os.R_OK):
        raise VoicesimError(f"audio file {file} is not readable; check its permissions")


def _unreadable_message(file: Path, exc: Exception) -> str:
    # libsndfile's own text is often empty or just "Error opening '<path>'", so say it plainly.
    detail = str(exc).replace(f"Error opening {str(file)!r}: ", "").strip()
    detail = f" ({detail})" if detail else ""
    if _has_audio_magic(file):
        return f"cannot decode {file}: the file is damaged or truncated{detail}; record or copy it again"
    return f"{file} is not an audio file voicesim can read (WAV, FLAC, OGG, MP3, AIFF){detail}; {_CONVERT_HINT}"


def _is_riff_wave(file: Path) -> bool:
    head = _head(file)
    return head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE"


def _has_audio_magic(file: Path) -> bool:
    """Does the file start like WAV, FLAC or OGG (so a read failure means damage, not a wrong file)?"""
    return _is_riff_wave(file) or _head(file)[:4] in (b"fLaC", b"OggS")


def _head(file: Path) -> bytes:
    with open(file, "rb") as f:
        return f.read(12)


def _check_wav_complete(file: Path) -> None:
    """Refuse a WAV whose header promises more sample bytes than the file holds."""
    if not _is_riff_wave(file):
        return
    declared, offset = _wav_data_chunk(file)
    if declared is None or declared in _UNKNOWN_DATA_SIZES:
        return
    present = file.stat().st_size - offset
    if present < declared:
        raise VoicesimError(
            f"WAV file {file} is truncated: its header announces {declared} bytes of samples "
            f"but only {present} are there; record or copy it again"
        )


def _wav_data_chunk(file: Path) -> tuple[int | None, int]:
    """(declared size of the ``data`` chunk, offset of its first byte); size None if not found."""
    with open(file, "rb") as f:
        riff = f.read(12)
        endian = ">" if riff[:4] == b"RIFX" else "<"
        while True:
            header = f.read(8)
            if len(header) < 8:
                return None, 0
            chunk_id, size = header[:4], struct.unpack(endian + "I", header[4:])[0]
            if chunk_id == b"data":
                return size, f.tell()
            f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to even length
