"""``voicesim pack``: benchmark packs — the same calls for every trainee, taken in order, compared.

    voicesim pack list
    voicesim pack validate my-pack.toml
    voicesim pack run en-first-week --trainee sam                      # live on the headset
    voicesim pack run en-first-week --trainee sam --replies-dir demo/  # scripted: demo/<index>/*.wav
    voicesim pack status en-first-week --json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from voicesim.commands.options import add_call_options, add_sessions_dir
from voicesim.errors import VoicesimError
from voicesim.safetext import printable

STOPPED = ("interrupted", "device_lost")
"""Outcomes that stop a pack run: the trainee takes that call again next time."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("pack", help="benchmark packs: the same calls for every trainee",
                            description="A benchmark pack is a list of calls (scenario, seed, difficulty) that every "
                            "trainee takes in order; see scenarios/packs/README.md.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="the shipped packs and those in $VOICESIM_PACKS_DIR").set_defaults(func=run_list)
    check = actions.add_parser("validate", help="check a pack file")
    check.add_argument("path", metavar="PATH")
    check.set_defaults(func=run_validate)

    take = actions.add_parser("run", help="take a pack's calls, from the first one not finished yet")
    take.add_argument("pack", metavar="PACK", help="pack id (voicesim pack list) or path of a pack file")
    take.add_argument("--trainee", required=True, metavar="NAME", help="who takes the calls")
    take.add_argument("--replies-dir", metavar="DIR", help="scripted: DIR/<index>/*.wav or DIR/<scenario id>/*.wav, one file per turn")
    add_sessions_dir(take)
    add_call_options(take)
    take.add_argument("--json", action="store_true", help="print a JSON list of the calls taken, as `practice --json` has them")
    take.set_defaults(func=run_pack)

    status = actions.add_parser("status", help="trainees x calls: done and score")
    status.add_argument("pack", metavar="PACK")
    add_sessions_dir(status)
    status.add_argument("--json", action="store_true", help="print the table as JSON")
    status.set_defaults(func=run_status)


def run_list(args: argparse.Namespace) -> int:
    from voicesim.packs import load_pack, pack_files

    files = pack_files()
    if not files:
        print("No packs. Write one: scenarios/packs/README.md")
    for path in files:
        try:
            pack = load_pack(path)
        except VoicesimError as exc:
            print(f"{path.stem:<24} BROKEN: {printable(str(exc))}")
            continue
        scenarios = ", ".join(c.scenario for c in pack.calls)
        print(printable(f"{pack.id:<24} {len(pack.calls)} calls  {pack.name}  ({scenarios})  {path}"))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from voicesim.packs import load_pack

    pack = load_pack(args.path)
    print(printable(f"{args.path}: ok, pack '{pack.id}' with {len(pack.calls)} calls, version {pack.version[:12]}"))
    return 0


def run_pack(args: argparse.Namespace) -> int:
    from voicesim.call import CallSetup, run_live, run_scripted
    from voicesim.commands.practice import check_replies
    from voicesim.customer import with_difficulty
    from voicesim.liveview import LiveView
    from voicesim.packs import calls_to_take, find_pack, replies_for
    from voicesim.session import SessionStore

    pack = find_pack(args.pack)
    store = SessionStore(args.sessions_dir)
    todo = calls_to_take(pack, args.trainee, store.list(trainee=args.trainee, pack=pack.id))
    view = LiveView(sys.stderr) if args.json else LiveView()
    if not todo:
        view.notice(printable(f"{args.trainee} has finished all {len(pack.calls)} calls of {pack.id}; "
                              f"see: voicesim pack status {pack.id}"))
        if args.json:
            print("[]")
        return 0
    replies, line = {}, None
    if args.replies_dir:
        folder = Path(args.replies_dir)
        if not folder.is_dir():
            raise VoicesimError(f"--replies-dir {folder} is not a folder; give the folder holding <index>/*.wav")
        replies = {call.index: replies_for(call, folder) for call in todo}  # all found before the first call
        for files in replies.values():
            check_replies([str(f) for f in files])
    else:
        line = _headset(args)
    results = []
    for call in todo:
        setup = CallSetup.prepare(call.scenario, seed=call.seed, trainee=args.trainee, model_path=args.model)
        setup = replace(setup, scenario=with_difficulty(setup.scenario, call.start_anger, call.patience),
                        benchmark=pack.ref(call))
        view.notice(printable(f"Pack {pack.id}, call {call.index} of {len(pack.calls)}: {setup.scenario.title}."))
        if line is None:
            result = run_scripted(setup, replies[call.index], store, view)
        else:
            from voicesim.scenario_voice import prepare_for_call

            prepare_for_call(setup.scenario, view.notice)  # the customer answers every trainee as fast
            result = run_live(setup, line, store, view)
        results.append({"index": call.index, **result.to_json()})
        if result.outcome in STOPPED:
            view.notice(f"Stopped at call {call.index}; run the same command again to take it again.")
            break
    if args.json:
        print(json.dumps(results))
    return 130 if results[-1]["outcome"] in STOPPED else 0


def _headset(args: argparse.Namespace):
    from voicesim.devices import NoAudioDeviceError
    from voicesim.headset import Headset

    line = Headset(output=args.output, input=args.input)
    try:
        _ = line.input_device, line.output_device  # look both up now, not mid-pack
    except NoAudioDeviceError as exc:
        raise VoicesimError(f"{exc}; connect a headset, or script the calls with --replies-dir DIR") from None
    return line


def run_status(args: argparse.Namespace) -> int:
    from voicesim.packs import find_pack, older_versions, progress
    from voicesim.rescore import ORIGINAL, newest_assessment
    from voicesim.session import SessionStore

    pack = find_pack(args.pack)
    rows = SessionStore(args.sessions_dir, create=False).list(pack=pack.id)
    table = {}
    for trainee, states in progress(pack, rows).items():
        cells = []
        for state in states:
            assessment, made_by = newest_assessment(state.session_dir) if state.session_dir else (None, ORIGINAL)
            overall = assessment.get("overall") if assessment else state.overall
            cells.append({"index": state.index, "done": state.done, "outcome": state.outcome,
                          "overall": overall if isinstance(overall, int) else None,
                          "scorer_version": made_by, "session_dir": state.session_dir})
        table[trainee] = cells
    older = older_versions(pack, rows)
    if args.json:
        print(json.dumps({"pack": {"id": pack.id, "name": pack.name, "version": pack.version},
                          "calls": [{"index": c.index, "scenario": c.scenario, "seed": c.seed} for c in pack.calls],
                          "trainees": table, "older_version_sessions": older}, indent=2, ensure_ascii=True))
        return 0
    _print_status(pack, table, older)
    return 0


def _print_status(pack, table: dict, older: int) -> None:
    print(printable(f"Pack {pack.id}: {pack.name} (version {pack.version[:12]}), {len(pack.calls)} calls"))
    if not table:
        print(f"No trainee has taken it yet. Start with: voicesim pack run {pack.id} --trainee NAME")
    heads = [f"{c.index} {c.scenario}"[:18] for c in pack.calls]
    print(f"{'trainee':<14}" + "".join(f" {h:<18}" for h in heads))
    rescorers = {}
    for trainee, cells in table.items():
        shown = []
        for cell in cells:
            shown.append(_cell(cell, rescorers))
        print(printable(f"{trainee[:14]:<14}" + "".join(f" {s:<18}" for s in shown)))
    for mark, version in rescorers.items():
        print(f"{mark} rescored by {version}")
    print("scores: the call's overall (0-100) from its newest assessment; '-' not taken, (outcome) not finished")
    if older:
        print(f"{older} sessions of older versions of this pack file are not shown")


def _cell(cell: dict, rescorers: dict[str, str]) -> str:
    from voicesim.rescore import ORIGINAL

    if cell["outcome"] is None:
        return "-"
    if not cell["done"]:
        return f"({cell['outcome']})"
    score = "done" if cell["overall"] is None else str(cell["overall"])
    if cell["scorer_version"] != ORIGINAL:
        marks = {v: k for k, v in rescorers.items()}
        mark = marks.get(cell["scorer_version"]) or "*" * (len(rescorers) + 1)
        rescorers[mark] = cell["scorer_version"]
        score += mark
    return score
