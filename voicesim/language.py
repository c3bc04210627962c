"""Language packs: the phrase patterns, tips and word lists of one language.

Everything language-specific the scoring needs lives in
``voicesim/data/lang/<code>.toml``; this module reads such a file once, compiles
its patterns and hands back an immutable :class:`LanguagePack`. Adding a
language means adding a file, not code.

Example::

    >>> from voicesim.language import load_language, available_languages
    >>> available_languages()
    ['de', 'en']
    >>> pack = load_language("en")
    >>> pack.code, "the" in pack.stopwords
    ('en', True)
    >>> pack.checks["apology"].tips["fail"][:30]
    'If you or the company got it w'

The pattern language (see the comment block at the top of ``en.toml``):
each pattern is a regular expression over the *normalized* reply: lower case,
no punctuation, contractions expanded ("don't" -> "do not"), one space between
tokens, matched one sentence at a time and always on whole tokens.
``<name>`` inserts the ``[macros]`` entry of that name.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from voicesim.errors import VoicesimError

LANG_FOLDER = ("data", "lang")
"""Folder inside the voicesim package holding one ``<code>.toml`` per language."""

TEXT_CHECK_IDS = (
    "understanding",
    "not_personal",
    "targeted_question",
    "written_agreement",
    "apology",
)
"""Checks decided from the words alone, in contract order; each has a section in the lang file."""

_MACRO = re.compile(r"<(\w+)>")


@dataclass(frozen=True)
class Pattern:
    """One compiled phrase pattern from a lang file."""

    regex: re.Pattern[str]
    source: str
    """The pattern as written in the file (macros not yet expanded), for messages."""
    score: float = 1.0
    """How strongly a match decides the check (cue strength or violation weight), 0–1."""
    negatable: bool = True
    """False for phrases whose negation is itself the cue ("I don't blame you")."""
    why: str = ""
    """Plain reason shown when this pattern decides the check."""
    accusatory: bool = False
    """For question blocks: a rhetorical or accusatory question, which also fails not_personal."""


@dataclass(frozen=True)
class CheckRules:
    """The patterns and tips of one text check."""

    check_id: str
    cues: tuple[Pattern, ...]
    """Phrases that pass the check (for not_personal: violations that fail it)."""
    blocks: tuple[Pattern, ...]
    """Phrases that look like a cue but are not one ("sorry you feel that way"); any cue overlapping them is void."""
    tips: Mapping[str, str]
    """Coaching tip by outcome: "pass" and "fail"."""
    reasons: Mapping[str, str]
    """Short plain explanations: "pass", "none", "negated", "blocked"."""


@dataclass(frozen=True)
class QuestionShape:
    """Cues that need intonation or a question mark to count as a question."""

    weak: tuple[Pattern, ...]
    """Question-word or verb-first clause shapes; a question only with rising_end or '?'."""
    tail_tokens: int
    """How many final tokens rising_end covers (the last clause of an ASR reply)."""
    question_mark_score: float
    """Score of a typed sentence that ends in '?' and is not blocked."""
    rising_end_score: float
    """Score of a weak cue at the end of a reply spoken with rising pitch."""


@dataclass(frozen=True)
class Negation:
    """How the language negates, and how far a negation reaches."""

    words: frozenset[str]
    exempt: tuple[re.Pattern[str], ...]
    """Phrases whose negator negates nothing we score ("no problem", "kein Wunder")."""
    before: int
    """Tokens before a cue a negator may stand in ("I do not really understand")."""
    after: int
    """Tokens after a cue a negator may stand in (German: "ich verstehe Sie nicht")."""
    clause_breaks: frozenset[str]
    """Words that end a negation's reach ("but", "aber", "dass")."""
    clause_starts: frozenset[str]
    """Subject words: a cue starting with one holds its own negation ("I do not …"), so none is sought before it."""


@dataclass(frozen=True, eq=False)
class LanguagePack:
    """Everything one language contributes to scoring; cheap to share, never mutated.

    Compared and hashed by identity (one pack per language per process), so it can key caches.
    """

    code: str
    name: str
    stopwords: frozenset[str]
    """About 60 most common words; the scorecard uses them to spot a reply in another language."""
    fillers: frozenset[str]
    """Hesitation words (uh, um, äh) that carry no content."""
    contractions: Mapping[str, str]
    """Token -> expansion applied before matching ("don't" -> "do not")."""
    negation: Negation
    checks: Mapping[str, CheckRules]
    """Keyed by check id, in TEXT_CHECK_IDS order."""
    question: QuestionShape
    sections: Mapping[str, Any]
    """The whole parsed file, read-only, for sections other stages own (e.g. [calm_tone])."""


def available_languages() -> list[str]:
    """Codes of the bundled language packs, sorted."""
    return sorted(p.name[: -len(".toml")] for p in _lang_folder().iterdir() if p.name.endswith(".toml"))


def _lang_folder():  # -> importlib.resources.abc.Traversable
    return resources.files("voicesim").joinpath(*LANG_FOLDER)


@functools.cache
def load_language(lang: str) -> LanguagePack:
    """The pack for ``lang`` ("en", "de"); parsed and compiled once per process."""
    codes = available_languages()
    if lang not in codes:
        raise VoicesimError(f"unknown language {lang!r}; available: {', '.join(codes)}")
    name = f"{lang}.toml"
    text = _lang_folder().joinpath(name).read_text(encoding="utf-8")
    where = f"voicesim/data/lang/{name}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VoicesimError(f"{where} is not valid TOML ({exc}); fix the file") from None
    return _build_pack(lang, data, where)


def _build_pack(code: str, data: dict[str, Any], where: str) -> LanguagePack:
    macros = _expand_macros(data.get("macros", {}), where)
    compile_ = functools.partial(_compile_patterns, macros=macros, where=where)
    lang = _section(data, "language", where)
    neg = _section(data, "negation", where)
    checks = {}
    for check_id in TEXT_CHECK_IDS:
        sec = _section(data, check_id, where)
        checks[check_id] = CheckRules(
            check_id=check_id,
            cues=compile_(sec.get("cues", []), f"{check_id}.cues"),
            blocks=compile_(sec.get("blocks", []), f"{check_id}.blocks"),
            tips=MappingProxyType(dict(_require(sec, "tips", f"{where} [{check_id}]"))),
            reasons=MappingProxyType(dict(_require(sec, "reasons", f"{where} [{check_id}]"))),
        )
    q = data["targeted_question"]
    return LanguagePack(
        code=code,
        name=_require(lang, "name", f"{where} [language]"),
        stopwords=frozenset(_require(lang, "stopwords", f"{where} [language]")),
        fillers=frozenset(_require(lang, "fillers", f"{where} [language]")),
        contractions=MappingProxyType(dict(data.get("contractions", {}))),
        negation=Negation(
            words=frozenset(_require(neg, "words", f"{where} [negation]")),
            exempt=tuple(p.regex for p in compile_([{"pattern": e} for e in neg.get("exempt", [])], "negation.exempt")),
            before=int(neg.get("before", 3)),
            after=int(neg.get("after", 0)),
            clause_breaks=frozenset(neg.get("clause_breaks", [])),
            clause_starts=frozenset(neg.get("clause_starts", [])),
        ),
        checks=MappingProxyType(checks),
        question=QuestionShape(
            weak=compile_(q.get("weak", []), "targeted_question.weak"),
            tail_tokens=int(q.get("tail_tokens", 8)),
            question_mark_score=float(q.get("question_mark_score", 0.7)),
            rising_end_score=float(q.get("rising_end_score", 0.6)),
        ),
        sections=MappingProxyType(data),
    )


def _section(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    sec = data.get(name)
    if not isinstance(sec, dict):
        raise VoicesimError(f"{where} has no [{name}] section; add it (see voicesim/data/lang/en.toml)")
    return sec


def _require(sec: dict[str, Any], key: str, where: str) -> Any:
    if key not in sec:
        raise VoicesimError(f"{where} lacks '{key}'; add it (see voicesim/data/lang/en.toml)")
    return sec[key]


def _expand_macros(raw: dict[str, str], where: str) -> dict[str, str]:
    """Resolve macros that use other macros; a few passes suffice for shallow nesting."""
    macros = dict(raw)
    for _ in range(5):
        macros = {k: _substitute(v, macros, f"{where} [macros] {k}") for k, v in macros.items()}
    return macros


def _substitute(pattern: str, macros: dict[str, str], where: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1) not in macros:
            raise VoicesimError(f"{where}: unknown macro <{m.group(1)}>; define it under [macros]")
        return macros[m.group(1)]

    return _MACRO.sub(one, pattern)


def _compile_patterns(entries: list[dict[str, Any]], key: str, *, macros: dict[str, str], where: str) -> tuple[Pattern, ...]:
    out = []
    for entry in entries:
        source = entry["pattern"]
        expanded = _substitute(source, macros, f"{where} [{key}]")
        try:
            # Whole tokens only: a pattern never starts or ends inside a word
            # (one written with a trailing space, "did you ", ends before the next word).
            regex = re.compile(rf"(?<!\S)(?:{expanded})(?:(?<= )|(?!\S))")
        except re.error as exc:
            raise VoicesimError(f"{where} [{key}] pattern {source!r} is not a valid regex ({exc}); fix it") from None
        out.append(
            Pattern(
                regex=regex,
                source=source,
                score=float(entry.get("score", 1.0)),
                negatable=bool(entry.get("negatable", True)),
                why=str(entry.get("why", "")),
                accusatory=bool(entry.get("accusatory", False)),
            )
        )
    return tuple(out)
