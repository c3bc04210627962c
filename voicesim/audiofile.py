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
import tempfile
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.errors import VoicesimError

_CONVERT_HINT = "export the recording as WAV or FLAC and try again"

# RIFF writers that stream (no seek back) leave these placeholders as the data size.
_UNKNOWN_DATA_SIZES = (0, 0xFFFFFFFF)


def load_audio(path: str | os.PathLike) -> Audio:
    """Read a WAV/FLAC/OGG/MP3/AIFF file as mono float32 at 16 kHz; VoicesimError if it can't."""
    file = Path(path)
    _check_readable_file(file)
    try:
        data, rate = sf.read(str(file), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise VoicesimError(_unreadable_message(file, exc)) from None
    _check_wav_complete(file)
    if len(data) == 0:
        raise VoicesimError(f"audio file {file} holds no samples (0 s of audio); record it again")
    mono = data.mean(axis=1, dtype=np.float32)
    return Audio(to_sample_rate(mono, rate))


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
    if not file.parent.is_dir():
        raise VoicesimError(f"cannot write {file}: folder {file.parent} does not exist; create it first")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            sf.write(out, audio.to_int16(), audio.sample_rate, format="WAV", subtype="PCM_16")
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, file)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return file


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
