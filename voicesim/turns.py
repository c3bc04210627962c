"""Turn-taking on the line: end of the trainee's turn, barge-in, silence timeout.

Pure logic over 16 kHz audio frames: no devices, no clocks. The call loop feeds
every microphone chunk with :meth:`TurnDetector.feed`, tells it whether the
customer is speaking right now, and passes on the segments Vosk closes with
:meth:`TurnDetector.note_final`. Times in events are seconds of audio fed so
far, so tests can use synthetic audio.

>>> import numpy as np
>>> det = TurnDetector(TurnSettings())
>>> tone = (0.3 * np.sin(np.arange(16000) * 0.2)).astype(np.float32)
>>> events = det.feed(tone, customer_playing=False) + det.feed(np.zeros(16000, np.float32), customer_playing=False)
>>> [str(e.kind) for e in events]
['speech_start', 'pause']
>>> evidence = det.judge("i am sorry could you tell me your order number", phrase_from=3)
>>> evidence.complete, evidence.pitch, evidence.young, evidence.hold_s < 0.4
('question', 'level', False, True)
>>> [str(e.kind) for e in det.feed(np.zeros(320, np.float32), customer_playing=False)]
['end_of_turn']

How the end of a turn is decided. People leave about 200 ms between turns, but not by
answering every short silence: they predict the end from what was said and how. They
also pause 300-700 ms between sentences of one turn, and longer to think mid-clause.
So a short silence (``probe_s``) is only a PAUSE: the call loop flushes Vosk and hands
the words so far to :meth:`TurnDetector.judge`, which weighs

* the words: a question, a closing or a complete proposal or commitment ends a turn; an
  apology or acknowledgement usually opens one; a last word like "and", "the", "um"
  promises more (phrase lists in ``data/turns/<lang>.toml``);
* what the reply has covered: after its first phrase a reply most often goes on, even
  when that phrase is complete ("Could you tell me your order number, | so I can see
  ..."); a statement after the reply's question follows that question up;
* the prosody at the pause: falling pitch to low in the voice's range closes a
  statement, level pitch holds the floor, a high rise asks; final lengthening and
  fading energy;

into an end-of-turn probability ``p_end`` (a small logistic rule, as pipecat's
smart-turn and LiveKit's turn detector frame it), and turns it into a hold: the silence
that must pass before END_OF_TURN, from 0.16 s (p_end near 1) to 1.2 s (near 0). The
hold has a floor (:func:`least_hold`): the quick hold only where the voice confirms the
words (a yes/no question rising, a wh-question or a commitment falling), 0.35 s where it
does not, 0.55 s after a reply's first phrase. :func:`weigh` is that decision, pure, on
a :class:`PauseContext`; recorded contexts replay it in tests without audio.
The evidence travels with the END_OF_TURN event (:class:`TurnEvidence`) so a trainer
can see why the customer spoke when it did. ``TurnSettings(predictive=False)`` keeps the
old detector for comparison: the quick hold after any word that does not promise more.

Live partial transcripts are not used: they lag the audio by a few hundred ms.
After END_OF_TURN the detector waits for the call loop's :meth:`start_listening`.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from enum import StrEnum

import numpy as np

from voicesim.audio import SAMPLE_RATE, Audio, block_levels_dbfs, int16_to_float, level_dbfs
from voicesim.resources import data_file
from voicesim.transcript import Word

FRAME_SAMPLES = 320
"""20 ms analysis frames: short enough for a quick end of turn, long enough for a stable level."""

NOISE_WINDOW_S = 2.0
"""The noise floor is the quietest frame of this much recent audio."""
INITIAL_NOISE_DBFS = -60.0
"""Assumed floor until real frames arrive: a quiet headset."""
NOISE_CEILING_DBFS = -35.0
"""The floor never rises above this, so a long stretch of loud speech stays speech."""


class TurnEventKind(StrEnum):
    """What the detector noticed; str-valued, so logs and JSON read as plain words."""

    SPEECH_START = "speech_start"
    PAUSE = "pause"
    """Speech stopped for ``probe_s``: the call loop flushes the words and calls :meth:`TurnDetector.judge`."""
    END_OF_TURN = "end_of_turn"
    BARGE_IN = "barge_in"
    """The trainee started speaking while the customer talked (after the grace period)."""
    SILENCE_TIMEOUT = "silence_timeout"


# Short names, as the detector and its tests use them.
SPEECH_START = TurnEventKind.SPEECH_START
PAUSE = TurnEventKind.PAUSE
END_OF_TURN = TurnEventKind.END_OF_TURN
BARGE_IN = TurnEventKind.BARGE_IN
SILENCE_TIMEOUT = TurnEventKind.SILENCE_TIMEOUT


@dataclass(frozen=True)
class TurnSettings:
    """Tuning of the turn detector; defaults suit a close-talking headset microphone."""

    predictive: bool = True
    """Weigh words and prosody into the hold (:meth:`TurnDetector.judge`); False: the old silence rule."""
    quick_hold_s: float = 0.16
    """Shortest hold: a turn that is surely finished. Also the old rule's hold after any finished word."""
    max_hold_s: float = 1.2
    """Longest hold: a turn that surely goes on ("... and um"); beyond it people expect an answer."""
    sure_hold_s: float = 0.35
    """Least hold when the prosody does not confirm the words: the dev replies' comma pauses run 0.2-0.5 s."""
    young_hold_s: float = 0.55
    """Least hold after the reply's first phrase: pauses after a first sentence or at its commas run
    0.3-0.5 s ("Could you tell me your order number, | so I can see ..."); a one-sentence reply waits this long."""
    end_hold_s: float = 0.7
    """The old rule's hold after a word that promises more."""
    probe_s: float = 0.16
    """Silence after which the words are flushed and judged (a PAUSE)."""
    min_speech_s: float = 0.25
    """Voiced time a turn needs before it can end; shorter blips (a cough, a click) don't count."""
    onset_s: float = 0.06
    """Consecutive voiced time that counts as the start of speech."""
    margin_db: float = 12.0
    """How far above the noise floor a frame must be to count as voiced."""
    min_speech_dbfs: float = -48.0
    """Absolute floor for voiced frames, so a digitally silent line never triggers."""
    silence_timeout_s: float = 7.0
    """No speech this long after the customer finished: the customer prompts ("Hello?")."""
    barge_in_grace_s: float = 0.5
    """Speech this soon after the customer starts is the trainee finishing a sentence, not an interruption."""


@dataclass(frozen=True)
class TurnEvidence:
    """Why the detector ended (or would end) the turn where it did; session.json keeps it per turn."""

    silence_s: float
    """Silence since the last voiced frame: when judged, and in an END_OF_TURN event the silence held."""
    hold_s: float
    """Silence the detector waits before the customer may answer."""
    complete: str
    """What the words so far read as: question, closing, proposal, follow-up, statement, preface, open or unknown."""
    pitch: str
    """Pitch at the pause: falling, level, rising (continuation), high-rise (asking) or unknown."""
    lengthened: bool
    """The last word was drawn out against the turn's pace (final lengthening)."""
    fading: bool
    """The voice got quieter towards the pause."""
    p_end: float | None
    """Probability that the turn is over; None for the old silence rule."""
    last_words: str
    """The end of what was said, as the detector judged it."""
    young: bool = False
    """The pause came after the reply's first phrase (nothing of substance before it)."""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TurnEvent:
    """Something the call loop must react to."""

    kind: TurnEventKind
    at_s: float
    """Seconds of audio fed when it was decided."""
    speech_end_s: float | None = None
    """END_OF_TURN: where the last voiced frame ended (for end-of-turn latency)."""
    evidence: TurnEvidence | None = None
    """END_OF_TURN: what the detector saw (None when a turn was cut at its maximum length)."""


@dataclass(frozen=True)
class TurnPhrases:
    """A language's cues for the end of a turn, from data/turns/<lang>.toml (lower case, as Vosk writes)."""

    hold_words: frozenset[str] = frozenset()
    """Last words after which a speaker goes on: fillers, conjunctions, articles."""
    lead_ins: frozenset[str] = frozenset()
    """Words skipped at the start of a phrase before matching ("and", "so", "okay")."""
    question_openers: tuple[tuple[str, ...], ...] = ()
    """Phrase starts that make it a question ("could you", "when did")."""
    tag_endings: tuple[tuple[str, ...], ...] = ()
    """Phrase ends that hand the turn over ("is that okay", "right")."""
    closings: tuple[tuple[str, ...], ...] = ()
    """Phrase ends that close a turn or the call ("thank you", "goodbye")."""
    proposal_openers: tuple[tuple[str, ...], ...] = ()
    """Phrase starts of an offer or commitment ("i will", "i can offer")."""
    clause_openers: tuple[tuple[str, ...], ...] = ()
    """Phrase starts of a clause that promises a main clause ("because", "if")."""
    coordinators: frozenset[str] = frozenset()
    """Words that join a phrase to the one before ("and", "or"): it continues that phrase's kind."""
    preface_markers: tuple[tuple[str, ...], ...] = ()
    """Phrases that usually open a reply rather than end it (an apology, an acknowledgement)."""
    wh_words: frozenset[str] = frozenset()
    """Question words: a question opened by one may end falling; others ask yes or no and end rising."""
    commitments: tuple[tuple[str, ...], ...] = ()
    """Words that make a statement a commitment wherever they stand ("it will arrive on friday")."""
    not_commitments: tuple[tuple[str, ...], ...] = ()
    """Where those words commit to nothing ("i can see", "will not")."""


@functools.cache
def turn_phrases(lang: str) -> TurnPhrases:
    """The end-of-turn cues for `lang`; empty cues (silence and prosody only) when it has no file."""
    path = data_file("turns", f"{lang}.toml")
    if not path.is_file():
        return TurnPhrases()
    data = tomllib.loads(path.read_text(encoding="utf-8"))

    def phrases(key: str) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(p.lower().split()) for p in data.get(key, []))

    return TurnPhrases(
        hold_words=frozenset(w.lower() for w in data.get("hold_words", [])),
        lead_ins=frozenset(w.lower() for w in data.get("lead_ins", [])),
        question_openers=phrases("question_openers"),
        tag_endings=phrases("tag_endings"),
        closings=phrases("closings"),
        proposal_openers=phrases("proposal_openers"),
        clause_openers=phrases("clause_openers"),
        coordinators=frozenset(w.lower() for w in data.get("coordinators", [])),
        preface_markers=phrases("preface_markers"),
        wh_words=frozenset(w.lower() for w in data.get("wh_words", [])),
        commitments=phrases("commitments"),
        not_commitments=phrases("not_commitments"),
    )


PHRASE_GAP_S = 0.25
"""A gap between recognized words this long separates phrases (sentences, clauses)."""
TAG_MIN_WORDS = 3
"""A tag ending ("..., right") needs words before it; "okay" alone opens a reply."""


def phrase_starts(words: Sequence[Word], since: int = 0) -> list[int]:
    """Indices where a phrase begins: 0, `since`, and every word after a pause between recognized words."""
    starts = {0, since}
    for i in range(1, len(words)):
        a, b = words[i - 1], words[i]
        if a.end_s is not None and b.start_s is not None and b.start_s - a.end_s >= PHRASE_GAP_S:
            starts.add(i)
    return sorted(starts)


def last_phrase(words: Sequence[Word], since: int = 0) -> list[str]:
    """The words after the last pause between recognized words, and not before index `since`."""
    return [w.word.lower() for w in words[phrase_starts(words, since)[-1] :]]


@dataclass(frozen=True)
class Reading:
    """What the words of a turn so far read as at a pause."""

    kind: str
    """The last phrase: question, closing, proposal, follow-up (of an earlier question), statement, preface, open or unknown."""
    form: str = ""
    """A question's form: "wh" (a question word first) or "yes-no" (an auxiliary first, a tag); else ""."""
    young: bool = True
    """Nothing of substance came before the last phrase: the reply has only just begun."""


def read_turn(words: Sequence[Word], cues: TurnPhrases, phrase_from: int = 0) -> Reading:
    """What the turn's words so far read as at a pause (see :func:`completeness`), with the question's form
    and whether the last phrase is the reply's first."""
    if not words:
        return Reading("unknown")
    tokens = [w.word.lower() for w in words]
    starts = phrase_starts(words, min(phrase_from, len(words) - 1))
    young = all(t in cues.lead_ins or t in cues.hold_words for t in tokens[: starts[-1]])
    kind, form = _kind(tokens, starts, cues)
    return Reading(kind, form, young)


def completeness(words: Sequence[Word], cues: TurnPhrases, phrase_from: int = 0) -> str:
    """What the words so far read as at a pause: question, closing, proposal, statement, preface, open, unknown.

    `phrase_from`: index of the first word after the previous pause, when the caller knows
    it (the live loop flushes Vosk at every pause); word gaps find later ones.
    """
    return read_turn(words, cues, phrase_from).kind


def _kind(tokens: list[str], starts: list[int], cues: TurnPhrases) -> tuple[str, str]:
    """(kind, question form) of the last phrase, tokens[starts[-1]:], read against the earlier ones."""
    if tokens[-1] in cues.hold_words:
        return "open", ""
    phrase = tokens[starts[-1] :]
    core = _core(phrase, cues)
    if _ends_with(phrase, cues.closings):
        return "closing", ""
    if len(tokens) >= TAG_MIN_WORDS and _ends_with(tokens, cues.tag_endings):
        return "question", "yes-no"  # also a tag after its own pause: "... still correct, [pause] right"
    if not core:
        return "open", ""  # only "okay", "so", "well": a reply is starting
    if _starts_with(core, cues.question_openers):
        return "question", _form(core, cues)
    if _starts_with(core, cues.clause_openers):
        return "open", ""
    if _starts_with(core, cues.proposal_openers):
        return "proposal", ""
    continued = _continued_kind(phrase, tokens, starts[:-1], cues)
    if continued:
        return continued
    if _contains(phrase, cues.preface_markers):
        return "preface", ""
    if _contains(core, cues.commitments) and not _contains(core, cues.not_commitments):
        return "proposal", ""
    if any(_starts_with(_core(tokens[i:], cues), cues.question_openers) for i in starts[:-1]):
        return "follow-up", ""  # "what would be best for you, | a replacement sent overnight?"
    return "statement", ""


def _form(core: list[str], cues: TurnPhrases) -> str:
    return "wh" if core[0] in cues.wh_words else "yes-no"


def _core(phrase: list[str], cues: TurnPhrases) -> list[str]:
    """The phrase without its lead-ins ("and so okay ...")."""
    i = 0
    while i < len(phrase) and phrase[i] in cues.lead_ins:
        i += 1
    return phrase[i:]


def _continued_kind(phrase: list[str], tokens: list[str], earlier: list[int], cues: TurnPhrases) -> tuple[str, str] | None:
    """The kind a joined phrase goes on: "I will send a replacement, [pause] and refund the fee" is still
    the offer; "could you tell me the number, [pause] so I can see where it is" still the question."""
    if not phrase or phrase[0] not in cues.coordinators:
        return None
    for i in reversed(earlier):
        core = _core(tokens[i:], cues)
        if _starts_with(core, cues.question_openers):
            return "question", _form(core, cues)
        if _starts_with(core, cues.proposal_openers):
            return "proposal", ""
    return None


def _starts_with(tokens: list[str], patterns: tuple[tuple[str, ...], ...]) -> bool:
    return any(tuple(tokens[: len(p)]) == p for p in patterns)


def _ends_with(tokens: list[str], patterns: tuple[tuple[str, ...], ...]) -> bool:
    return any(len(tokens) >= len(p) and tuple(tokens[-len(p):]) == p for p in patterns)


def _contains(tokens: list[str], patterns: tuple[tuple[str, ...], ...]) -> bool:
    return any(tuple(tokens[i : i + len(p)]) == p for p in patterns for i in range(len(tokens) - len(p) + 1))


# The end-of-turn rule: log-odds per cue, summed and squashed into p_end, in the way
# smart-turn's classifier is read: the words carry most of the weight, prosody moves a
# borderline case either way. Set by hand on the demo replies and the dev replies
# (tests/turn_replies.py DEV_REPLIES); the test set (REPLIES) is held out.
COMPLETE_LOGIT = {
    "question": 2.2, "closing": 2.2, "proposal": 0.8, "follow-up": 0.8, "statement": -1.0,
    "preface": -1.6, "open": -3.0, "unknown": 0.0,
}
"""Questions and closings hand the turn over; an apology or "and" promises more. A plain
statement leans to "more": a trainee's reply mostly ends with a question or an offer
(ask before you solve), while statements of fact sit between its sentences. A statement
after the reply's question (a follow-up: its reason, an option) leaves that question
waiting for the customer, like a complete offer."""
PITCH_LOGIT = {"falling": 0.5, "level": -1.2, "rising": -0.3, "high-rise": -0.3, "unknown": 0.0}
"""Falling to low closes; level holds the floor; a rise on a statement is continuation (on a question see below)."""
QUESTION_RISE_LOGIT = 0.5
"""A rise on a question is question intonation, not continuation."""
LENGTHENED_LOGIT = 0.15
"""Weak: a voice draws out the last word of a sentence inside a turn too."""
FADING_LOGIT = 0.3
YOUNG_LOGIT = -1.0
"""The reply's first phrase: people go on after it more often than not (the reason for a
question, the rest of an offer), so even a complete one leans to "more"."""
FALL_SEMITONES = -1.5
"""A final change this far down, or an end this far below the voice's median, is a fall."""
RISE_SEMITONES = 2.0
"""A final rise of this much is a rise (question intonation or continuation)."""
HIGH_END_SEMITONES = 3.0
"""A rise that ends this far above the voice's median is a high rise: asking, not continuing.
A continuation rise at a comma ends near the median (measured on Piper's commas: -1.5..+1.5)."""
LENGTHENED_RATIO = 1.4
"""Last word's time per syllable against the turn's median: final lengthening."""
FADING_DB = 4.0
"""The last voiced 0.2 s this much below the turn's median level: the voice fades out."""
PROSODY_WINDOW_S = 3.0
"""Audio kept for the prosody at a pause: a sentence or two, enough for the voice's median pitch."""
RISES = ("rising", "high-rise")


def end_probability(complete: str, pitch: str, lengthened: bool, fading: bool, young: bool = False) -> float:
    """p_end from the cues (the logistic rule above)."""
    if complete == "statement" and pitch == "high-rise":
        complete = "question"  # "you sent it on monday?": asked by the voice alone
    logit = COMPLETE_LOGIT[complete] + PITCH_LOGIT[pitch]
    if complete == "question" and pitch in RISES:
        logit += QUESTION_RISE_LOGIT - PITCH_LOGIT[pitch]
    logit += LENGTHENED_LOGIT * lengthened + FADING_LOGIT * fading + YOUNG_LOGIT * young
    return 1.0 / (1.0 + math.exp(-logit))


def confirmed(reading: Reading, pitch: str) -> bool:
    """The voice agrees with the words that the turn is handed over, so the quick hold may apply.

    A yes/no question hands over with a rise, a wh-question with a rise or a fall to low; a
    statement asks by a high rise; a commitment or a question's follow-up ends falling; "please"
    or "thank you" at the end hand over by themselves. Level pitch, or a fall on a yes/no
    question, leaves it open: the speaker may add a tag or a reason ("... still correct, | right?"), so
    the hold is at least ``sure_hold_s``."""
    if reading.kind == "question":
        return pitch in RISES or (reading.form == "wh" and pitch == "falling")
    return (reading.kind == "closing" or (reading.kind == "statement" and pitch == "high-rise")
            or (reading.kind in ("proposal", "follow-up") and pitch == "falling"))


def hold_for(p_end: float, settings: TurnSettings, least_s: float = 0.0) -> float:
    """Silence to wait: quick when the turn is surely over, growing steeply as doubt grows; never below `least_s`."""
    span = settings.max_hold_s - settings.quick_hold_s
    return round(max(settings.quick_hold_s + span * (1.0 - p_end) ** 1.5, least_s), 3)


def least_hold(reading: Reading, pitch: str, settings: TurnSettings) -> float:
    """The floor under the hold: longer for a reply's first phrase, and where the prosody does not confirm the words."""
    if reading.young:
        return settings.young_hold_s
    return settings.quick_hold_s if confirmed(reading, pitch) else settings.sure_hold_s


def final_pitch_st(samples: np.ndarray) -> tuple[float | None, float | None]:
    """(rise over the last voiced 0.4 s, last voiced F0 against the voice's median), in semitones; None where unknown."""
    from voicesim.prosody import final_pitch

    found = final_pitch(Audio(samples))
    return (None, None) if found is None else (found[0], found[1])


def pitch_class(rise_st: float | None, end_st: float | None) -> str:
    """falling, level, rising, high-rise or unknown, from :func:`final_pitch_st`."""
    if end_st is None:
        return "unknown"
    if rise_st is not None and rise_st >= RISE_SEMITONES:
        return "high-rise" if end_st >= HIGH_END_SEMITONES else "rising"
    if end_st <= FALL_SEMITONES or (rise_st is not None and rise_st <= FALL_SEMITONES):
        return "falling"
    return "level" if rise_st is not None else "unknown"  # too few voiced frames at the end for a contour


@dataclass(frozen=True)
class PauseContext:
    """What the detector has at a pause, before weighing it; recorded, it replays a decision without audio."""

    words: tuple[Word, ...]
    """The turn's words so far, with Vosk's timings."""
    phrase_from: int
    """Index of the first word since the previous pause (0 when unknown)."""
    pitch_rise_st: float | None
    """Pitch change over the last voiced 0.4 s in semitones; None when too little was voiced."""
    pitch_end_st: float | None
    """Last voiced pitch against the voice's median in semitones; None when no pitch was found."""
    fading: bool
    """The voice got quieter towards the pause."""
    silence_s: float
    """Silence so far when judged."""


def weigh(context: PauseContext, cues: TurnPhrases, settings: TurnSettings) -> TurnEvidence:
    """The decision at a pause (pure): what the words read as and how the voice ended, into p_end and the hold."""
    words = context.words
    reading = read_turn(words, cues, context.phrase_from)
    pitch = pitch_class(context.pitch_rise_st, context.pitch_end_st)
    drawn_out = lengthened(words)
    p_end = end_probability(reading.kind, pitch, drawn_out, context.fading, reading.young)
    return TurnEvidence(
        silence_s=context.silence_s, hold_s=hold_for(p_end, settings, least_hold(reading, pitch, settings)),
        complete=reading.kind, pitch=pitch, lengthened=drawn_out, fading=context.fading, p_end=round(p_end, 3),
        last_words=" ".join(w.word for w in words[-6:]), young=reading.young,
    )


def lengthened(words: Sequence[Word]) -> bool:
    """The last word took clearly longer per syllable than the turn's words usually do."""
    from voicesim.prosody import count_syllables

    timed = [w for w in words if w.start_s is not None and w.end_s is not None]
    if len(timed) < 4:
        return False
    per_syllable = [(w.end_s - w.start_s) / count_syllables(w.word) for w in timed]
    return per_syllable[-1] >= LENGTHENED_RATIO * float(np.median(per_syllable))


def as_float(chunk: np.ndarray) -> np.ndarray:
    """int16 microphone chunks or float samples -> float32 in [-1, 1]."""
    arr = np.asarray(chunk).reshape(-1)
    if arr.dtype == np.int16:
        return int16_to_float(arr)
    return arr.astype(np.float32, copy=False)


class TurnDetector:
    """Decides, frame by frame, when the trainee starts, stops, interrupts or stays silent.

    One detector lives for the whole call; :meth:`start_listening` marks the
    moment the customer finished a line (silence timeout counts from there).
    """

    def __init__(self, settings: TurnSettings = TurnSettings(), lang: str = "en") -> None:
        self.settings = settings
        self._cues = turn_phrases(lang)
        self._pending = np.zeros(0, dtype=np.float32)
        self._fed = 0
        self._levels: deque[float] = deque([INITIAL_NOISE_DBFS], maxlen=int(NOISE_WINDOW_S * SAMPLE_RATE / FRAME_SAMPLES))
        self._noise_db = INITIAL_NOISE_DBFS
        window = int(PROSODY_WINDOW_S * SAMPLE_RATE / FRAME_SAMPLES)
        self._recent: deque[np.ndarray] = deque(maxlen=window)
        """The last few seconds of frames, for the prosody at a pause."""
        self._voiced_levels: deque[float] = deque(maxlen=window)
        self.level_dbfs = -120.0
        """Level of the latest frame, for the live meter."""
        self._customer_since: int | None = None
        self._barged = False
        self.start_listening()

    # --- what the call loop tells us -------------------------------------------------

    def start_listening(self) -> None:
        """A new trainee turn begins now (the customer just finished or the call started)."""
        self._listen_from = self._fed
        self._voiced_run = 0
        self._voiced_total = 0
        self._in_speech = False
        self._speech_start: int | None = None
        self._last_voiced_end: int | None = None
        self._timed_out = False
        self._ended = False
        self._new_pause()

    def _new_pause(self) -> None:
        self._probed = False
        self._final_seen = False
        self._evidence: TurnEvidence | None = None

    def note_final(self, text: str) -> None:
        """Vosk's endpointer closed an utterance: in a silence, judge the words now rather than at ``probe_s``."""
        if text.strip() and self._in_silence():
            self._final_seen = True

    def judge(self, words: Sequence[Word] | str, phrase_from: int = 0) -> TurnEvidence:
        """After a PAUSE: weigh the turn's words so far (with Vosk's timings) and the prosody into the hold.

        `phrase_from`: index of the first word spoken since the previous pause, if known.

        The END_OF_TURN follows from :meth:`feed` once the silence reaches the hold, or at
        once from :meth:`pending_end` when it already has.
        """
        if isinstance(words, str):
            words = [Word(w) for w in words.split()]
        if not self.settings.predictive:
            tail = " ".join(w.word for w in words[-6:])
            self._evidence = self._old_rule(words, self._silence_s(), tail)
            return self._evidence
        self._evidence = weigh(self.pause_context(words, phrase_from), self._cues, self.settings)
        return self._evidence

    def pause_context(self, words: Sequence[Word], phrase_from: int = 0) -> PauseContext:
        """What there is to weigh at this pause: the words and the voice's cues up to the last voiced frame."""
        found = final_pitch_st(self._voiced_audio())
        return PauseContext(tuple(words), phrase_from, found[0], found[1], self._fading(), round(self._silence_s(), 3))

    def _old_rule(self, words: Sequence[Word], silence: float, tail: str) -> TurnEvidence:
        """Before issue 11: the quick hold after any word that does not promise more; at once after a Vosk final."""
        s = self.settings
        is_open = bool(words) and words[-1].word.lower() in self._cues.hold_words
        hold = s.end_hold_s if is_open else (FRAME_SAMPLES / SAMPLE_RATE if self._final_seen else s.quick_hold_s)
        return TurnEvidence(silence_s=round(silence, 3), hold_s=hold, complete="open" if is_open else "unknown",
                            pitch="unknown", lengthened=False, fading=False, p_end=None, last_words=tail)

    def pending_end(self) -> TurnEvent | None:
        """END_OF_TURN now, if the judged hold has already passed (it is then also the detector's state)."""
        if self._ended or self._evidence is None or self._silence_s() < self._evidence.hold_s - 1e-9:
            return None
        return self._end()

    def _end(self) -> TurnEvent:
        self._ended = True
        assert self._last_voiced_end is not None
        held = self._evidence and replace(self._evidence, silence_s=round(self._silence_s(), 3))
        return TurnEvent(END_OF_TURN, self._fed / SAMPLE_RATE, self._last_voiced_end / SAMPLE_RATE, held)

    def _in_silence(self) -> bool:
        return self._last_voiced_end is not None and not self._in_speech

    def _silence_s(self) -> float:
        return 0.0 if self._last_voiced_end is None else (self._fed - self._last_voiced_end) / SAMPLE_RATE

    def _voiced_audio(self) -> np.ndarray:
        """The recent audio up to the last voiced frame."""
        silent_frames = (self._fed - (self._last_voiced_end or self._fed)) // FRAME_SAMPLES
        frames = list(self._recent)[: max(0, len(self._recent) - silent_frames)]
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.float32)

    def _fading(self) -> bool:
        levels = list(self._voiced_levels)
        if len(levels) < 30:
            return False
        return float(np.median(levels[-10:])) <= float(np.median(levels)) - FADING_DB

    @property
    def heard_speech(self) -> bool:
        """Speech started in this turn."""
        return self._speech_start is not None

    @property
    def speech_start_s(self) -> float | None:
        return None if self._speech_start is None else self._speech_start / SAMPLE_RATE

    @property
    def fed_s(self) -> float:
        return self._fed / SAMPLE_RATE

    # --- frames ----------------------------------------------------------------------

    def feed(self, chunk: np.ndarray, *, customer_playing: bool) -> list[TurnEvent]:
        """Feed microphone samples (int16 or float); returns the events they caused, in order."""
        samples = np.concatenate([self._pending, as_float(chunk)])
        n_frames = len(samples) // FRAME_SAMPLES
        self._pending = samples[n_frames * FRAME_SAMPLES :]
        events: list[TurnEvent] = []
        for i in range(n_frames):
            frame = samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            events.extend(self._frame(frame, customer_playing))
        return events

    def _frame(self, frame: np.ndarray, customer_playing: bool) -> list[TurnEvent]:
        s = self.settings
        level = level_dbfs(frame)
        self.level_dbfs = level
        start = self._fed
        self._fed += len(frame)
        self._track_noise(level)
        self._recent.append(frame)
        voiced = level >= max(self._noise_db + s.margin_db, s.min_speech_dbfs)
        events: list[TurnEvent] = []

        if customer_playing and self._customer_since is None:
            self._customer_since, self._barged = start, False
        elif not customer_playing:
            self._customer_since = None

        if self._ended:
            return events  # the call loop decides what comes next: start_listening()
        if voiced:
            self._voiced_levels.append(level)
            if not self._in_speech and self._probed:
                self._new_pause()  # speech goes on: the judgement of the pause is out of date
            self._voiced_run += len(frame)
            self._voiced_total += len(frame)
            self._last_voiced_end = self._fed
            if not self._in_speech and self._voiced_run >= s.onset_s * SAMPLE_RATE:
                self._in_speech = True
                onset = self._fed - self._voiced_run
                if self._speech_start is None:
                    self._speech_start = onset
                    events.append(TurnEvent(SPEECH_START, onset / SAMPLE_RATE))
                if customer_playing:
                    events.extend(self._barge_in(onset))
            return events

        self._voiced_run = 0
        self._in_speech = False
        if customer_playing:
            return events
        if self._speech_start is None:
            if not self._timed_out and self._fed - self._listen_from >= s.silence_timeout_s * SAMPLE_RATE:
                self._timed_out = True
                events.append(TurnEvent(SILENCE_TIMEOUT, self._fed / SAMPLE_RATE))
            return events
        events.extend(self._pause_or_end())
        return events

    def _pause_or_end(self) -> list[TurnEvent]:
        """In the silence after speech: ask for a judgement once, then end when the hold has passed."""
        if self._voiced_total < self.settings.min_speech_s * SAMPLE_RATE:
            return []
        silence = self._silence_s()
        if not self._probed:
            if silence >= self.settings.probe_s or (self._final_seen and silence >= FRAME_SAMPLES / SAMPLE_RATE):
                self._probed = True
                return [TurnEvent(PAUSE, self._fed / SAMPLE_RATE, self._last_voiced_end / SAMPLE_RATE)]
            return []
        hold = self.settings.max_hold_s if self._evidence is None else self._evidence.hold_s
        return [self._end()] if silence >= hold - 1e-9 else []  # unjudged (a caller ignoring PAUSE): the longest hold

    def _barge_in(self, onset: int) -> list[TurnEvent]:
        """Speech while the customer talks; once per customer line, after the grace period."""
        assert self._customer_since is not None
        if self._barged or onset - self._customer_since < self.settings.barge_in_grace_s * SAMPLE_RATE:
            return []
        self._barged = True
        return [TurnEvent(BARGE_IN, onset / SAMPLE_RATE)]

    def _track_noise(self, level: float) -> None:
        # Minimum statistics: the quietest frame of the last few seconds is the line's
        # noise. Speech always has gaps between words, so a reply never lifts the floor,
        # while a steady hum or hiss becomes the floor within NOISE_WINDOW_S.
        self._levels.append(max(level, -90.0))
        self._noise_db = min(min(self._levels), NOISE_CEILING_DBFS)


def voiced_frames(samples: np.ndarray, settings: TurnSettings = TurnSettings()) -> np.ndarray:
    """Per 20 ms frame of a whole recording: voiced or not, against the recording's own noise floor."""
    x = as_float(samples)
    if len(x) < FRAME_SAMPLES:
        return np.zeros(0, dtype=bool)
    db = block_levels_dbfs(x, FRAME_SAMPLES)
    # The quietest tenth is the room; capped so a file that is all speech still finds its words.
    floor = max(min(float(np.percentile(db, 10)), -55.0), -90.0)
    return db >= max(floor + settings.margin_db, settings.min_speech_dbfs)


def speech_bounds(samples: np.ndarray, settings: TurnSettings = TurnSettings()) -> tuple[float, float] | None:
    """(first, last) voiced time in a recording, in seconds; None when nothing is voiced.

    Used for response delay in scripted calls and by the latency benchmark.
    """
    voiced = np.nonzero(voiced_frames(samples, settings))[0]
    if len(voiced) == 0:
        return None
    return float(voiced[0] * FRAME_SAMPLES / SAMPLE_RATE), float((voiced[-1] + 1) * FRAME_SAMPLES / SAMPLE_RATE)
