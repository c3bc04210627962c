"""``voicesim rescore``: hear and score recorded sessions again with today's scorer, beside the original.

    voicesim rescore                                   # every session, in parallel over the cores
    voicesim rescore --pack en-first-week --jobs 2
    voicesim rescore --trainee sam --asr vosk
    voicesim rescore --cluster tcp://10.0.0.5:8786      # on a Dask cluster (pip install 'voicesim[cluster]')

Writes ``<session>/assessments/<scorer_version>.json``; a session already rescored by
this scorer version is skipped, so an interrupted run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from voicesim.commands.options import add_model, add_sessions_dir
from voicesim.errors import VoicesimError
from voicesim.safetext import printable


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rescore", help="score recorded sessions again with the current scorer",
                            description="Re-run ASR and scoring on recorded sessions and save each result as a "
                            "versioned assessment beside the original (which is never changed).")
    add_sessions_dir(parser)
    parser.add_argument("--trainee", metavar="NAME", help="only this trainee's sessions")
    parser.add_argument("--pack", metavar="ID", help="only sessions of this benchmark pack")
    parser.add_argument("--scenario", metavar="ID", help="only sessions on this scenario")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N", help="worker processes (default: the number of cores)")
    parser.add_argument("--cluster", metavar="ADDRESS", help="rescore on the Dask cluster whose scheduler is at ADDRESS "
                        "(tcp://HOST:8786) instead of local processes; every worker must see the sessions folder at the "
                        "same path. Needs voicesim[cluster]")
    parser.add_argument("--asr", choices=("vosk", "whisper"), help="the ASR engine (default: whisper when installed, else vosk)")
    add_model(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from voicesim.rescore import Summary, plan, run_jobs, scorer_for
    from voicesim.session import SessionStore

    if args.jobs < 1:
        raise VoicesimError(f"--jobs {args.jobs} must be at least 1")
    summary = Summary()

    def say(message: str) -> None:
        print(f"voicesim: warning: {printable(message)}", file=sys.stderr, flush=True)

    def warn(message: str) -> None:
        if message.startswith("skipped session folder"):
            summary.damaged += 1  # session.json unreadable: the listing names it
        say(message)

    store = SessionStore(args.sessions_dir, create=False, warn=warn)
    rows = store.list(trainee=args.trainee, scenario=args.scenario, pack=args.pack)
    # A call with no reply has nothing to hear again; one in progress may be running now (its recording grows).
    rows = [r for r in rows if r.turns and r.outcome != "in_progress"]
    scorers = {}
    for lang in sorted({r.lang for r in rows}):
        try:
            scorers[lang] = scorer_for(lang, args.asr, args.model)
        except VoicesimError as exc:
            if args.asr or lang == "en":
                raise
            say(f"cannot rescore '{lang}' sessions: {exc}")
    lang_of = {r.session_dir: r.lang for r in rows}
    jobs = plan([Path(r.session_dir) for r in rows], scorers, summary, warn, lambda f: lang_of[str(f)])
    used = {job.scorer.version: job.scorer for job in jobs}
    if used:
        print(f"scorer {', '.join(sorted(used))}", file=sys.stderr)
    started = time.perf_counter()
    with tqdm(total=len(jobs), unit="session", file=sys.stderr, disable=None) as bar:
        needed = {lang: s for lang, s in scorers.items() if s.version in used}  # load only the models with work
        if args.cluster:
            from voicesim.cluster import run_jobs_on_cluster

            run_jobs_on_cluster(jobs, needed, args.cluster, summary, warn, bar)
        else:
            run_jobs(jobs, needed, args.jobs, summary, warn, bar)
    print(summary.line(time.perf_counter() - started))
    return 0
