"""The five text checks: does a reply show understanding, stay impersonal, ask a
targeted question, put the agreement in writing, apologize?

Pure and deterministic: the same transcript and pack give the same results,
no I/O, no state. All wording lives in the language pack (voicesim/data/lang/);
this module only knows how to normalize a reply, find pattern matches, apply
negation scopes and blocks, and grade.

Example::

    >>> from voicesim.checklist import check_reply
    >>> from voicesim.language import load_language
    >>> from voicesim.transcript import Transcript
    >>> results = check_reply(Transcript.from_text(
    ...     "I'm so sorry about that. When did the router start blinking?"), load_language("en"))
    >>> results["apology"].passed, results["apology"].evidence[0].text
    (True, "I'm so sorry about")
    >>> results["targeted_question"].passed, results["understanding"].passed
    (True, False)
    >>> check_reply(Transcript.from_text("i'm not sorry"), load_language("en"))["apology"].reason
    'The apology is negated.'
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from voicesim.language import TEXT_CHECK_IDS, CheckRules, LanguagePack, Pattern
from voicesim.prosody import PAUSE_MIN_S
from voicesim.scorecard import CheckResult, Evidence
from voicesim.transcript import Transcript, Word

PASS_SCORE = 0.5
"""A cue check passes when its best cue is at least this strong."""
VIOLATION_COST = 0.6
"""Share of the not_personal score one full-weight violation takes; two take 84 %."""
MAX_EVIDENCE = 3
"""At most this many quoted passages per check."""
QUESTION_QUOTE_TOKENS = 10
"""Longest quote of an unpunctuated question: enough to recognise it, short enough to read."""

_SENTENCE_END = frozenset(".!?")
_PAUSE = frozenset(",;:–—")
_QUESTION_MARK = Pattern(re.compile(r"\?"), "?")
"""Stands for a typed sentence that ends in a question mark."""
_SPLIT = re.compile(r"[^\w']+")
"""Inside a word, anything but letters, digits and apostrophes splits it ("e-mail" -> "e mail")."""


@dataclass(frozen=True)
class Reply:
    """A reply normalized for matching: lower-case tokens that remember their word."""

    tokens: tuple[str, ...]
    word_of: tuple[int, ...]
    """Index into ``words`` of the word each token came from."""
    words: tuple[Word, ...]
    sentences: tuple[tuple[int, int, str], ...]
    """(first token, end token, end mark) per sentence; mark is '?', '.', or '' when unpunctuated
    (ASR text: a sentence ends at a pause of PAUSE_MIN_S or more)."""
    pause_after: frozenset[int]
    """Token indices followed by a comma or sentence end: a negation does not reach across."""
    negators: frozenset[int]
    """Token indices of negation words that negate (exempt phrases removed)."""


@dataclass(frozen=True)
class Match:
    """A pattern found in a reply, in token indices (end exclusive)."""

    start: int
    end: int
    pattern: Pattern

    def overlaps(self, other: Match) -> bool:
        return self.start < other.end and other.start < self.end


def check_reply(
    transcript: Transcript, pack: LanguagePack, rising_end: bool | None = None
) -> dict[str, CheckResult]:
    """Results of the five text checks, keyed by check id in contract order.

    ``rising_end=True`` (pitch rose at the end of the audio) lets a final
    question-word or verb-first clause count as a question when nothing else
    does; False or None changes nothing.
    """
    reply = normalize(transcript, pack)
    checks = pack.checks
    question_blocks = find(reply, checks["targeted_question"].blocks)
    violations = _violations(checks["not_personal"], reply, pack, question_blocks)
    results = {
        "understanding": _cue_check(checks["understanding"], reply, pack),
        "not_personal": _not_personal(checks["not_personal"], reply, violations),
        "targeted_question": _targeted_question(
            checks["targeted_question"], reply, pack, rising_end, question_blocks + violations
        ),
        "written_agreement": _cue_check(checks["written_agreement"], reply, pack),
        "apology": _cue_check(checks["apology"], reply, pack),
    }
    return {check_id: results[check_id] for check_id in TEXT_CHECK_IDS}


# --- normalization -----------------------------------------------------------


def normalize(transcript: Transcript, pack: LanguagePack) -> Reply:
    """Tokens for matching; typed text keeps its sentence marks, ASR text has none."""
    words = transcript.words or Transcript.from_text(transcript.text).words
    tokens: list[str] = []
    word_of: list[int] = []
    ends: dict[int, str] = {}
    pauses: set[int] = set()
    for index, word in enumerate(words):
        raw = word.word.casefold().replace("’", "'").replace("‘", "'")
        for token in _word_tokens(raw, pack):
            tokens.append(token)
            word_of.append(index)
        if not tokens:
            continue
        trail = raw[len(raw.rstrip("".join(_SENTENCE_END | _PAUSE) + "\"')»“”")) :]
        if _SENTENCE_END & set(trail):
            ends[len(tokens) - 1] = "?" if "?" in trail else "."
        elif _paused_after(words, index) and not _continues(words, index, pack):
            # Vosk writes no punctuation; a pause is where a spoken sentence ends.
            ends[len(tokens) - 1] = ""
        elif _PAUSE & set(trail):
            pauses.add(len(tokens) - 1)
    sentences = _sentences(len(tokens), ends)
    reply = Reply(tuple(tokens), tuple(word_of), tuple(words), sentences, frozenset(pauses | set(ends)), frozenset())
    return dataclasses.replace(reply, negators=_negators(reply, pack))


def _paused_after(words: tuple[Word, ...], index: int) -> bool:
    """A silence of at least PAUSE_MIN_S between this word and the next (timed words only)."""
    if index + 1 >= len(words):
        return False
    end, start = words[index].end_s, words[index + 1].start_s
    return end is not None and start is not None and start - end >= PAUSE_MIN_S


def _continues(words: tuple[Word, ...], index: int, pack: LanguagePack) -> bool:
    """The next word is a clause break ("but", "aber"): a pause before it is a comma, not a sentence end."""
    nxt = _word_tokens(words[index + 1].word.casefold(), pack)
    return bool(nxt) and nxt[0] in pack.negation.clause_breaks


def _word_tokens(raw: str, pack: LanguagePack) -> list[str]:
    out: list[str] = []
    for part in _SPLIT.split(raw):
        part = part.strip("'")
        if part:
            out.extend(pack.contractions.get(part, part).split())
    return out


def _sentences(count: int, ends: dict[int, str]) -> tuple[tuple[int, int, str], ...]:
    spans, start = [], 0
    for last in sorted(ends):
        spans.append((start, last + 1, ends[last]))
        start = last + 1
    if start < count:
        spans.append((start, count, ""))
    return tuple(spans)


def _negators(reply: Reply, pack: LanguagePack) -> frozenset[int]:
    words = pack.negation.words
    found = {i for i, t in enumerate(reply.tokens) if t in words}
    for m in _find_regexes(reply, pack.negation.exempt):
        found -= set(range(m[0], m[1]))
    return frozenset(found)


# --- matching ----------------------------------------------------------------


def find(reply: Reply, patterns: Iterable[Pattern]) -> list[Match]:
    """Every match of every pattern, sentence by sentence, in a stable order."""
    out = []
    for pattern in patterns:
        out.extend(Match(s, e, pattern) for s, e in _find_regexes(reply, (pattern.regex,)))
    return sorted(out, key=lambda m: (m.start, m.end, m.pattern.source))


def _find_regexes(reply: Reply, regexes: Iterable[re.Pattern[str]]) -> list[tuple[int, int]]:
    spans = []
    for first, end, _mark in reply.sentences:
        text, starts = _sentence_text(reply.tokens[first:end])
        for regex in regexes:
            for m in regex.finditer(text):
                if m.end() > m.start():
                    lo = bisect.bisect_right(starts, m.start()) - 1
                    hi = bisect.bisect_left(starts, m.end())
                    spans.append((first + lo, first + hi))
    return spans


def _sentence_text(tokens: tuple[str, ...]) -> tuple[str, list[int]]:
    starts, pos = [], 0
    for token in tokens:
        starts.append(pos)
        pos += len(token) + 1
    return " ".join(tokens), starts


def is_negated(match: Match, reply: Reply, pack: LanguagePack) -> int | None:
    """Index of the negator that negates ``match``, or None.

    A negator counts inside the match, up to ``before`` tokens ahead of it or
    ``after`` tokens behind it, never across a comma, sentence end or clause-break word.
    A cue that starts with its subject ("I do not understand") carries its negation inside.
    """
    if not match.pattern.negatable:
        return None
    neg = pack.negation
    for i in range(match.start, match.end):
        if i in reply.negators:
            return i
    before = 0 if reply.tokens[match.start] in neg.clause_starts else neg.before
    for step, reach, edge in ((-1, before, match.start), (1, neg.after, match.end - 1)):
        i = edge
        for _ in range(reach):
            if (step < 0 and i - 1 in reply.pause_after) or (step > 0 and i in reply.pause_after):
                break
            i += step
            if not 0 <= i < len(reply.tokens) or reply.tokens[i] in neg.clause_breaks:
                break
            if i in reply.negators:
                return i
    return None


# --- grading -----------------------------------------------------------------


@dataclass(frozen=True)
class _Sorted:
    valid: list[Match]
    negated: list[tuple[Match, int]]
    blocked: list[tuple[Match, Match]]


def _sort_cues(rules: CheckRules, reply: Reply, pack: LanguagePack) -> _Sorted:
    blocks = find(reply, rules.blocks)
    valid, negated, blocked = [], [], []
    for cue in find(reply, rules.cues):
        # The widest overlapping block explains best why the cue does not count.
        block = max((b for b in blocks if b.overlaps(cue)), key=lambda b: (b.end - b.start, -b.start), default=None)
        negator = None if block else is_negated(cue, reply, pack)
        if block:
            blocked.append((cue, block))
        elif negator is not None:
            negated.append((cue, negator))
        else:
            valid.append(cue)
    return _Sorted(valid, negated, blocked)


def _cue_check(rules: CheckRules, reply: Reply, pack: LanguagePack) -> CheckResult:
    cues = _sort_cues(rules, reply, pack)
    if cues.valid:
        return _passed_by(rules, reply, cues.valid)
    if cues.blocked:
        cue, block = cues.blocked[0]
        span = Match(min(cue.start, block.start), max(cue.end, block.end), block.pattern)
        return _result(rules, reply, False, 0.0, [span], block.pattern.why or rules.reasons["blocked"])
    if cues.negated:
        cue, negator = cues.negated[0]
        span = Match(min(cue.start, negator), max(cue.end, negator + 1), cue.pattern)
        return _result(rules, reply, False, 0.0, [span], rules.reasons["negated"])
    return _result(rules, reply, False, 0.0, [], rules.reasons["none"])


def _passed_by(rules: CheckRules, reply: Reply, valid: list[Match]) -> CheckResult:
    best = max(valid, key=lambda m: m.pattern.score)
    score = best.pattern.score
    passed = score >= PASS_SCORE
    reason = best.pattern.why or rules.reasons["pass" if passed else "none"]
    return _result(rules, reply, passed, score, valid, reason)


def _violations(rules: CheckRules, reply: Reply, pack: LanguagePack, question_blocks: list[Match]) -> list[Match]:
    # Accusatory questions are written once, as question blocks, and count here too.
    return _sort_cues(rules, reply, pack).valid + [b for b in question_blocks if b.pattern.accusatory]


def _not_personal(rules: CheckRules, reply: Reply, violations: list[Match]) -> CheckResult:
    if not violations:
        return _result(rules, reply, True, 1.0, [], rules.reasons["pass"])
    violations.sort(key=lambda m: (m.start, m.end))
    score = math.prod(1.0 - VIOLATION_COST * v.pattern.score for v in violations)
    first = violations[0].pattern.why or rules.reasons["fail"]
    return _result(rules, reply, False, score, violations, first)


def _targeted_question(
    rules: CheckRules, reply: Reply, pack: LanguagePack, rising_end: bool | None, blocks: list[Match]
) -> CheckResult:
    """`blocks`: question look-alikes and put-downs; a sentence holding one is no question."""
    cues = _sort_cues(rules, reply, pack)
    if cues.valid:
        return _passed_by(rules, reply, [_whole_question(reply, m) for m in cues.valid])
    shaped = _question_by_shape(reply, pack, blocks, rising_end)
    if shaped:
        return _result(rules, reply, True, shaped[0], [shaped[1]], rules.reasons["shape"])
    return _cue_check(rules, reply, pack)


def _whole_question(reply: Reply, cue: Match) -> Match:
    """The cue ("when did") stretched to its sentence's end, so the debrief quotes the question.

    ASR text has no sentence marks, so the stretch stops after QUESTION_QUOTE_TOKENS.
    """
    end = next((e for first, e, _ in reply.sentences if first <= cue.start < e), cue.end)
    return Match(cue.start, max(cue.end, min(end, cue.start + QUESTION_QUOTE_TOKENS)), cue.pattern)


def _question_by_shape(
    reply: Reply, pack: LanguagePack, blocks: list[Match], rising_end: bool | None
) -> tuple[float, Match] | None:
    """A typed '?' sentence, or a final question-shaped clause said with rising pitch."""
    shape = pack.question
    for first, end, mark in reply.sentences:
        sentence = Match(first, end, _QUESTION_MARK)
        if mark == "?" and not any(b.overlaps(sentence) for b in blocks):
            return shape.question_mark_score, sentence
    if rising_end and reply.sentences:
        first, end, _mark = reply.sentences[-1]
        last = Match(first, end, _QUESTION_MARK)
        # A rising voice turns a plain clause into a question, never a put-down into one.
        if any(b.overlaps(last) for b in blocks):
            return None
        tail = max(first, end - shape.tail_tokens)
        for weak in find(reply, shape.weak):
            if weak.start >= tail:
                return shape.rising_end_score, Match(weak.start, end, weak.pattern)
    return None


def _result(
    rules: CheckRules, reply: Reply, passed: bool, score: float, spans: list[Match], reason: str
) -> CheckResult:
    return CheckResult(
        check_id=rules.check_id,
        passed=passed,
        score=round(score, 2),
        evidence=_evidence(reply, spans),
        tip=rules.tips["pass" if passed else "fail"],
        reason=reason,
    )


def _evidence(reply: Reply, spans: list[Match]) -> tuple[Evidence, ...]:
    """The trainee's own words behind the spans, overlapping spans merged, with timings."""
    merged: list[list[int]] = []
    for m in sorted(spans, key=lambda m: (m.start, m.end)):
        lo, hi = reply.word_of[m.start], reply.word_of[m.end - 1]
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    out = []
    for lo, hi in merged[:MAX_EVIDENCE]:
        words = reply.words[lo : hi + 1]
        text = " ".join(w.word for w in words).strip(".,;:!?\"“”„»«–— ")
        out.append(Evidence(text=text, start_s=words[0].start_s, end_s=words[-1].end_s))
    return tuple(out)
