"""``voicesim models fetch|list|path``: install, list and locate the Vosk models.

``fetch LANG [--force]`` installs the pinned model once (see :mod:`voicesim.models`);
``list [--json]`` shows every pinned model and where it is installed;
``path LANG [--model DIR]`` prints the folder ASR will load, after checking it.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="install or list the Vosk speech models")
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    actions.required = True

    fetch = actions.add_parser("fetch", help="download, verify and install a model (once)")
    fetch.add_argument("lang", metavar="LANG", help="language code from the manifest, e.g. en or de")
    fetch.add_argument("--force", action="store_true", help="replace an installed model")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar (there is none when stderr is not a terminal)")

    listing = actions.add_parser("list", help="show the pinned models and where they are installed")
    listing.add_argument("--json", action="store_true", help="print a JSON array")

    path = actions.add_parser("path", help="print the model folder used for LANG (--model > VOSK_MODEL_PATH > store)")
    path.add_argument("lang", metavar="LANG", help="language code, e.g. en")
    path.add_argument("--model", metavar="DIR", help="use this unpacked Vosk model folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return {"fetch": _fetch, "list": _list, "path": _path}[args.models_action](args)


def _path(args: argparse.Namespace) -> int:
    from voicesim.models import resolve_model_path

    print(resolve_model_path(args.lang, args.model))
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from voicesim.models import fetch_model

    # A bar is for a person watching; in logs its carriage returns are noise.
    progress = not args.quiet and sys.stderr.isatty()
    result = fetch_model(args.lang, progress=progress, force=args.force)
    if result.source is None:
        print(f"model {args.lang}: already installed at {result.path}")
        return 0
    note = f" after {len(result.failed)} failed source(s): {'; '.join(result.failed)}" if result.failed else ""
    print(f"model {args.lang}: installed at {result.path} from {result.source}{note}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from voicesim.models import list_models

    models = list_models()
    if args.json:
        rows = [
            {"lang": m.lang, "name": m.name, "version": m.version, "size": m.size,
             "path": str(m.path) if m.path else None}
            for m in models
        ]
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    for m in models:
        where = str(m.path) if m.path else f"not installed (run: voicesim models fetch {m.lang})"
        print(f"{m.lang:<4} {m.name:<30} {m.size:<7} {where}")
    return 0

