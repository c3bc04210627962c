"""The scorecard: calm tone from text and from (synthetic, known) audio, weights, notes, JSON contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voicesim.audio import SAMPLE_RATE, Audio
from voicesim.errors import VoicesimError
from voicesim.language import load_language
from voicesim.scorecard import CHECK_IDS
from voicesim.scoring import CHECK_WEIGHTS, TONE_KEYS, calm_bands, score_reply, scorecard_to_json
from voicesim.transcript import Transcript, Word

GOOD = (
    "I'm so sorry about the delay, I understand how frustrating this is. "
    "When did you place the order? I'll send you a written confirmation by email today."
)


@pytest.fixture(scope="module")
def en():
    return load_language("en")


def voice(seconds: float, segments: list[tuple[float, float]] | None = None, rms_dbfs: float = -22.0) -> Audio:
    """A voiced buzz at known level; `segments` = [(seconds, f0_hz), ...] (default: steady 120 Hz)."""
    segments = segments or [(seconds, 120.0)]
    f0 = np.concatenate([np.full(int(s * SAMPLE_RATE), hz) for s, hz in segments])
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 10))
    x *= 10 ** (rms_dbfs / 20) / np.sqrt(np.mean(x**2))
    return Audio(x.astype(np.float32))


def timed(text: str, start: float, end: float) -> Transcript:
    """`text` as ASR words spread evenly over [start, end], lower case without punctuation."""
    tokens = "".join(ch for ch in text.lower() if ch.isalnum() or ch in " '").split()
    step = (end - start) / (len(tokens) - 0.1)  # each word lasts 0.9 step, the last one ends at `end`
    words = tuple(Word(t, start + i * step, start + (i + 0.9) * step) for i, t in enumerate(tokens))
    return Transcript(" ".join(tokens), words, duration_s=end + 0.5)


def test_weights_cover_the_six_checks_and_sum_to_one():
    assert set(CHECK_WEIGHTS) == set(CHECK_IDS)
    assert sum(CHECK_WEIGHTS.values()) == pytest.approx(1.0)


def test_overall_is_the_weighted_sum_of_the_scores(en):
    for text in (GOOD, "That's your problem, not mine.", "When did it start?"):
        card = score_reply(Transcript.from_text(text), en)
        expected = sum(CHECK_WEIGHTS[c] * card.checks[c].score for c in CHECK_IDS)
        assert card.overall == int(np.floor(100 * expected + 0.5))
        assert list(card.checks) == list(CHECK_IDS)


def test_typed_text_says_tone_was_not_measured_and_passes_without_shouting(en):
    card = score_reply(Transcript.from_text(GOOD), en)
    calm = card.checks["calm_tone"]
    assert calm.passed and calm.score == 1.0
    assert "not measured" in calm.evidence[0].text and calm.evidence[0].start_s is None
    assert card.tone["measured"] is False and "not measured" in card.tone["reason"]
    assert card.tone["words_per_minute"] is None and card.tone["pitch_median_hz"] is None
    assert list(card.tone) == list(TONE_KEYS)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("CALM DOWN, I am trying to help you.", "CALM DOWN"),
        ("I TOLD YOU the parcel is on its way.", "TOLD YOU"),
        ("Your parcel is on its way!!!", "3 exclamation marks"),
    ],
)
def test_typed_shouting_fails_calm_tone_and_quotes_it(en, text, shown):
    calm = score_reply(Transcript.from_text(text), en).checks["calm_tone"]
    assert not calm.passed and calm.score < 1.0
    assert any(shown in e.text for e in calm.evidence)


def test_a_lone_acronym_or_one_exclamation_is_not_shouting(en):
    calm = score_reply(Transcript.from_text("Thanks! Your DHL number is on the way by e-mail."), en).checks["calm_tone"]
    assert calm.passed


def test_filler_share_over_the_band_fails_calm_tone(en):
    card = score_reply(Transcript.from_text("uh so um I uh think um we can fix"), en)
    assert not card.checks["calm_tone"].passed
    assert card.tone["filler_count"] == 4 and "40% filler words" in card.checks["calm_tone"].evidence[0].text


def test_barge_ins_count_against_calm_tone(en):
    calm0 = score_reply(Transcript.from_text(GOOD), en, interruptions=0).checks["calm_tone"]
    calm1 = score_reply(Transcript.from_text(GOOD), en, interruptions=1).checks["calm_tone"]
    calm2 = score_reply(Transcript.from_text(GOOD), en, interruptions=2).checks["calm_tone"]
    assert calm0.passed and not calm1.passed and not calm2.passed
    assert calm0.score > calm1.score > calm2.score
    assert "2 barge-in" in calm2.evidence[0].text


def test_fast_speech_explains_itself(en):
    # 21 words over 6 s = 210 words per minute
    text = "I understand this is frustrating and I am sorry about the delay let me check the order for you right now"
    transcript = timed(text, 0.5, 6.5)
    assert len(transcript.words) == 21
    card = score_reply(transcript, en, audio=voice(7.0))
    calm = card.checks["calm_tone"]
    assert not calm.passed
    assert calm.evidence[0].text == "210 words per minute; calm is 100–190"
    assert (calm.evidence[0].start_s, calm.evidence[0].end_s) == (0.5, pytest.approx(6.5))
    assert card.tone["words_per_minute"] == 210.0
    assert card.tone["measured"] is True and card.tone["pitch_median_hz"] == pytest.approx(120.0, rel=0.02)


def test_calm_speech_passes_with_the_measured_values_as_evidence(en):
    text = "I understand this is frustrating and I am sorry about the delay so let me check the order for you"
    card = score_reply(timed(text, 0.3, 9.0), en, audio=voice(9.5))  # 19 words over 8.7 s: about 131 wpm
    calm = card.checks["calm_tone"]
    assert calm.passed and calm.score == 1.0
    assert "words per minute" in calm.evidence[0].text and "within the calm band" in calm.evidence[0].text


def test_bands_are_configurable(en):
    transcript = timed("I understand this is frustrating and I am sorry about the delay let me check it now", 0.5, 5.5)
    strict = score_reply(transcript, en, audio=voice(6.0))
    relaxed = score_reply(transcript, en, audio=voice(6.0), bands=calm_bands(en, wpm_max=220))
    assert not strict.checks["calm_tone"].passed and relaxed.checks["calm_tone"].passed
    with pytest.raises(VoicesimError, match="wpm_maximum"):
        calm_bands(en, wpm_maximum=220)


def test_loud_and_wide_pitch_fail_with_their_values(en):
    transcript = timed("I understand this is frustrating let me check the order for you now", 0.5, 6.0)  # 142 wpm
    loud = score_reply(transcript, en, audio=voice(6.5, rms_dbfs=-6.0)).checks["calm_tone"]
    assert not loud.passed and "speech at -6.0 dBFS" in loud.evidence[0].text
    swings = voice(6.5, [(1.6, 100.0), (1.6, 250.0), (1.6, 100.0), (1.7, 250.0)])
    wide = score_reply(transcript, en, audio=swings).checks["calm_tone"]
    assert not wide.passed and "pitch moves over 15.9 semitones" in wide.evidence[0].text


def test_rising_end_from_the_audio_reaches_the_question_check(en):
    # "could you tell me your order number" has no '?' in ASR output: only the rising pitch marks it
    transcript = timed("could you tell me your order number", 0.2, 2.4)
    flat = score_reply(transcript, en, audio=voice(2.6, [(2.6, 120.0)]))
    rising = score_reply(transcript, en, audio=voice(2.6, [(2.0, 120.0), (0.2, 130.0), (0.2, 145.0), (0.2, 160.0)]))
    assert rising.tone["rising_end"] is True and flat.tone["rising_end"] is False
    assert rising.checks["targeted_question"].score >= flat.checks["targeted_question"].score
    assert rising.checks["targeted_question"].passed


def test_audio_without_speech_gives_a_card_with_the_reason(en):
    for audio in (Audio.silence(2.0), Audio((np.random.default_rng(3).standard_normal(32000) * 0.1).astype(np.float32))):
        card = score_reply(Transcript("the", (Word("the", 0.5, 0.7, 0.3),), 2.0), en, audio=audio)
        assert card.overall == 0 and not any(r.passed for r in card.checks.values())
        assert card.notes and card.notes[0].startswith("no speech found")
        assert card.tone["measured"] is False and card.tone["reason"].startswith("no speech found")
        json.loads(scorecard_to_json(card))


@pytest.mark.parametrize("text, note", [("", "empty reply"), ("  ", "empty reply"), ("um uh erm um", "only filler")])
def test_nothing_to_score_is_a_valid_card_with_a_reason(en, text, note):
    card = score_reply(Transcript.from_text(text), en)
    assert card.overall == 0 and note in card.notes[0]
    assert all(not r.passed and r.tip for r in card.checks.values())


def test_another_language_is_noted(en):
    de = load_language("de")
    text = "Es tut mir leid, das war unser Fehler. Wann ist das Problem zum ersten Mal aufgetreten?"
    card = score_reply(Transcript.from_text(text), en, other_packs=[de])
    assert any(f"looks like {de.name}" in n and "--lang de" in n for n in card.notes)
    # Corrected with the learned layer: a card without it notes that, so look for language notes only.
    assert not [n for n in score_reply(Transcript.from_text(GOOD), en, other_packs=[de]).notes if "looks like" in n]


def test_ten_thousand_words_score_whole_with_a_note(en):
    text = " ".join([GOOD] * (10_000 // len(GOOD.split()) + 1))
    card = score_reply(Transcript.from_text(text), en)
    assert any("very long reply" in n for n in card.notes)
    assert card.checks["apology"].passed and 0 <= card.overall <= 100


def test_a_reply_past_the_learned_layers_length_is_judged_by_the_lexicon_and_says_so(en):
    from voicesim.learned import load_judge
    from voicesim.scoring import LONG_REPLY_LEXICON_NOTE, LONG_REPLY_WORDS

    judge = load_judge("en")
    short = score_reply(Transcript.from_text(GOOD), en, judge=judge)
    assert LONG_REPLY_LEXICON_NOTE not in short.notes
    text = " ".join([GOOD] * (LONG_REPLY_WORDS // len(GOOD.split()) + 1))
    long = score_reply(Transcript.from_text(text), en, judge=judge)
    assert LONG_REPLY_LEXICON_NOTE in long.notes
    assert long.checks == score_reply(Transcript.from_text(text), en).checks  # the lexicon's own verdicts


def test_json_is_the_design_contract_and_byte_identical(en):
    card = score_reply(timed(GOOD, 0.4, 9.4), en, audio=voice(10.0))
    text = scorecard_to_json(card)
    assert text == scorecard_to_json(score_reply(timed(GOOD, 0.4, 9.4), en, audio=voice(10.0)))
    obj = json.loads(text)
    assert list(obj) == ["lang", "transcript", "checks", "tone", "overall"]
    assert list(obj["checks"]) == list(CHECK_IDS)
    for check in obj["checks"].values():
        assert list(check) == ["passed", "score", "evidence", "tip"]
        assert all(list(e) == ["text", "start_s", "end_s"] for e in check["evidence"])
    assert isinstance(obj["overall"], int) and obj["lang"] == "en"
    assert "NaN" not in text and "-0.0" not in text
    typed = json.loads(scorecard_to_json(score_reply(Transcript.from_text(GOOD), en)))
    assert all(e["start_s"] is None for c in typed["checks"].values() for e in c["evidence"])
    assert list(typed["tone"]) == list(obj["tone"])
