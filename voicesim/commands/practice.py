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

from voicesim.commands.options import add_call_options, add_hub_options, add_sessions_dir
from voicesim.errors import VoicesimError
from voicesim.resources import data_file
from voicesim.safetext import printable

DEFAULT_SCENARIO = "late-delivery"
"""The scenario of a call started without --scenario (and of the bundled demo replies)."""
DEMO_DIR = data_file("demo")
"""Bundled demo replies: data/demo/<scenario id>/NN-*.wav, a well-handled call."""
MAX_REPLY_S = 15 * 60.0
"""Longest reply file a scripted call takes; a live turn closes after a minute, so longer is a wrong file
(and an hour of audio would cost gigabytes of memory in the call)."""


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
    add_sessions_dir(parser, help="where sessions are saved (default: $VOICESIM_SESSIONS_DIR or ~/.local/share/voicesim/sessions)")
    add_call_options(parser)
    add_hub_options(parser)
    parser.add_argument("--no-second-pass", action="store_true",
                        help="Vosk's words only: no Whisper second pass for the final transcript and debrief (also $VOICESIM_SECOND_PASS=0)")
    parser.add_argument("--json", action="store_true", help='print only {"session_dir","outcome","turns","overall","principles"} on stdout')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicesim.call import CallSetup, run_live, run_scripted
    from voicesim.liveview import LiveView
    from voicesim.session import SessionStore
    from voicesim.upload import hub_target

    store = SessionStore(args.sessions_dir)  # an unwritable folder is reported before anything starts
    hub = hub_target(args.hub, args.hub_token)  # a bad hub URL is said now, not after the call
    if args.replies:
        check_replies(args.replies)  # before the model loads: a bad file is the first thing said
    view = LiveView(sys.stderr) if args.json else LiveView()
    scenario_id = args.scenario or _default_scenario(args.lang)
    replies = args.replies
    line = None
    if replies is None:
        line, replies, scenario_id = _headset_or_demo(args, scenario_id, view)
    setup = CallSetup.prepare(scenario_id, lang=args.lang, seed=args.seed, trainee=args.trainee, model_path=args.model,
                               second_pass=not args.no_second_pass)
    view.notice(printable(f"Scenario: {setup.scenario.title} ({setup.scenario.id}), customer {setup.scenario.persona.name}."))
    if line is not None:
        from voicesim.scenario_voice import prepare_for_call

        prepare_for_call(setup.scenario, view.notice)  # a first call's answers must not wait for Piper
        view.notice("Answer out loud on your headset; Ctrl-C hangs up.")
        result = run_live(setup, line, store, view)
    else:
        result = run_scripted(setup, replies, store, view)
    if hub is not None:
        _upload(result.session_dir, store.root, hub, view)
    if args.json:
        print(json.dumps(result.to_json()))
    return 0


def _upload(session_dir: Path, root: Path, hub, view) -> None:
    """After the call is saved: send it and anything older in the outbox; a down hub costs one line, not the call."""
    from voicesim.upload import mark_pending, outbox, push_outbox

    try:
        mark_pending(session_dir)
        sent, problems = push_outbox(root, hub)
    except OSError as exc:  # the session folder is saved; only the upload bookkeeping failed
        sent, problems = [], [f"cannot write the outbox marker in {session_dir} ({exc.strerror})"]
    if problems:
        view.notice(printable(f"Hub: {problems[0]}; {len(outbox(root))} call(s) kept in the outbox; "
                              "`voicesim sessions push` sends them."))
    else:
        view.notice(f"Sent {len(sent)} call(s) to the hub {hub.url}.")


def check_replies(files: list[str]) -> None:
    """Every reply file readable (header only; each is decoded when its turn comes) and of a sane length."""
    from voicesim.audiofile import probe_audio

    for file in files:
        info = probe_audio(file)
        if info.duration_s > MAX_REPLY_S:
            raise VoicesimError(
                f"reply file {file} lasts {info.duration_s / 60:.0f} minutes; a reply may last {MAX_REPLY_S / 60:.0f} "
                "minutes at most: cut it to the trainee's answer for that turn"
            )


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
    from voicesim.devices import NoAudioDeviceError
    from voicesim.headset import Headset

    line = Headset(output=args.output, input=args.input)
    try:
        _ = line.input_device, line.output_device  # look both up now, not mid-call
        return line, None, scenario_id
    except NoAudioDeviceError as exc:
        if args.input or args.output:
            raise  # a device was asked for by name: say it is not there, don't swap in a demo
        _refuse_demo_in_other_language(scenario_id, args)
        demo = demo_replies(DEFAULT_SCENARIO)
        note = "" if scenario_id == DEFAULT_SCENARIO else f" (demo replies exist for {DEFAULT_SCENARIO})"
        view.notice(f"No audio device ({exc}). Playing the scripted demo call on the bundled replies instead{note}.")
        return None, demo, DEFAULT_SCENARIO


def _refuse_demo_in_other_language(scenario_id: str, args: argparse.Namespace) -> None:
    """The demo call is English: for a call in another language, say what that language needs instead."""
    from voicesim.models import model_spec, resolve_model_path
    from voicesim.scenario import find_scenario

    lang = find_scenario(scenario_id, lang=args.lang).lang
    demo_lang = find_scenario(DEFAULT_SCENARIO).lang
    if lang == demo_lang:
        return
    spec, demo_language = model_spec(lang), model_spec(demo_lang).language
    try:
        resolve_model_path(lang, args.model)
    except VoicesimError:
        raise VoicesimError(
            f"no audio device, and {spec.language} calls need a {spec.language} Vosk model ({spec.name}), which is not "
            f"installed: run `voicesim models fetch {lang}`, or unpack {spec.name}.zip from another machine and set "
            f"VOSK_MODEL_PATH to it (README, section {spec.language}); the bundled demo call is {demo_language} only"
        ) from None
    raise VoicesimError(
        f"no audio device, and there is no {spec.language} demo call (the bundled demo replies are {demo_language}); "
        f"connect a headset for a live call (voicesim devices lists them), or script the call with your own "
        f"recordings: voicesim practice --scenario {scenario_id} --replies reply1.wav reply2.wav"
    )


def demo_replies(scenario_id: str) -> list[Path]:
    files = sorted((DEMO_DIR / scenario_id).glob("*.wav"))
    if not files:
        raise VoicesimError(f"the bundled demo replies are missing from {DEMO_DIR / scenario_id}; reinstall voicesim")
    return files
