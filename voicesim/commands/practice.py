"""``voicesim practice``: a whole complaint call, live on the headset or scripted from reply files.

    voicesim practice                                        # default scenario, on the headset
    voicesim practice --scenario double-charge --trainee sam
    voicesim practice --scenario late-delivery --replies a.wav b.wav c.wav --json

Without an audio device the live call falls back, with a message, to the scripted
call on the bundled demo replies, so the first command of the README always runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voicesim.errors import VoicesimError

DEFAULT_SCENARIO = "late-delivery"
"""The scenario of a call started without --scenario (and of the bundled demo replies)."""
DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"
"""Bundled demo replies: data/demo/<scenario id>/NN-*.wav, a well-handled call."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "practice",
        help="take a practice call from an angry customer",
        description="A complaint call: the customer speaks on the headset, you answer out loud, every reply is "
        "scored, the customer reacts, and the call is saved as a session. With --replies, your turns come from "
        "WAV/FLAC files instead (no device needed).",
    )
    parser.add_argument("--scenario", metavar="ID", help=f"scenario id (voicesim scenarios list); default: {DEFAULT_SCENARIO}")
    parser.add_argument("--trainee", default="trainee", metavar="NAME", help="who is practising, for the session index (default: trainee)")
    parser.add_argument("--lang", help="language of the scenario: en or de (default: the scenario's)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="picks among the customer's line variants; same seed, same call (default: 0)")
    parser.add_argument("--replies", nargs="+", metavar="FILE", help="the trainee's replies, one audio file per turn (scripted call)")
    parser.add_argument("--sessions-dir", metavar="DIR", help="where sessions are saved (default: $VOICESIM_SESSIONS_DIR or ~/.local/share/voicesim/sessions)")
    parser.add_argument("--model", metavar="PATH", help="Vosk model folder (default: $VOSK_MODEL_PATH or the installed model)")
    parser.add_argument("--input", metavar="DEVICE", help="microphone by index or name (voicesim devices)")
    parser.add_argument("--output", metavar="DEVICE", help="earpiece by index or name (voicesim devices)")
    parser.add_argument("--json", action="store_true", help='print only {"session_dir","outcome","turns","overall","principles"} on stdout')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicesim.call import CallSetup, run_live, run_scripted
    from voicesim.liveview import LiveView
    from voicesim.session import SessionStore

    store = SessionStore(args.sessions_dir)  # an unwritable folder is reported before anything starts
    view = LiveView(sys.stderr) if args.json else LiveView()
    scenario_id = args.scenario or _default_scenario(args.lang)
    replies = args.replies
    line = None
    if replies is None:
        line, replies, scenario_id = _headset_or_demo(args, scenario_id, view)
    setup = CallSetup.prepare(scenario_id, lang=args.lang, seed=args.seed, trainee=args.trainee, model_path=args.model)
    view.notice(f"Scenario: {setup.scenario.title} ({setup.scenario.id}), customer {setup.scenario.persona.name}.")
    if line is not None:
        view.notice("Answer out loud on your headset; Ctrl-C hangs up.")
        result = run_live(setup, line, store, view)
    else:
        result = run_scripted(setup, replies, store, view)
    if args.json:
        print(json.dumps(result.to_json()))
    return 0


def _default_scenario(lang: str | None) -> str:
    from voicesim.scenario import list_scenarios

    if lang in (None, "en"):
        return DEFAULT_SCENARIO
    found = list_scenarios(lang)
    if not found:
        raise VoicesimError(f"no scenarios in language '{lang}'; see `voicesim scenarios list` or drop --lang")
    return found[0].id


def _headset_or_demo(args: argparse.Namespace, scenario_id: str, view):
    """The headset when one is there; else one clear message and the bundled demo replies."""
    from voicesim.headset import Headset, NoAudioDeviceError

    line = Headset(output=args.output, input=args.input)
    try:
        line.input_device, line.output_device  # look both up now, not mid-call
        return line, None, scenario_id
    except NoAudioDeviceError as exc:
        if args.input or args.output:
            raise  # a device was asked for by name: say it is not there, don't swap in a demo
        demo = demo_replies(DEFAULT_SCENARIO)
        note = "" if scenario_id == DEFAULT_SCENARIO else f" (demo replies exist for {DEFAULT_SCENARIO})"
        view.notice(f"No audio device ({exc}). Playing the scripted demo call on the bundled replies instead{note}.")
        return None, demo, DEFAULT_SCENARIO


def demo_replies(scenario_id: str) -> list[Path]:
    files = sorted((DEMO_DIR / scenario_id).glob("*.wav"))
    if not files:
        raise VoicesimError(f"the bundled demo replies are missing from {DEMO_DIR / scenario_id}; reinstall voicesim")
    return files
