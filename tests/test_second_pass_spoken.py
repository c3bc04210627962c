"""The second pass's words in spoken form (voicesim.spoken_form): what Whisper writes with digits and signs, said as Vosk writes it.

Pure text in, words out; the cases are the ways Whisper wrote numbers on our recordings and
on call-center replies (order and case numbers, amounts, dates, times).
"""

from __future__ import annotations

import pytest

from voicesim import second_pass
from voicesim.spoken_form import spoken_runs, spoken_text, spoken_words


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
        # Large amounts by their scale words, the unit always said.
        ("en", " 1,000,000,000", "one billion"),
        ("en", " 3,000,000,000,000", "three trillion"),
        ("en", " 2,500,000,000", "two billion five hundred million"),
        ("de", " 1.000.000", "eine million"),
        ("de", " 2.000.000", "zwei millionen"),
        ("de", " 3.000.000.000", "drei milliarden"),
        # Money: one dollar, cents alone, scales written onto the amount.
        ("en", " $1", "one dollar"),
        ("en", " $1.50", "one dollar fifty"),
        ("en", " $0.99", "ninety nine cents"),
        ("en", " £0.50", "fifty pence"),
        ("en", " £3.2bn", "three point two billion pounds"),
        ("en", " $1.5m", "one point five million dollars"),
        ("en", " $50k", "fifty thousand dollars"),
        ("en", " 5k", "five thousand"),
        ("de", " 9,99€", "neun euro neunundneunzig"),
        ("de", " 9,09€", "neun euro neun"),
        ("de", " 1€", "ein euro"),
        # Letters written onto a numeral keep the numeral.
        ("en", " 3pm", "three p m"),
        ("en", " 10am.", "ten a m"),
        ("en", " 3-day", "three day"),
        # Short rising ranges are said with "to"; anything else hyphenated stays digit by digit.
        ("en", " 3-5", "three to five"),
        ("en", " 3\u20135", "three to five"),
        ("en", " 10-15%", "ten to fifteen percent"),
        ("en", " 24-7", "two four seven"),
        ("en", " 555-0134", "five five five zero one three four"),
        ("en", " 1-800", "one eight zero zero"),
        ("en", " 1-800-FLOWERS", "one eight zero zero flowers"),
        ("en", " $100-200", "one hundred to two hundred dollars"),
        ("en", " 24/7", "twenty four seven"),
        ("en", " 3.30pm", "three thirty p m"),
        ("en", " 1990s", "nineteen nineties"),
        ("en", " 80s", "eighties"),
        ("de", " 1-2", "ein bis zwei"),
        # German dates and written ordinals.
        ("de", " 24.12.2026", "vierundzwanzigsten zwölften zweitausendsechsundzwanzig"),
        ("de", " 2.5.", "zweiten fünften"),
        ("de", " 31.12.99", "einunddreißigsten zwölften neunundneunzig"),
        ("de", " 3ten", "dritten"),
        ("de", " 21.", "einundzwanzig"),  # a number ending a sentence, not an ordinal
        ("de", " 2.5", "zwei komma fünf"),  # Whisper's English decimal point in German text
        ("de", " z.B.", "zum beispiel"),
        ("de", " ca.", "circa"),
    ],
)
def test_written_words_are_said_the_way_vosk_writes_them(lang, written, said) -> None:
    assert spoken_words(written, lang) == said.split()


@pytest.mark.parametrize(
    ("lang", "written", "said"),
    [
        ("en", "1,000,000,000 dollars", "one billion dollars"),
        ("en", "$1.5 million", "one point five million dollars"),
        ("en", "about 5 million dollars", "about five million dollars"),
        ("en", "$ 45", "forty five dollars"),
        ("en", "45.50 dollars", "forty five dollars fifty"),
        ("en", "1 dollar", "one dollar"),
        ("en", "a 25 pound fee", "a twenty five pound fee"),  # a currency word without cents stays as written
        ("de", "100 EUR", "einhundert euro"),
        ("en", "3-5 days", "three to five days"),
        ("en", "at 3:30 pm", "at three thirty p m"),
        ("en", "I am here", "i am here"),
        ("de", "Am 2.5. kostet es 9,99 €", "am zweiten fünften kostet es neun euro neunundneunzig"),
        ("de", "am 3. Mai", "am dritten mai"),
        ("de", "Am 24.12. ist zu", "am vierundzwanzigsten zwölften ist zu"),
        ("de", "Heute ist der 24.12.", "heute ist der vierundzwanzigste zwölfte"),
        ("de", "bis zum 24.12.2026.", "bis zum vierundzwanzigsten zwölften zweitausendsechsundzwanzig"),
        ("de", "der 3. Versuch", "der dritte versuch"),
        ("de", "in der 2. Woche", "in der zweiten woche"),
        ("de", "zum 1. Mal", "zum ersten mal"),
        ("de", "Das kostet 3. Dann", "das kostet drei dann"),
        ("de", "um 14:30 Uhr", "um vierzehn uhr dreißig"),
        ("de", "um 14.30 Uhr", "um vierzehn uhr dreißig"),
        ("de", "um 14.30", "um vierzehn uhr dreißig"),
        ("de", "um 14 Uhr", "um vierzehn uhr"),
        ("de", "um 1 Uhr", "um ein uhr"),
        ("de", "9,99 €", "neun euro neunundneunzig"),
        ("de", "9,99 Euro", "neun euro neunundneunzig"),
        ("de", "€ 9,99", "neun euro neunundneunzig"),
        ("de", "0,99 €", "neunundneunzig cent"),
        ("de", "1.000 €", "eintausend euro"),
        ("de", "1 Million", "eine million"),
        ("de", "2 Millionen", "zwei millionen"),
        ("de", "1,5 Mio. €", "eins komma fünf millionen euro"),
        ("de", "10 %", "zehn prozent"),
        ("de", "3-5 Tage", "drei bis fünf tage"),
        ("de", "EUR 100", "einhundert euro"),
        ("de", "von 9:00-17:00 Uhr", "von neun uhr bis siebzehn uhr"),
        ("de", "von 9-17 Uhr", "von neun bis siebzehn uhr"),
        ("en", "open 9:00-5:30", "open nine to five thirty"),
        ("en", "only $12.99/month", "only twelve dollars ninety nine month"),
        ("en", "USD 5", "five dollars"),
    ],
)
def test_numbers_written_over_several_words_are_said_together(lang, written, said) -> None:
    assert spoken_text(written, lang) == said


def test_a_run_said_together_covers_its_written_words() -> None:
    runs = spoken_runs([" Nur", " 9,99", " €", "!"], "de")
    assert [(run.first, run.end, " ".join(run.words)) for run in runs] == [
        (0, 1, "nur"), (1, 3, "neun euro neunundneunzig"), (3, 4, "")
    ]


def test_a_price_written_as_two_words_shares_both_their_times() -> None:
    raw = [(" 9,99", 0.0, 0.5, 0.9), (" €", 0.5, 0.8, 0.7)]
    words = second_pass._vosk_style(raw, 1.0, "de")
    assert [(w.word, w.start_s, w.end_s, w.conf) for w in words] == [
        ("neun", 0.0, 0.267, 0.7), ("euro", 0.267, 0.533, 0.7), ("neunundneunzig", 0.533, 0.8, 0.7)
    ]


def test_punctuation_alone_says_nothing() -> None:
    assert [spoken_words(mark, "en") for mark in (" ,", "...", " -", " ?")] == [[], [], [], []]


def test_a_whole_reply_reads_like_vosk_output() -> None:
    whisper = "I'm sorry, your refund of $45 left on the 3rd; call 555-0134 before 5:30 p.m."
    assert spoken_text(whisper, "en") == (
        "i'm sorry your refund of forty five dollars left on the third call five five five zero one three four "
        "before five thirty p m"
    )
