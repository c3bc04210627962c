"""Whisper's written words in the spoken form Vosk writes: lower case, no punctuation, numbers as words.

>>> from voicesim.spoken_form import spoken_words
>>> spoken_words(" $45.50,", "en")
['forty', 'five', 'dollars', 'fifty']
>>> spoken_words("10001-90210", "en")[:6]
['one', 'zero', 'zero', 'zero', 'one', 'nine']
>>> spoken_words("21st", "en"), spoken_words("1961", "en"), spoken_words("3:05", "en")
(['twenty', 'first'], ['nineteen', 'sixty', 'one'], ['three', 'oh', 'five'])

Whisper writes what it hears the way a person types it ("$45", "3:30", "21st", "10,000",
"1961", "Mr.", "follow-up"). The live ear (Vosk), the checklist's word patterns, the
debrief's quotes and a reviewer's spoken-form reference all have words there, so the
second pass says them out. Which reading a numeral gets is a guess at what the caller
said, made the way people read numbers on the phone: up to 999 as a number, 4-digit
years in pairs, comma-grouped amounts as a number, other long or 0-led numerals (order,
postal, phone numbers) and hyphen-joined groups digit by digit. How a language says
numbers is data (data/second_pass/numbers.toml); a language missing there keeps digits.
Pure: text in, words out.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

# A piece of a written word: a numeral with its signs and suffix, a run of letters
# (inner apostrophes kept: "don't"), or a sign said as a word. Anything else
# (punctuation, hyphens, dots of "p.m.") only separates pieces.
_PIECE = re.compile(
    r"[$€£]?\d[\d,.:/-]*(?:st|nd|rd|th)?%?[$€£]?(?![^\W_])"  # "$45.50", "21st", "10001-90210", "3:30"
    r"|[^\W\d_]+(?:'[^\W\d_]+)*"  # "don't", "p", "m"
    r"|[$€£%&]"  # a sign on its own: "50 €"
)
_NUMERAL = re.compile(r"(?P<pre>[$€£]?)(?P<body>\d(?:[\d,.:/-]*\d)?)[,.:]?(?P<ordinal>st|nd|rd|th)?(?P<percent>%?)(?P<post>[$€£]?)")


@dataclass(frozen=True)
class NumberWords:
    """How one language says what Whisper writes with digits and signs (one table of numbers.toml)."""

    small: tuple[str, ...]
    """0 to 19."""
    tens: tuple[str, ...]
    """20, 30, ... 90."""
    tens_and_unit: str
    """Format of 21-99 from {tens} and {unit}, e.g. "{tens} {unit}"."""
    hundreds: str
    """Format of 100-999 from {unit} and {rest} (rest may be empty)."""
    thousands: str
    """Format of 1,000-999,999 from {unit} (the thousands, a number) and {rest}."""
    millions: str
    """Format of 1,000,000 up from {unit} and {rest}."""
    in_compound: dict[str, str]
    """Unit words that change inside a compound number (German "eins" -> "ein")."""
    point: str
    """The decimal point as said."""
    decimal_mark: str
    """How the decimal point is written ("." in English, "," in German)."""
    group_mark: str
    """How thousands are grouped ("," in English, "." in German)."""
    percent: str
    currency: dict[str, str]
    """Currency sign -> word said after the amount."""
    year: str
    """Format of a 4-digit year said in pairs, from {high} and {low} ("nineteen sixty one")."""
    year_round: str
    """... whose low pair is 00 ("nineteen hundred")."""
    year_small: str
    """... whose low pair is 01-09 ("nineteen oh five")."""
    year_ranges: tuple[tuple[int, int], ...]
    """Years said in pairs; other 4-digit numerals are amounts or digit strings."""
    year_number_ranges: tuple[tuple[int, int], ...]
    """Years said as a number ("two thousand five")."""
    clock: str
    """Format of a time h:mm from {hour} and {minutes}."""
    clock_small: str
    """... when the minutes are 01-09."""
    clock_full_hour: str
    """... when the minutes are 00."""
    ordinal_suffixes: tuple[str, ...]
    """What follows digits to make an ordinal ("21st"); empty where ordinals are not written that way."""
    ordinal_words: dict[str, str]
    """Last words of a number with their own ordinal ("one" -> "first")."""
    ordinal_ending: str
    """Added to any other last word ("six" -> "sixth")."""
    ordinal_y_ending: str
    """Replaces a final "y" ("twenty" -> "twentieth")."""
    words: dict[str, str]
    """Written abbreviations and signs -> how they are said ("mr" -> "mister", "&" -> "and")."""


def spoken_words(written: str, lang: str) -> list[str]:
    """The words Vosk would write for one written Whisper word in `lang` (possibly none, possibly several)."""
    numbers = number_words(lang)
    out: list[str] = []
    for piece in _PIECE.findall(written.lower().replace("\u2019", "'")):
        if numbers is None:
            out += [piece] if piece[0].isalnum() else []
        elif piece[0].isdigit() or (len(piece) > 1 and piece[1].isdigit()):
            out += _numeral(piece, numbers)
        else:
            out += numbers.words.get(piece, piece if piece[0].isalpha() else "").split()
    return out


def spoken_text(text: str, lang: str) -> str:
    """A whole written text in spoken form, words joined by one space."""
    return " ".join(word for token in text.split() for word in spoken_words(token, lang))


def _numeral(piece: str, numbers: NumberWords) -> list[str]:
    """One numeral with its signs as said: "$45.50" -> forty five dollars fifty."""
    match = _NUMERAL.match(piece)
    if match is None:  # a stray mark after the digits that no reading takes
        return _digits(re.sub(r"\D", "", piece), numbers)
    body = match["body"]
    currency = numbers.currency.get(match["pre"] or match["post"], "")
    if re.search(r"\d[-/]\d", body):  # 10001-90210, 555/1234: read out as written, digit by digit
        return _digits(re.sub(r"\D", "", body), numbers)
    if re.fullmatch(r"\d{1,2}:\d\d", body):
        said = _clock(body, numbers)
    elif match["ordinal"] and numbers.ordinal_suffixes and match["ordinal"] in numbers.ordinal_suffixes:
        said = _ordinal(_cardinal(int(re.sub(r"\D", "", body)), numbers).split(), numbers)
    else:
        said, cents = _amount(body, numbers, cents_after=bool(currency))
        if cents is not None:  # "$45.50": forty five dollars fifty
            said, currency = said + [currency] + cents, ""
    if match["percent"]:
        said.append(numbers.percent)
    return said + ([currency] if currency else [])


def _amount(body: str, numbers: NumberWords, cents_after: bool) -> tuple[list[str], list[str] | None]:
    """A plain numeral, perhaps grouped or with decimals, and its cents (2 decimals after a currency) or None."""
    whole, mark, fraction = body.rpartition(numbers.decimal_mark)
    if not mark or not fraction.isdigit() or _grouped(body, numbers):
        whole, fraction = body, ""  # "10,000": the only mark groups thousands
    grouped = _grouped(whole, numbers)
    said = _integer(whole.replace(numbers.group_mark, "") if grouped else re.sub(r"\D", "", whole), numbers, grouped)
    if fraction and cents_after and len(fraction) == 2:
        return said, [] if fraction == "00" else _cardinal(int(fraction), numbers).split()
    if fraction:
        said += [numbers.point] + _digits(fraction, numbers)
    return said, None


def _grouped(whole: str, numbers: NumberWords) -> bool:
    return re.fullmatch(rf"\d{{1,3}}(?:{re.escape(numbers.group_mark)}\d{{3}})+", whole) is not None


def _integer(digits: str, numbers: NumberWords, grouped: bool) -> list[str]:
    """A whole number: as a number when it reads as one, else digit by digit (order and phone numbers)."""
    n = int(digits)
    if grouped or digits == "0" or (len(digits) <= 3 and not digits.startswith("0")):
        return _cardinal(n, numbers).split()
    if len(digits) == 4 and not digits.startswith("0"):
        if any(lo <= n <= hi for lo, hi in numbers.year_ranges):
            return _year(n, numbers)
        if n % 100 == 0 or any(lo <= n <= hi for lo, hi in numbers.year_number_ranges):
            return _cardinal(n, numbers).split()
    return _digits(digits, numbers)


def _digits(digits: str, numbers: NumberWords) -> list[str]:
    return [numbers.small[int(d)] for d in digits]


def _year(n: int, numbers: NumberWords) -> list[str]:
    high, low = _cardinal(n // 100, numbers), n % 100
    if low == 0:
        return numbers.year_round.format(high=high).split()
    form = numbers.year_small if low < 10 else numbers.year
    return form.format(high=high, low=_cardinal(low, numbers)).split()


def _clock(body: str, numbers: NumberWords) -> list[str]:
    hour, minutes = (int(part) for part in body.split(":"))
    if minutes == 0:
        form = numbers.clock_full_hour
    else:
        form = numbers.clock_small if minutes < 10 else numbers.clock
    return form.format(hour=_cardinal(hour, numbers), minutes=_cardinal(minutes, numbers)).split()


def _ordinal(said: list[str], numbers: NumberWords) -> list[str]:
    last = said[-1]
    if last in numbers.ordinal_words:
        last = numbers.ordinal_words[last]
    elif last.endswith("y"):
        last = last[:-1] + numbers.ordinal_y_ending
    else:
        last += numbers.ordinal_ending
    return said[:-1] + [last]


def _cardinal(n: int, numbers: NumberWords) -> str:
    if n < 20:
        return numbers.small[n]
    if n < 100:
        tens, unit = numbers.tens[n // 10 - 2], n % 10
        return tens if unit == 0 else numbers.tens_and_unit.format(tens=tens, unit=_compound_unit(unit, numbers))
    for size, form in ((1_000_000, numbers.millions), (1000, numbers.thousands), (100, numbers.hundreds)):
        if n >= size:
            rest = _cardinal(n % size, numbers) if n % size else ""
            head = _cardinal(n // size, numbers)
            return form.format(unit=numbers.in_compound.get(head, head), rest=rest).strip()
    raise AssertionError(n)  # unreachable: n >= 100 took the last size


def _compound_unit(n: int, numbers: NumberWords) -> str:
    word = numbers.small[n]
    return numbers.in_compound.get(word, word)


@functools.cache
def number_words(lang: str) -> NumberWords | None:
    """The language's number words, or None (numerals then stay digits)."""
    table = tomllib.loads(resources.files("voicesim").joinpath("data/second_pass/numbers.toml").read_text("utf-8"))
    entry = table.get(lang)
    if entry is None:
        return None
    return NumberWords(
        small=tuple(entry["small"]),
        tens=tuple(entry["tens"]),
        tens_and_unit=entry["tens_and_unit"],
        hundreds=entry["hundreds"],
        thousands=entry["thousands"],
        millions=entry["millions"],
        in_compound=dict(entry.get("in_compound", {})),
        point=entry["point"],
        decimal_mark=entry["decimal_mark"],
        group_mark=entry["group_mark"],
        percent=entry["percent"],
        currency=dict(entry.get("currency", {})),
        year=entry["year"],
        year_round=entry["year_round"],
        year_small=entry["year_small"],
        year_ranges=tuple(tuple(r) for r in entry.get("year_ranges", ())),
        year_number_ranges=tuple(tuple(r) for r in entry.get("year_number_ranges", ())),
        clock=entry["clock"],
        clock_small=entry["clock_small"],
        clock_full_hour=entry["clock_full_hour"],
        ordinal_suffixes=tuple(entry.get("ordinal_suffixes", ())),
        ordinal_words=dict(entry.get("ordinal_words", {})),
        ordinal_ending=entry.get("ordinal_ending", ""),
        ordinal_y_ending=entry.get("ordinal_y_ending", ""),
        words=dict(entry.get("words", {})),
    )
