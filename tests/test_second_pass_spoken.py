"""The second pass's words in spoken form (voicesim.spoken_form): what Whisper writes with digits and signs, said as Vosk writes it.

Pure text in, words out; the cases are the ways Whisper wrote numbers on our recordings and
on call-center replies (order and case numbers, amounts, dates, times).
"""

from __future__ import annotations

import pytest

from voicesim.spoken_form import spoken_text, spoken_words


@pytest.mark.parametrize(
    ("lang", "written", "said"),
    [
        ("en", " 3", "three"),
        ("en", " 45.", "forty five"),
        ("en", " 100", "one hundred"),
        ("en", " $120", "one hundred twenty dollars"),
        ("en", " $45.50,", "forty five dollars fifty"),
        ("en", " $1,000.00", "one thousand dollars"),
        ("en", " 50€", "fifty euros"),
        ("en", " 25%", "twenty five percent"),
        ("en", " 2.5", "two point five"),
        ("en", " 10,000", "ten thousand"),
        ("en", " 1,250,000", "one million two hundred fifty thousand"),
        # Digit strings (order, postal, phone numbers) are read digit by digit, however Whisper groups them.
        ("en", " 1,0001,", "one zero zero zero one"),
        ("en", " 01803", "zero one eight zero three"),
        ("en", " 4471", "four four seven one"),
        ("en", " 10001-90210-01803", "one zero zero zero one nine zero two one zero zero one eight zero three"),
        ("en", " 1-0001", "one zero zero zero one"),
        # Years in pairs, round thousands as a number.
        ("en", " 1961", "nineteen sixty one"),
        ("en", " 1905", "nineteen oh five"),
        ("en", " 1900", "nineteen hundred"),
        ("en", " 2005", "two thousand five"),
        ("en", " 2023", "twenty twenty three"),
        ("en", " 4000", "four thousand"),
        ("en", " 21st", "twenty first"),
        ("en", " 3rd", "third"),
        ("en", " 12th", "twelfth"),
        ("en", " 20th", "twentieth"),
        ("en", " 3:05", "three oh five"),
        ("en", " 3:30", "three thirty"),
        ("en", " 3:00", "three"),
        ("en", " p.m.", "p m"),
        ("en", " Mr.", "mister"),
        ("en", " OK,", "okay"),
        ("en", " &", "and"),
        ("en", " E-mail,", "e mail"),
        ("en", " follow-up.", "follow up"),
        ("en", " don\u2019t", "don't"),
        ("en", " mp3", "mp three"),
        ("de", " 21", "einundzwanzig"),
        ("de", " 101", "einhunderteins"),
        ("de", " 10.000", "zehntausend"),
        ("de", " 2,5", "zwei komma fünf"),
        ("de", " 1961", "neunzehnhunderteinundsechzig"),
        ("de", " 2023", "zweitausenddreiundzwanzig"),
        ("fr", " 3", "3"),  # no number words for French: digits stay
    ],
)
def test_written_words_are_said_the_way_vosk_writes_them(lang, written, said) -> None:
    assert spoken_words(written, lang) == said.split()


def test_punctuation_alone_says_nothing() -> None:
    assert [spoken_words(mark, "en") for mark in (" ,", "...", " -", " ?")] == [[], [], [], []]


def test_a_whole_reply_reads_like_vosk_output() -> None:
    whisper = "I'm sorry, your refund of $45 left on the 3rd; call 555-0134 before 5:30 p.m."
    assert spoken_text(whisper, "en") == (
        "i'm sorry your refund of forty five dollars left on the third call five five five zero one three four "
        "before five thirty p m"
    )
