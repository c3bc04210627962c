"""``voicesim scenarios``: list, show, validate, prepare and render the complaint-call scenarios.

    $ voicesim scenarios list --lang en --json
    [{"id": "broken-kettle", "lang": "en", "title": "..."}, ...]
    $ voicesim scenarios validate scenarios/de
    OK: 6 scenario files valid
    $ voicesim scenarios prepare late-delivery       # render every line into the disk cache
    $ voicesim scenarios render late-delivery --out lines/   # one WAV per line + lines/lines.tsv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from voicesim.errors import VoicesimError
from voicesim.safetext import printable
from voicesim.scenario import Problem, find_scenario, list_scenarios, scenario_dirs, scenario_files, validate


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scenarios", help="list, show and check the practice-call scenarios")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", help="the available scenarios, sorted by language and id")
    listing.add_argument("--lang", help="only this language, e.g. en or de")
    listing.add_argument("--json", action="store_true", help='print [{"id", "lang", "title"}, ...]')
    listing.set_defaults(func=run_list)

    show = actions.add_parser("show", help="who calls, what happened and what they want")
    show.add_argument("id", help="scenario id, as printed by 'voicesim scenarios list'")
    show.add_argument("--lang", help="fail unless the scenario is in this language")
    show.set_defaults(func=run_show)

    check = actions.add_parser("validate", help="report problems in scenario files as file:line: message")
    check.add_argument("path", nargs="?", type=Path, help="a scenario file or folder (default: every scenario folder)")
    check.set_defaults(func=run_validate)

    prep = actions.add_parser("prepare", help="render the customer's lines ahead into the disk cache, so calls start at once")
    prep.add_argument("id", nargs="?", help="scenario id (default: every scenario)")
    prep.add_argument("--lang", help="only scenarios in this language")
    prep.set_defaults(func=run_prepare)

    render = actions.add_parser("render", help="write every line of a scenario as the trainee hears it, one WAV each")
    render.add_argument("id", help="scenario id, as printed by 'voicesim scenarios list'")
    render.add_argument("--out", type=Path, required=True, help="folder for the WAV files and lines.tsv (file, text, anger, kind)")
    render.add_argument("--no-phone", action="store_true", help="leave out the telephone line effect")
    render.set_defaults(func=run_render)


def run(args: argparse.Namespace) -> int:
    return args.func(args)


def run_list(args: argparse.Namespace) -> int:
    found = list_scenarios(lang=args.lang)
    rows = [{"id": s.id, "lang": s.lang, "title": s.title} for s in found]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    elif not rows:
        print(f"no scenarios{f' in {args.lang!r}' if args.lang else ''}")
    else:
        width = max(len(r["id"]) for r in rows)
        for r in rows:
            print(printable(f"{r['id']:<{width}}  {r['lang']}  {r['title']}"))
    return 0


def run_show(args: argparse.Namespace) -> int:
    s = find_scenario(args.id, lang=args.lang)
    voice = s.persona.voice
    for line in (
        f"{s.id} ({s.lang}): {s.title}",
        f"caller:    {s.persona.name} (voice {voice.variant}, {voice.rate} wpm, pitch {voice.pitch}, volume {voice.volume})",
        f"situation: {s.situation}",
        f"wants:     {s.wants}",
        f"at fault:  {'company (an apology is expected)' if s.company_at_fault else 'not the company'}",
        f"file:      {s.path} (sha256 {s.version[:12]})",
    ):
        print(printable(line))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    path: Path | None = getattr(args, "path", None)
    if path is not None and not path.exists():
        raise VoicesimError(f"{path} does not exist; give a scenario .toml file or a folder of them")
    roots = [path] if path else scenario_dirs()
    per_root = [scenario_files([root]) for root in roots]
    files = [f for group in per_root for f in group]
    if not files:
        raise VoicesimError(f"no scenario .toml files found in {', '.join(map(str, roots))}")
    problems = [p for f in files for p in validate(f)]
    # Across roots a repeated id is an intended override (VOICESIM_SCENARIOS_DIR wins).
    problems += [p for group in per_root for p in _duplicate_ids(group)]
    for problem in problems:
        print(printable(str(problem)))
    if problems:
        return 1
    print(f"OK: {len(files)} scenario file{'s' if len(files) != 1 else ''} valid")
    return 0


def _duplicate_ids(files: list[Path]) -> list[Problem]:
    """Ids name the file; the same id twice in one folder would make one file unreachable by id."""
    first: dict[str, Path] = {}
    out = []
    for f in files:
        if f.stem in first:
            out.append(Problem(str(f), 1, f"scenario id '{f.stem}' is also used by {first[f.stem]}; rename one of them"))
        else:
            first[f.stem] = f
    return out


def run_prepare(args: argparse.Namespace) -> int:
    from voicesim.line_cache import cache_dir
    from voicesim.scenario_voice import prepare

    chosen = [find_scenario(args.id, lang=args.lang)] if args.id else list_scenarios(lang=args.lang)
    if not chosen:
        raise VoicesimError(f"no scenarios{f' in {args.lang!r}' if args.lang else ''}; see 'voicesim scenarios list'")
    rendered = cached = 0
    for scenario in chosen:
        new, old = prepare(scenario)
        rendered, cached = rendered + new, cached + old
    print(f"{rendered} line{'s' if rendered != 1 else ''} rendered, {cached} already cached, in {cache_dir()}")
    return 0


def run_render(args: argparse.Namespace) -> int:
    from voicesim.scenario_voice import TSV_NAME, render_scenario

    scenario = find_scenario(args.id)
    written = render_scenario(scenario, args.out, phone_line=not args.no_phone)
    print(f"{len(written)} lines of {scenario.id} written to {args.out} (index: {args.out / TSV_NAME})")
    return 0
