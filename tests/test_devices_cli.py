"""`voicesim devices` as a user runs it, on the virtual headset (in-process) and on none (a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from voicesim.devices import list_devices


def voicesim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicesim", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


@pytest.mark.headset
def test_devices_lists_the_virtual_headset_with_defaults_marked(virtual_headset, cli):
    out = cli("devices")
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["index", "in", "out", "rate", "name"]
    expected = list_devices()
    assert len(rows) == len(expected)
    for row, device in zip(rows, expected, strict=True):
        assert row.split()[-2:] == [device.name, f"({device.hostapi})"]
        assert str(device.index) in row.split()
    default = next(d for d in expected if d.is_default_input and d.is_default_output)
    assert rows[expected.index(default)].startswith("*")


@pytest.mark.headset
def test_devices_json_matches_the_library(virtual_headset, cli):
    out = cli("devices", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [(d["index"], d["name"], d["input_channels"], d["output_channels"]) for d in listed] == \
        [(d.index, d.name, d.input_channels, d.output_channels) for d in list_devices()]
    assert all(d["default_samplerate"] > 0 for d in listed)


@pytest.mark.parametrize("args", [["devices"], ["devices", "--json"]])
def test_no_audio_device_is_one_line_and_a_nonzero_exit(tmp_path, args):
    # A real process: PortAudio looks for devices as it starts, in a clean environment with
    # no PulseAudio at this address and no sound card on this machine.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PULSE_SERVER": f"unix:{tmp_path}/none/native"}
    out = voicesim(*args, env=env)
    if out.returncode == 0 and out.stdout.strip():
        pytest.skip(f"this machine has a sound card:\n{out.stdout}")
    assert out.returncode != 0
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("voicesim: error: no audio devices found")
    assert "Traceback" not in out.stderr
    assert "headset" in lines[0] and "PulseAudio" in lines[0]
