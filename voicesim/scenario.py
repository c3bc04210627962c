"""Complaint-call scenarios: TOML files a trainer can read and edit, loaded into frozen values.

A scenario is ``scenarios/<lang>/<id>.toml`` (format: ``scenarios/README.md``).
Files are found in the shipped ``scenarios/`` folder (see :mod:`voicesim.resources`) and in the folders named
by ``VOICESIM_SCENARIOS_DIR`` (``os.pathsep``-separated), which come first.

>>> from voicesim.scenario import find_scenario, validate
>>> scenario = find_scenario("late-delivery")
>>> scenario.persona.name, scenario.company_at_fault
('Margaret Hale', True)
>>> validate(scenario.path)
[]
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicesim.customer_rules import ANGER_LEVELS, STAGES, load_rules
from voicesim.errors import VoicesimError
from voicesim.resources import bundled_folder
from voicesim.safetext import has_control

REACTIONS = ("apology", "understanding", "good_question", "blame", "interrupted", "silence")
"""What the customer reacts to, each with its own lines."""
ENDINGS = ("resolved", "hung_up", "turn_limit")
"""How a call can end; also the outcome names."""

MAX_LINE_CHARS = 600
"""Longest customer line (about 40 s of speech); a longer one is a paste gone wrong, not a line."""
MAX_TEXT_CHARS = 4000
"""Longest other text (situation, wants) a trainer's screen shows."""

ENV_DIRS = "VOICESIM_SCENARIOS_DIR"
REPO_SCENARIOS = bundled_folder("scenarios")
"""The shipped scenarios: the checkout's scenarios/ folder, or its copy inside an installed wheel."""
PACKS_FOLDER = "packs"
"""Benchmark packs (voicesim.packs) live in scenarios/packs/; they are not scenarios."""

KeyPath = tuple[str | int, ...]
"""Where a key sits in the TOML document, e.g. ("stages", "details", "angry") or ("facts", 2, "topic")."""


@dataclass(frozen=True)
class Voice:
    """How the customer's voice is set up (maps onto ``voicesim.tts.VoiceSettings``)."""

    rate: int
    """espeak: words per minute."""
    pitch: int
    """espeak: 0–100, espeak's scale."""
    volume: float
    """0–1."""
    variant: str
    """espeak-ng voice variant, e.g. 'f3' or 'm2'."""
    engine: str = "espeak"
    """"espeak" (default, every language) or "piper" (a neural voice; see voicesim/data/voices.toml)."""
    semitones: float = 0.0
    """piper: pitch shift from the voice's own pitch, -6..6."""
    pace: float = 1.0
    """piper: speed factor, 1.0 is the voice's own pace."""


@dataclass(frozen=True)
class Persona:
    name: str
    voice: Voice


@dataclass(frozen=True)
class Fact:
    """Something the customer answers when a targeted question asks about it."""

    topic: str
    keywords: tuple[str, ...]
    """Lower-case words or phrases; a question containing one asks for this fact."""
    answer: str


@dataclass(frozen=True)
class Scenario:
    id: str
    lang: str
    title: str
    persona: Persona
    situation: str
    """What happened, for the trainer and the debrief."""
    wants: str
    """What the customer wants out of the call."""
    company_at_fault: bool
    """True when an apology is expected."""
    start_anger: int
    """Anger when the call connects (0 = calm; the top is in data/customer_rules.toml)."""
    turn_limit: int | None
    """Trainee turns before the customer gives up; None = the rules' default."""
    opening: dict[str, tuple[str, ...]]
    """Anger level -> first lines when the call connects."""
    stages: dict[str, dict[str, tuple[str, ...]]]
    """Stage -> anger level -> lines."""
    reactions: dict[str, tuple[str, ...]]
    """Reaction (see REACTIONS) -> lines."""
    endings: dict[str, tuple[str, ...]]
    """Outcome (see ENDINGS) -> last lines."""
    facts: tuple[Fact, ...]
    path: Path = field(compare=False)
    version: str = ""
    """sha256 of the file's bytes, recorded in sessions."""

    def voice_settings(self):
        """The persona's voice as ``voicesim.tts.VoiceSettings``, knowing each line's anger (imported lazily: TTS is an I/O edge)."""
        from voicesim.scenario_voice import voice_settings

        return voice_settings(self)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a scenario file."""

    file: str
    line: int
    """1-based; the offending key or table, or where TOML parsing stopped."""
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def scenario_version(path: str | Path) -> str:
    """sha256 of the file's bytes: sessions record it so a trainer knows which text a call used."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- validation -------------------------------------------------------------------------


def validate(path: str | Path) -> list[Problem]:
    """Everything wrong in one scenario file; an empty list means it loads."""
    problems, _ = _parse(Path(path))
    return problems


def _parse(path: Path) -> tuple[list[Problem], dict[str, Any] | None]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        return [Problem(str(path), 1, f"cannot read the file: {exc.strerror or exc}")], None
    except UnicodeDecodeError as exc:
        return [Problem(str(path), 1, f"not UTF-8 text ({exc.reason}); save the file as UTF-8")], None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [_syntax_problem(path, text, exc)], None
    except RecursionError:
        return [Problem(str(path), 1, "TOML nested too deeply (arrays or tables inside each other); "
                                      "a scenario needs two or three levels at most")], None
    lines = _key_lines(text)
    found = [Problem(str(path), _line_of(lines, where), msg) for where, msg in _check(data, path)]
    return found, (data if not found else None)


def _syntax_problem(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column \d+\)", message)
    if match:
        line = int(match.group(1))
        message = message[: match.start()].rstrip()
    else:  # "(at end of document)"
        line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
        message = re.sub(r"\s*\(at end of document\)", " at the end of the file", message)
    return Problem(str(path), line, f"TOML syntax error: {message}")


def _check(data: dict[str, Any], path: Path) -> list[tuple[KeyPath, str]]:
    """Semantic problems as (key path, message); the key path finds the line."""
    out: list[tuple[KeyPath, str]] = []
    top = {
        "id": str, "lang": str, "title": str, "situation": str, "wants": str,
        "company_at_fault": bool, "start_anger": int, "turn_limit": int,
        "persona": dict, "opening": dict, "stages": dict, "reactions": dict, "endings": dict, "facts": list,
    }  # fmt: skip
    _check_table(data, (), top, optional=frozenset({"turn_limit"}), out=out)
    if isinstance(data.get("id"), str) and data["id"] != path.stem:
        out.append((("id",), f"id '{data['id']}' must match the file name '{path.stem}.toml'"))
    if isinstance(data.get("lang"), str) and not re.fullmatch(r"[a-z]{2}", data["lang"]):
        out.append((("lang",), f"lang '{data['lang']}' must be a two-letter code such as 'en' or 'de'"))
    elif isinstance(data.get("lang"), str):
        _check_lang(data["lang"], out)
    _check_numbers(data, out)
    _check_text(data, (), out)
    persona = data.get("persona")
    if isinstance(persona, dict):
        _check_table(persona, ("persona",), {"name": str, "voice": dict}, out=out)
        voice = persona.get("voice")
        if isinstance(voice, dict):
            _check_voice(voice, out)
    for name, keys in (("opening", ANGER_LEVELS), ("reactions", REACTIONS), ("endings", ENDINGS)):
        if isinstance(data.get(name), dict):
            _check_line_table(data[name], (name,), keys, out)
    stages = data.get("stages")
    if isinstance(stages, dict):
        _check_table(stages, ("stages",), dict.fromkeys(STAGES, dict), out=out, kind="stage")
        for stage in STAGES:
            if isinstance(stages.get(stage), dict):
                _check_line_table(stages[stage], ("stages", stage), ANGER_LEVELS, out)
    if isinstance(data.get("facts"), list):
        _check_facts(data["facts"], out)
    return out


def _check_table(
    table: dict[str, Any],
    where: KeyPath,
    spec: dict[str, type],
    out: list[tuple[KeyPath, str]],
    optional: frozenset[str] = frozenset(),
    kind: str = "key",
) -> None:
    label = ".".join(map(str, where)) or "the top level"
    for key, want in spec.items():
        if key not in table:
            if key not in optional:
                out.append((where, f"missing {kind} '{key}' in {_table_name(where)}"))
        elif not _is_type(table[key], want):
            out.append((where + (key,), f"'{_dotted(where + (key,))}' must be {_TYPE_NAMES[want]}, not {_type_name(table[key])}"))
    for key in table:
        if key not in spec:
            known = ", ".join(spec)
            out.append((where + (key,), f"unknown {kind} '{key}' in {label} (known: {known})"))


def _check_line_table(table: dict[str, Any], where: KeyPath, keys: tuple[str, ...], out: list[tuple[KeyPath, str]]) -> None:
    kind = "anger level" if keys == ANGER_LEVELS else "key"
    for key in keys:
        if key not in table:
            out.append((where, f"missing {kind} '{key}' in {_table_name(where)}"))
    for key, lines in table.items():
        if key not in keys:
            out.append((where + (key,), f"unknown {kind} '{key}' in [{_dotted(where)}] (known: {', '.join(keys)})"))
        else:
            _check_lines(lines, where + (key,), out)


def _check_lines(lines: Any, where: KeyPath, out: list[tuple[KeyPath, str]]) -> None:
    name = _dotted(where)
    if not isinstance(lines, list):
        out.append((where, f"'{name}' must be a list of lines, not {_type_name(lines)}"))
    elif not lines:
        out.append((where, f"'{name}' is an empty list; give at least one line"))
    elif not all(isinstance(line, str) and line.strip() for line in lines):
        out.append((where, f"every entry of '{name}' must be a non-empty string"))


def _check_voice(voice: dict[str, Any], out: list[tuple[KeyPath, str]]) -> None:
    where = ("persona", "voice")
    spec = {"rate": int, "pitch": int, "volume": float, "variant": str, "engine": str, "semitones": float, "pace": float}
    _check_table(voice, where, spec, out=out, optional=frozenset({"engine", "semitones", "pace"}))
    if _is_type(voice.get("engine"), str) and voice["engine"] not in ("espeak", "piper"):
        out.append((where + ("engine",), f"'persona.voice.engine' is '{voice['engine']}'; it must be \"espeak\" or \"piper\""))
    for key, low, high in (("rate", 80, 450), ("pitch", 0, 100), ("volume", 0.0, 1.0), ("semitones", -6.0, 6.0), ("pace", 0.5, 2.0)):
        value = voice.get(key)
        if _is_type(value, float) and not low <= value <= high:
            out.append((where + (key,), f"'persona.voice.{key}' is {value}; it must be between {low} and {high}"))
    variant = voice.get("variant")
    known = espeak_variants()
    if _is_type(variant, str) and known and variant not in known:
        out.append((where + ("variant",), (f"'persona.voice.variant' is '{variant}', which espeak-ng does not have; "
                                           "pick one of `espeak-ng --voices=variant` such as m3 or f2")))


@functools.lru_cache(maxsize=1)
def espeak_variants() -> frozenset[str]:
    """Voice variants espeak-ng has installed (its ``!v/`` files); empty when espeak-ng cannot be asked."""
    try:
        listing = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, timeout=20,
                                 check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()  # `voicesim doctor` reports a missing espeak-ng; no call can run then anyway
    return frozenset(m.group(1) for m in re.finditer(r"\s!v/(\S+)", listing))


def _check_lang(lang: str, out: list[tuple[KeyPath, str]]) -> None:
    """A call needs both a scoring language pack and a customer voice for the language."""
    from voicesim.language import available_languages
    from voicesim.tts import persona_settings

    packs = available_languages()
    if lang not in packs:
        out.append((("lang",), f"lang '{lang}' has no scoring language pack; use one of: {', '.join(packs)}"))
        return
    try:
        persona_settings(lang, "calm")
    except VoicesimError:
        out.append((("lang",), f"lang '{lang}' has no customer voice in voicesim/data/voices.toml; add one there"))


def _check_text(value: Any, where: KeyPath, out: list[tuple[KeyPath, str]]) -> None:
    """Every string: no control characters (they would reach the terminal), no runaway length."""
    stack = [(value, where)]
    while stack:  # not recursive: a deep document must not overflow the stack here either
        item, at = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, at + (k,)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, at + (i,)) for i, v in enumerate(item))
        elif isinstance(item, str):
            limit = MAX_TEXT_CHARS if at[-1:] in (("situation",), ("wants",)) else MAX_LINE_CHARS
            if has_control(item):
                out.append((at, f"'{_dotted(at)}' holds control characters (escape codes, NUL); remove them"))
            elif len(item) > limit:
                out.append((at, (f"'{_dotted(at)}' is {len(item)} characters long; keep it under {limit} "
                                  "(split a long line into several)")))


def _check_numbers(data: dict[str, Any], out: list[tuple[KeyPath, str]]) -> None:
    top = load_rules().max_anger - 1
    start = data.get("start_anger")
    if _is_type(start, int) and not 0 <= start <= top:
        out.append((("start_anger",), f"start_anger is {start}; it must be between 0 and {top}"))
    limit = data.get("turn_limit")
    if _is_type(limit, int) and limit < 1:
        out.append((("turn_limit",), f"turn_limit is {limit}; it must be at least 1"))


def _check_facts(facts: list[Any], out: list[tuple[KeyPath, str]]) -> None:
    for i, fact in enumerate(facts):
        where: KeyPath = ("facts", i)
        if not isinstance(fact, dict):
            out.append((("facts",), f"facts entry {i + 1} must be a table ([[facts]]), not {_type_name(fact)}"))
            continue
        _check_table(fact, where, {"topic": str, "keywords": list, "answer": str}, out=out)
        if isinstance(fact.get("keywords"), list):
            _check_lines(fact["keywords"], where + ("keywords",), out)


_TYPE_NAMES = {str: "a non-empty string", bool: "true or false", int: "a whole number", float: "a number", dict: "a table", list: "a list"}


def _is_type(value: Any, want: type) -> bool:
    if want is str:
        return isinstance(value, str) and bool(value.strip())
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if want is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, want)


def _type_name(value: Any) -> str:
    if isinstance(value, str) and not value.strip():
        return "an empty string"
    names = {bool: "a boolean", int: "a whole number", float: "a decimal number", str: "a string", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _dotted(where: KeyPath) -> str:
    return ".".join(f"[{p + 1}]" if isinstance(p, int) else p for p in where).replace(".[", "[")


def _table_name(where: KeyPath) -> str:
    return f"[{_dotted(where)}]" if where else "the top level"


# --- finding the line of a key ----------------------------------------------------------------


def _key_lines(text: str) -> dict[KeyPath, int]:
    """Key path -> 1-based line where that key or table header stands (first occurrence).

    A light scanner, enough for files tomllib already accepted: it follows table
    headers, array-of-tables counters, and skips the inside of multi-line strings and arrays.
    """
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    tables_seen: dict[KeyPath, int] = {}
    state = _ScanState()
    for number, raw in enumerate(text.splitlines(), start=1):
        if state.busy():
            state.scan(raw)
            continue
        stripped = raw.strip()
        header = re.match(r"^(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", stripped)
        if header:
            table = _split_key(header.group(2))
            if header.group(1) == "[[":
                index = tables_seen.get(table, -1) + 1
                tables_seen[table] = index
                table = table + (index,)
            lines.setdefault(table, number)
            continue
        key = re.match(r"^((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=(.*)$", stripped)
        if key:
            lines.setdefault(table + _split_key(key.group(1)), number)
            state.scan(key.group(2))
    return lines


def _split_key(dotted: str) -> KeyPath:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s]+", dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


class _ScanState:
    """Tracks open brackets and multi-line strings across lines while finding keys."""

    def __init__(self) -> None:
        self.depth = 0
        self.open_string = ""

    def busy(self) -> bool:
        return self.depth > 0 or bool(self.open_string)

    def scan(self, text: str) -> None:
        i = 0
        while i < len(text):
            if self.open_string:
                end = text.find(self.open_string, i)
                if end < 0:
                    return
                i, self.open_string = end + 3, ""
                continue
            c = text[i]
            if c == "#":
                return
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.open_string = text[i : i + 3]
                i += 3
            elif c in "\"'":
                i = _string_end(text, i)
            else:
                self.depth += (c in "[{") - (c in "]}")
                i += 1


def _string_end(text: str, start: int) -> int:
    quote, i = text[start], start + 1
    while i < len(text) and text[i] != quote:
        i += 2 if quote == '"' and text[i] == "\\" else 1
    return i + 1


def _line_of(lines: dict[KeyPath, int], where: KeyPath) -> int:
    """The key's own line, else its first child's (an implicit table), else its parent's."""
    while where:
        if where in lines:
            return lines[where]
        children = [n for path, n in lines.items() if path[: len(where)] == where]
        if children:
            return min(children)
        where = where[:-1]
    return 1


# --- loading and finding -------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Load one scenario file; a broken file raises VoicesimError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise VoicesimError(f"scenario file {path} does not exist; check the path or run 'voicesim scenarios list'")
    problems, data = _parse(path)
    if problems or data is None:
        more = f" (and {len(problems) - 1} more; run 'voicesim scenarios validate {path}')" if len(problems) > 1 else ""
        raise VoicesimError(f"{problems[0]}{more}")
    return _build(data, path)


def _build(data: dict[str, Any], path: Path) -> Scenario:
    voice = data["persona"]["voice"]
    return Scenario(
        id=data["id"],
        lang=data["lang"],
        title=data["title"],
        persona=Persona(
            name=data["persona"]["name"],
            voice=Voice(rate=voice["rate"], pitch=voice["pitch"], volume=float(voice["volume"]), variant=voice["variant"],
                        engine=voice.get("engine", "espeak"), semitones=float(voice.get("semitones", 0.0)),
                        pace=float(voice.get("pace", 1.0))),
        ),
        situation=" ".join(data["situation"].split()),
        wants=" ".join(data["wants"].split()),
        company_at_fault=data["company_at_fault"],
        start_anger=data["start_anger"],
        turn_limit=data.get("turn_limit"),
        opening=_lines(data["opening"], ANGER_LEVELS),
        stages={stage: _lines(data["stages"][stage], ANGER_LEVELS) for stage in STAGES},
        reactions=_lines(data["reactions"], REACTIONS),
        endings=_lines(data["endings"], ENDINGS),
        facts=tuple(
            Fact(topic=f["topic"], keywords=tuple(k.lower() for k in f["keywords"]), answer=f["answer"]) for f in data["facts"]
        ),
        path=path,
        version=scenario_version(path),
    )


def _lines(table: dict[str, list[str]], keys: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(line.strip() for line in table[key]) for key in keys}


def scenario_dirs() -> list[Path]:
    """Where scenarios are looked up: VOICESIM_SCENARIOS_DIR folders first, then the repository's."""
    extra = [Path(p) for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p]
    for folder in extra:
        if not folder.is_dir():
            raise VoicesimError(f"{ENV_DIRS} names {folder}, which is not a folder; create it, fix the path or unset {ENV_DIRS}")
    return [*extra, REPO_SCENARIOS]


def scenario_files(dirs: list[Path] | None = None) -> list[Path]:
    """All ``*.toml`` files under the scenario folders, sorted, each folder's in turn."""
    files: list[Path] = []
    for folder in scenario_dirs() if dirs is None else dirs:
        if folder.is_file():
            files.append(folder)
        elif folder.is_dir():
            files.extend(sorted(p for p in folder.rglob("*.toml") if PACKS_FOLDER not in p.relative_to(folder).parts))
    return files


def list_scenarios(lang: str | None = None, dirs: list[Path] | None = None) -> list[Scenario]:
    """Every scenario that loads, sorted by (lang, id); an earlier folder's id hides a later one's."""
    found: dict[str, Scenario] = {}
    for path in scenario_files(dirs):
        if path.stem in found:
            continue
        scenario = load_scenario(path)
        found[scenario.id] = scenario
    return sorted((s for s in found.values() if lang in (None, s.lang)), key=lambda s: (s.lang, s.id))


def find_scenario(scenario_id: str, lang: str | None = None, dirs: list[Path] | None = None) -> Scenario:
    """The scenario with this id (file ``<id>.toml``); unknown ids raise VoicesimError listing the known ones."""
    for path in scenario_files(dirs):
        if path.stem == scenario_id:
            scenario = load_scenario(path)
            if lang not in (None, scenario.lang):
                raise VoicesimError(
                    f"scenario '{scenario_id}' is in language '{scenario.lang}', not '{lang}'; "
                    f"pick one of: {_known_ids(lang, dirs)}"
                )
            return scenario
    where = ", ".join(str(d) for d in (scenario_dirs() if dirs is None else dirs))
    raise VoicesimError(f"unknown scenario '{scenario_id}' (looked in {where}); known: {_known_ids(lang, dirs)}")


def _known_ids(lang: str | None, dirs: list[Path] | None) -> str:
    ids = sorted({p.stem for p in scenario_files(dirs)} if lang is None else {s.id for s in list_scenarios(lang, dirs)})
    return ", ".join(ids) or "none"
