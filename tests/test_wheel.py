"""The wheel stands alone: built from the sources, unpacked, it lists the scenarios and runs a call.

Scenarios, the model manifest and voicesim/data/ must travel inside the wheel; a lookup that
climbs out of the package into the checkout would pass from a clone and fail once installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "voicesim", "scenarios", "models")
"""What the build reads; copied so that a build/ folder left in the checkout cannot leak stale files in."""


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the venv's setuptools and wheel build it, so the test needs no network.
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
                   check=True, capture_output=True, text=True, cwd=src)
    (wheel,) = out.glob("voicesim-*.whl")
    target = tmp_path_factory.mktemp("unpacked")
    zipfile.ZipFile(wheel).extractall(target)
    return target


def from_wheel(unpacked: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    env.pop("VOICESIM_SCENARIOS_DIR", None)
    return subprocess.run([sys.executable, "-m", "voicesim", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300)


def test_the_unpacked_wheel_is_what_runs(unpacked_wheel: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(unpacked_wheel)}
    where = subprocess.run([sys.executable, "-c", "import voicesim.resources as r; print(r.bundled_folder('scenarios'))"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout.strip()
    assert Path(where) == unpacked_wheel / "voicesim" / "scenarios"


def test_wheel_lists_the_twelve_shipped_scenarios(unpacked_wheel: Path, tmp_path: Path) -> None:
    proc = from_wheel(unpacked_wheel, tmp_path, "scenarios", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    scenarios = json.loads(proc.stdout)
    assert len(scenarios) == 12
    assert {s["lang"] for s in scenarios} == {"en", "de"}


@pytest.mark.slow  # about 6 s: the Vosk model loads and four replies are transcribed
def test_wheel_runs_a_scripted_call_on_its_bundled_demo_replies(unpacked_wheel: Path, tmp_path: Path) -> None:
    demo = sorted((unpacked_wheel / "voicesim" / "data" / "demo" / "late-delivery").glob("*.wav"))
    assert len(demo) == 4
    proc = from_wheel(unpacked_wheel, tmp_path, "practice", "--scenario", "late-delivery", "--replies", *map(str, demo),
                      "--json", "--sessions-dir", str(tmp_path / "sessions"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["outcome"] in ("resolved", "hung_up", "turn_limit")
    assert result["turns"] == 4
    assert Path(result["session_dir"]).is_relative_to(tmp_path / "sessions")
