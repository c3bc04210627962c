"""Renders the desk's pages to HTML (Jinja2, autoescaped), the same for the server and the static export.

Every link is relative (``calls/<id>.html``, ``../index.html``), so the pages work
served and as files. :class:`Site` holds a :class:`~voicesim.desk.library.Library`
and renders one page per method; the export passes ``static=True`` to hide forms.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from voicesim.desk import analytics, charts
from voicesim.desk.library import NO_ASSESSMENT, CallSummary, Library, read_session
from voicesim.resources import data_file
from voicesim.scorecard import CHECK_IDS
from voicesim.session import RECORDING

TEMPLATES = Path(__file__).parent / "templates"
MAX_ANGER = 10
"""Top of the anger scale (voicesim/data/customer_rules.toml: max_anger)."""


def slug(name: str) -> str:
    """A file- and URL-safe name for any trainee or pack name, distinct for distinct names.

    >>> slug("<script>alert(1)</script>")[:20]
    'script-alert-1-scrip'
    """
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "x"
    return f"{readable}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def call_href(call_id: str) -> str:
    return f"calls/{quote(call_id, safe='')}.html"


def csv_cell(value: object) -> object:
    """A cell as the page shows it, except that text a spreadsheet would run as a formula gets a leading '.

    >>> csv_cell("=1+2"), csv_cell("sam"), csv_cell(-3)
    ("'=1+2", 'sam', -3)
    """
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def principle_names(lang: str = "en") -> dict[str, str]:
    """Check id -> the principle's name, from the debrief wording (language content lives in data)."""
    try:
        names = tomllib.loads(data_file("debrief", f"{lang}.toml").read_text(encoding="utf-8"))["principles"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        names = {}
    return {check: names.get(check, check) for check in CHECK_IDS}


@dataclass(frozen=True)
class Word:
    """A trainee word on the recording's clock, with the checks whose evidence it is part of."""

    text: str
    start_s: float | None
    end_s: float | None
    checks: tuple[str, ...] = ()


def mark_evidence(words: list[dict[str, Any]], scorecard: dict[str, Any]) -> list[Word]:
    """The reply's words, each tagged with the checks whose evidence quote covers it.

    Evidence is matched by its words in the transcript (its times count from the reply's
    audio, not the recording's clock).
    """
    tokens = [str(w.get("word", "")).lower() for w in words]
    tags: list[list[str]] = [[] for _ in words]
    for check, result in (scorecard.get("checks") or {}).items():
        if not isinstance(result, dict) or not result.get("passed"):
            continue
        for ev in result.get("evidence") or []:
            quote_words = str(ev.get("text", "")).lower().split()
            n = len(quote_words)
            for i in range(len(tokens) - n + 1 if n else 0):
                if tokens[i : i + n] == quote_words:
                    for j in range(i, i + n):
                        tags[j].append(check)
                    break
    return [Word(str(w.get("word", "")), w.get("start_s"), w.get("end_s"), tuple(dict.fromkeys(t)))
            for w, t in zip(words, tags, strict=True)]


class Site:
    """The desk's pages over one sessions folder."""

    def __init__(self, library: Library, static: bool = False) -> None:
        self.library = library
        self.static = static
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                      trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        names = principle_names()
        self.env.filters["principle"] = lambda check: names.get(check, check)
        self.env.globals.update(static=static, names=names, CHECK_IDS=CHECK_IDS, slug=slug,
                                call_href=call_href, counted=analytics.counted, quote=quote,
                                group_href=lambda key: f"packs/{slug(key)}.html", group_label=group_label)

    def render(self, template: str, depth: int, **context: Any) -> str:
        return self.env.get_template(template).render(base="../" * depth, **context)

    # -- pages -------------------------------------------------------------------------------

    def sessions(self, filters: analytics.Filters) -> str:
        calls = self.library.calls()
        matching = analytics.select(calls, filters)
        rows = analytics.page_of(matching, filters.page)
        pages = -(-len(matching) // analytics.PAGE_SIZE) if filters.page else 1
        choices = {
            "trainee": sorted({c.trainee for c in calls if c.started_at}, key=str.lower),
            "scenario": sorted({c.scenario_id for c in calls if c.started_at}),
            "pack": sorted({c.pack_id for c in calls if c.pack_id is not None}),
            "outcome": sorted({c.outcome for c in calls}),
        }
        keys = [key for key, _, _ in analytics.COLUMNS]
        table = [(c, list(zip(keys, analytics.row(c), strict=True))) for c in rows]
        return self.render("sessions.html", 0, rows=table, columns=analytics.COLUMNS, filters=filters,
                           choices=choices, total=len(calls), matching=len(matching), pages=pages,
                           first=(filters.page - 1) * analytics.PAGE_SIZE if filters.page else 0,
                           trainees=choices["trainee"])

    def sessions_csv(self, filters: analytics.Filters) -> str:
        """Exactly the rows and columns the sessions page shows for these filters (and page, if one)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([heading for _, heading, _ in analytics.COLUMNS])
        rows = analytics.page_of(analytics.select(self.library.calls(), filters), filters.page)
        writer.writerows([csv_cell(v) for v in analytics.row(call)] for call in rows)
        return out.getvalue()

    def call(self, call_id: str) -> str | None:
        call = self.library.call(call_id)
        if call is None:
            return None
        session, _ = read_session(call.folder)
        try:
            return self._call(call, session)
        except (AttributeError, TypeError, ValueError, KeyError, jinja2.UndefinedError) as exc:
            # session.json parsed but is not shaped like a call record: show the problem, not a 500.
            broken = replace(call, problem=f"session.json has unexpected content ({exc.__class__.__name__}: {exc})",
                             started_at="", auto=NO_ASSESSMENT, anger=())
            return self._call(broken, None)

    def _call(self, call: CallSummary, session: dict[str, Any] | None) -> str:
        info = charts.recording_info(call.folder / RECORDING) if call.has_recording else None
        recording_problem = None
        if call.has_recording and info is None:
            recording_problem = "the recording (recording.wav) is damaged and cannot be played"
        marks = [(c.at_s, f"{c.by}: {c.text}" if c.by else c.text) for c in call.trainer.comments]
        return self.render(
            "call.html", 1, call=call, session=session or {}, timeline=timeline(session or {}, call),
            assessment=_assessment(session or {}, call), debrief=(session or {}).get("debrief"),
            verdicts=analytics.counted_all(call), waveform=charts.waveform(info[0], info[1], marks) if info else None,
            duration=info[1] if info else None, anger=charts.anger_chart(list(call.anger), MAX_ANGER),
            recording_problem=recording_problem,
        )

    def trainee(self, key: str) -> str | None:
        calls = self.library.calls()
        name = next((c.trainee for c in calls if c.started_at and slug(c.trainee) == key), None)
        if name is None:
            return None
        history = analytics.chronological(calls, name)
        multiples = {
            check: charts.principle_over_time([
                (f"{c.started_at[:16].replace('T', ' ')} {c.scenario_id}: "
                 f"{_met_word(v.met)} ({'trainer ' if v.by_trainer else 'scored by '}{v.scorer})", v.met, v.by_trainer)
                for c in history for v in [analytics.counted(c, check)]])
            for check in CHECK_IDS
        }
        groups: dict[str, int] = {}
        for c in history:
            groups[analytics.pack_key(c)] = groups.get(analytics.pack_key(c), 0) + 1
        focus = analytics.work_on_next(history, _latest_tips(history))
        return self.render("trainee.html", 1, name=name, history=history, multiples=multiples, groups=groups,
                           focus=focus, scorers=analytics.scorers(history))

    def packs(self) -> str:
        return self.render("packs.html", 0, groups=analytics.pack_keys(self.library.calls()))

    def pack(self, key: str) -> str | None:
        calls = self.library.calls()
        group = next((k for k in analytics.pack_keys(calls) if slug(k) == key), None)
        if group is None:
            return None
        grid = analytics.pack_grid(calls, group)
        return self.render("pack.html", 1, grid=grid, key=group, scorers=analytics.scorers(grid.cells.values()))

    def calibration(self) -> str:
        calls = self.library.calls()
        return self.render("calibration.html", 0, rows=analytics.calibration(calls),
                           overridden=sum(1 for c in calls if c.trainer.verdicts))

    def not_found(self, what: str) -> str:
        return self.render("missing.html", 1, what=what)


def group_label(key: str) -> str:
    kind, _, name = key.partition(":")
    return f"pack {name}" if kind == "pack" else f"scenario {name}"


def _met_word(met: bool | None) -> str:
    return "met" if met else "not met" if met is False else "not judged"


def _latest_tips(history: list[CallSummary]) -> dict[str, str]:
    """Check id -> the most recent debrief's "try next" advice for it."""
    tips: dict[str, str] = {}
    for call in history[-analytics.RECENT_CALLS:]:  # the calls work_on_next looks at, not the whole history
        session, _ = read_session(call.folder)
        for note in ((session or {}).get("debrief") or {}).get("notes") or []:
            if isinstance(note, dict) and note.get("try_next"):
                tips[str(note.get("check_id"))] = str(note["try_next"])
    return tips


def _assessment(session: dict[str, Any], call: CallSummary) -> dict[str, Any]:
    """The assessment shown: the newest rescore's, else the call's own."""
    if call.auto.data:
        return call.auto.data.get("assessment") or {}
    return session.get("assessment") or {}


@dataclass(frozen=True)
class Entry:
    """One line of the transcript timeline."""

    speaker: str
    """"customer" or "trainee"."""
    text: str
    start_s: float | None
    turn: dict[str, Any] | None = None
    """The trainee's turn: its index and scorecard."""
    words: tuple[Word, ...] = ()


def timeline(session: dict[str, Any], call: CallSummary) -> list[Entry]:
    """Customer lines and trainee replies in call order; a rescore's transcript replaces the original's."""
    rescored = {t.get("index"): t for t in call.auto.data.get("turns") or [] if isinstance(t, dict)}
    entries: list[Entry] = []
    turns = [t for t in session.get("turns") or [] if isinstance(t, dict)]
    for turn in turns:
        customer = turn.get("customer") or {}
        entries.append(Entry("customer", str(customer.get("text", "")), customer.get("start_s")))
        for prompt in turn.get("silence_prompts") or []:
            entries.append(Entry("customer", str(prompt.get("text", "")), prompt.get("start_s")))
        trainee = turn.get("trainee") or {}
        redo = rescored.get(turn.get("index")) or {}
        words = redo.get("words") or trainee.get("words") or []
        scorecard = redo.get("scorecard") or turn.get("scorecard") or {}
        entries.append(Entry("trainee", str(redo.get("transcript") or trainee.get("text", "")), trainee.get("start_s"),
                             {"index": turn.get("index"), "scorecard": scorecard},
                             tuple(mark_evidence([w for w in words if isinstance(w, dict)], scorecard))))
    last = (turns[-1].get("customer_answer") or {}) if turns else {}
    if last.get("outcome") and last.get("text"):
        entries.append(Entry("customer", str(last["text"]), None))
    return entries
