"""The disk cache of rendered customer lines, so a neural voice costs nothing during a call.

Scenario lines are finite: each is rendered once (on first use, or ahead by
``voicesim scenarios prepare``) and kept as a ``.npy`` file under
``~/.cache/voicesim/lines/`` (``VOICESIM_LINE_CACHE`` names another folder).

>>> from voicesim.line_cache import line_key
>>> line_key({"text": "Hello", "engine": "piper"}) == line_key({"engine": "piper", "text": "Hello"})
True

The key is the sha256 of everything that shapes the samples: the text, its anger
level, the engine and its version, and every voice setting. So a changed line or
voice re-renders, and an edit to one line of a scenario keeps the others cached.
Deleting the folder is always safe: missing lines are rendered again. Files are
written to a temporary name and renamed, so a crash never leaves half a line.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

CACHE_ENV = "VOICESIM_LINE_CACHE"
"""Environment variable naming the cache folder instead of ~/.cache/voicesim/lines."""


def cache_dir() -> Path:
    """Where rendered lines are kept."""
    named = os.environ.get(CACHE_ENV)
    return Path(named) if named else Path.home() / ".cache" / "voicesim" / "lines"


def line_key(description: dict) -> str:
    """The cache key of a line: sha256 of its description as canonical JSON."""
    canonical = json.dumps(description, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_line(key: str) -> np.ndarray | None:
    """The cached samples for `key`, or None when not cached (or unreadable: then it re-renders)."""
    path = _path(key)
    try:
        samples = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return samples if samples.dtype == np.float32 and samples.ndim == 1 else None


def store_line(key: str, samples: np.ndarray) -> None:
    """Keep `samples` under `key`; a cache that cannot be written is skipped, not an error."""
    path = _path(key)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            np.save(tmp, np.ascontiguousarray(samples, dtype=np.float32), allow_pickle=False)
        os.replace(tmp.name, path)
    except OSError:
        # A read-only or full disk only costs the next call a fresh render.
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)


def is_cached(key: str) -> bool:
    return _path(key).is_file()


def _path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.npy"
