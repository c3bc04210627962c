"""Replace a file atomically, with the mode an ordinary ``open()`` would give it.

A reader (the trainer's desk, ``sessions list``, a player) sees the old file or the
whole new one, never half of one; ``mkstemp``'s private 0600 mode is widened to what
the user's umask allows, so ``session.json`` and ``recording.wav`` share one mode.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
>>> replace_atomically(path, lambda f: f.write(b"hello"))
>>> path.read_bytes()
b'hello'
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def ordinary_mode() -> int:
    """0666 less the process umask: what ``open(path, "w")`` creates."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def replace_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` through a temp file beside it, fsync, then rename over it; OSError on failure."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, ordinary_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
