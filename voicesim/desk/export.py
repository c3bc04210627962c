"""Writes the desk as a static, self-contained site: the same pages, relative links, no server.

Recordings are hard-linked into the export when it is on the same file system as
the sessions, copied otherwise. The trainer's forms are left out (nothing to post to).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from voicesim.desk import analytics
from voicesim.desk.library import Library
from voicesim.desk.pages import Site, slug
from voicesim.session import RECORDING

STATIC = Path(__file__).parent / "static"


def export_site(library: Library, out: Path) -> int:
    """Write every page under `out`; returns the number of calls exported."""
    site = Site(library, static=True)
    calls = library.calls()
    _write(out / "index.html", site.sessions(analytics.Filters()))
    _write(out / "sessions.csv", site.sessions_csv(analytics.Filters()))
    _write(out / "packs.html", site.packs())
    _write(out / "calibration.html", site.calibration())
    for key in analytics.pack_keys(calls):
        _write(out / "packs" / f"{slug(key)}.html", site.pack(slug(key)) or "")
    for name in {c.trainee for c in calls if c.started_at}:
        _write(out / "trainees" / f"{slug(name)}.html", site.trainee(slug(name)) or "")
    for call in calls:
        _write(out / "calls" / f"{call.id}.html", site.call(call.id) or "")
        if call.has_recording:
            _link_or_copy(call.folder / RECORDING, out / "calls" / f"{call.id}.wav")
    shutil.copytree(STATIC, out / "static", dirs_exist_ok=True)
    return len(calls)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, target)
