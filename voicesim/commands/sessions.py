"""``voicesim sessions list``: recorded practice calls, by trainee and scenario.

    voicesim sessions list
    voicesim sessions list --trainee sam --scenario late-delivery --json
    voicesim sessions push                     # send calls waiting in the outbox to the hub
    voicesim sessions list --pack en-first-week
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from voicesim.commands.options import add_hub_options, add_sessions_dir
from voicesim.safetext import printable


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sessions", help="list recorded practice calls",
                            description="Recorded practice calls (session folders), from the sessions index.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="list sessions, oldest first")
    listing.add_argument("--trainee", metavar="NAME", help="only this trainee's calls")
    listing.add_argument("--scenario", metavar="ID", help="only calls on this scenario")
    listing.add_argument("--pack", metavar="ID", help="only calls of this benchmark pack (voicesim pack list)")
    add_sessions_dir(listing)
    listing.add_argument("--json", action="store_true", help="print a JSON list of sessions")
    listing.set_defaults(func=run)
    push = actions.add_parser("push", help="send calls waiting in the outbox to the training-room hub")
    add_sessions_dir(push)
    add_hub_options(push)
    push.set_defaults(func=run_push)


def run(args: argparse.Namespace) -> int:
    from voicesim.session import SessionStore

    # Listing only reads: a mistyped --sessions-dir is reported, never created.
    rows = SessionStore(args.sessions_dir, create=False).list(trainee=args.trainee, scenario=args.scenario, pack=args.pack)
    if args.json:
        # Hand-edited session.json files may hold anything; JSON escapes it, ASCII keeps stdout encodable.
        print(json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=True))
        return 0
    if not rows:
        print("No sessions yet. Start one with: voicesim practice")
        return 0
    print(f"{'started (UTC)':<20} {'trainee':<12} {'scenario':<24} {'outcome':<12} {'turns':>5} {'overall':>7}  folder")
    for r in rows:
        overall = "-" if r.overall is None else str(r.overall)
        started, trainee, scenario, outcome, folder = (
            printable(v) for v in (r.started_at, r.trainee, r.scenario_id, r.outcome, r.session_dir))
        print(f"{started[:19]:<20} {trainee[:12]:<12} {scenario[:24]:<24} {outcome:<12} {r.turns:>5} {overall:>7}  {folder}")
    return 0


def run_push(args: argparse.Namespace) -> int:
    from voicesim.errors import VoicesimError
    from voicesim.session import SessionStore
    from voicesim.upload import config_path, hub_target, outbox, push_outbox

    root = SessionStore(args.sessions_dir, create=False).root
    target = hub_target(args.hub, args.hub_token)
    if target is None:
        raise VoicesimError(f"no hub given: pass --hub URL --hub-token TOKEN, or put [hub] url/token in {config_path()}")
    waiting = len(outbox(root))
    sent, problems = push_outbox(root, target)
    print(f"sent {len(sent)} of {waiting} waiting call(s) to {target.url}")
    if problems:
        raise VoicesimError(f"{len(outbox(root))} call(s) still in the outbox: {'; '.join(problems)}", exit_code=1)
    return 0
