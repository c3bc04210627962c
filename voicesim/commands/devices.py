"""``voicesim devices [--json]``: the sound devices a headset can be picked from.

Prints one row per device: index, input and output channels, default rate, name and
host API; ``>`` marks the default input, ``<`` the default output, ``*`` both (as
python-sounddevice does). ``--input`` / ``--output`` of other commands take the index
or a part of the name. No device at all is an error with what to do about it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("devices", help="list the sound input and output devices")
    parser.add_argument("--json", action="store_true", help="print a JSON array of devices")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicesim.devices import NO_DEVICES_FIXES, NoAudioDeviceError, list_devices

    devices = list_devices()
    if not devices:
        raise NoAudioDeviceError(f"no audio devices found: {NO_DEVICES_FIXES}")
    if args.json:
        print(json.dumps([asdict(d) for d in devices], indent=2))
        return 0
    print(f"  {'index':>5}  {'in':>3}  {'out':>3}  {'rate':>6}  name")
    for d in devices:
        mark = {(True, True): "*", (True, False): ">", (False, True): "<"}.get(
            (d.is_default_input, d.is_default_output), " ")
        print(f"{mark} {d.index:>5}  {d.input_channels:>3}  {d.output_channels:>3}  "
              f"{d.default_samplerate:>6.0f}  {d.name} ({d.hostapi})")
    return 0
