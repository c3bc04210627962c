"""Whisper's written words in the spoken form Vosk writes: lower case, no punctuation, numbers as words.

>>> from voicesim.spoken_form import spoken_text, spoken_words
>>> spoken_words(" $45.50,", "en")
['forty', 'five', 'dollars', 'fifty']
>>> spoken_words("10001-90210", "en")[:6]
['one', 'zero', 'zero', 'zero', 'one', 'nine']
>>> spoken_words("21st", "en"), spoken_words("1961", "en"), spoken_words("3:05", "en")
(['twenty', 'first'], ['nineteen', 'sixty', 'one'], ['three', 'oh', 'five'])
>>> spoken_text("Am 24.12. kostet es 9,99 €", "de")
'am vierundzwanzigsten zwölften kostet es neun euro neunundneunzig'

Whisper writes what it hears the way a person types it ("$45", "3:30", "21st", "10,000",
"1961", "Mr.", "follow-up", "am 3. Mai", "9,99 €"). The live ear (Vosk), the checklist's
word patterns, the debrief's quotes and a reviewer's spoken-form reference all have words
there, so the second pass says them out. Which reading a numeral gets is a guess at what
the caller said, made the way people read numbers on the phone: up to 999 as a number,
4-digit years in pairs, comma-grouped amounts as a number, prices with the currency
between the units and the cents, short ranges ("3-5") with "to", other long or 0-led
numerals (order, postal, phone numbers) and hyphen-joined groups digit by digit; German
dotted dates and ordinals as inflected ordinals ("am dritten mai"). A currency, scale
("million") or "Uhr" written as the next word is said with the numeral, so the written
words are read in runs (`spoken_runs`). How a language says numbers is
data (data/second_pass/numbers.toml); a language missing there keeps digits.
Pure: text in, words out.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

# A piece of a written word: a numeral with its signs and letters ("3pm", "£3.2bn"), a run
# of letters (inner apostrophes kept: "don't"), or a sign said as a word. Anything else
# (punctuation, hyphens, dots of "p.m.") only separates pieces.
_PIECE = re.compile(
    r"[$€£]?\d(?:[\d,.:/-]*\d)?[,.:/-]?[^\W\d_]*%?[$€£]?"  # "$45.50", "21st", "10001-90210", "3:30", "5k"
    r"|[^\W\d_]+(?:'[^\W\d_]+)*"  # "don't", "p", "m"
    r"|[$€£%&]"  # a sign on its own: "50 €"
)
_NUMERAL = re.compile(
    r"(?P<pre>[$€£]?)(?P<body>\d(?:[\d,.:/-]*\d)?)(?P<mark>[,.:/-]?)(?P<suffix>[^\W\d_]*)(?P<percent>%?)(?P<post>[$€£]?)"
)
# A written word that is one numeral and nothing after it, so the next word may be said with it.
_BARE_NUMERAL = re.compile(r"[$€£]?\d(?:[\d,.:/-]*\d)?[^\W\d_]*%?[$€£]?")
_DATE = re.compile(r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})(?:\.(?P<year>\d{4}|\d{2}))?")
_PUNCTUATION = ".,;:!?\"'()[]…"


@dataclass(frozen=True)
class Currency:
    """How an amount in one currency is said."""

    one: str
    """After exactly 1 ("dollar")."""
    many: str
    """After any other amount ("dollars")."""
    cent: str
    """After 1 hundredth alone ("cent")."""
    cents: str
    """After other hundredths alone ("$0.99": "cents")."""


@dataclass(frozen=True)
class NumberWords:
    """How one language says what Whisper writes with digits and signs (one table of numbers.toml)."""

    small: tuple[str, ...]
    """0 to 19."""
    tens: tuple[str, ...]
    """20, 30, ... 90."""
    tens_and_unit: str
    """Format of 21-99 from {tens} and {unit}, e.g. "{tens} {unit}"."""
    scales: tuple[tuple, ...]
    """(size, format from {unit} and {rest}, optional format from {rest} when the unit is 1), largest first."""
    point: str
    """The decimal point as said."""
    decimal_mark: str
    """How the decimal point is written ("." in English, "," in German)."""
    group_mark: str
    """How thousands are grouped ("," in English, "." in German)."""
    percent: str
    year: str
    """Format of a 4-digit year said in pairs, from {high} and {low} ("nineteen sixty one")."""
    year_round: str
    """... whose low pair is 00 ("nineteen hundred")."""
    year_small: str
    """... whose low pair is 01-09 ("nineteen oh five")."""
    clock: str
    """Format of a time h:mm from {hour} and {minutes}."""
    clock_small: str
    """... when the minutes are 01-09."""
    clock_full_hour: str
    """... when the minutes are 00."""
    range_word: str
    """Said between the ends of a range "3-5"."""
    in_compound: dict[str, str] = field(default_factory=dict)
    """Unit words that change inside a compound number (German "eins" -> "ein")."""
    counted: dict[str, str] = field(default_factory=dict)
    """Number words that change before what they count (German "eins" -> "ein euro")."""
    scale_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """A scale written after a numeral -> (said for exactly 1, said after other numbers)."""
    sign_scale_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """... counted only after a currency sign ("$1.5m")."""
    currency: dict[str, Currency] = field(default_factory=dict)
    """Currency sign -> how its amounts are said."""
    currency_words: dict[str, str] = field(default_factory=dict)
    """A currency written as a word -> its sign."""
    year_ranges: tuple[tuple[int, ...], ...] = ()
    """Years said in pairs; other 4-digit numerals are amounts or digit strings."""
    year_number_ranges: tuple[tuple[int, ...], ...] = ()
    """Years said as a number ("two thousand five")."""
    clock_word: str = ""
    """A word after a time that the clock formats already say (German "Uhr")."""
    clock_after: tuple[str, ...] = ()
    """Words after which h.mm is a time ("um 14.30")."""
    dotted_ordinals: bool = False
    """Ordinals and dates are written with dots ("3.", "24.12.")."""
    ordinal_after: dict[str, str] = field(default_factory=dict)
    """Words after which "3." is an ordinal -> the ending it then takes."""
    ordinal_after_preposition: dict[str, str] = field(default_factory=dict)
    """... the ending instead when that word follows one of `prepositions`."""
    prepositions: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    """Month names before which "3." is an ordinal."""
    ordinal_default_ending: str = ""
    """The ending of a dotted ordinal before a month or in a date with no word of `ordinal_after` before it."""
    ordinal_suffixes: dict[str, str] = field(default_factory=dict)
    """What follows digits to make an ordinal ("21st") -> the ending it carries."""
    ordinal_words: dict[str, str] = field(default_factory=dict)
    """Ends of a cardinal with their own ordinal ("one" -> "first")."""
    ordinal_ending: str = ""
    """Added to any other cardinal ("six" -> "sixth")."""
    ordinal_y_ending: str = ""
    """Replaces a final "y" ("twenty" -> "twentieth")."""
    times_of_day: tuple[str, ...] = ()
    """Letters after which h.mm is a time ("3.30pm")."""
    plural_suffix: str = ""
    """Letters that make a round number plural ("1990s"), and the ending it then takes."""
    plural_y_ending: str = ""
    """... in place of a final "y" ("nineties")."""
    units: dict[str, str] = field(default_factory=dict)
    """Letters written onto a numeral -> how they are said ("3pm": "p m")."""
    words: dict[str, str] = field(default_factory=dict)
    """Written abbreviations and signs -> how they are said ("mr" -> "mister", "&" -> "and")."""


@dataclass(frozen=True)
class Near:
    """The written words around a numeral, bare and lower case: what tells "am 3." from "kostet 3."."""

    before: tuple[str, ...]
    """Up to two words before it, in order."""
    after: str
    """The word after it ("" at the end)."""


@dataclass(frozen=True)
class Said:
    """The spoken words of a run of written words said together ("9,99" "€": neun euro neunundneunzig)."""

    first: int
    """Index of the run's first written word."""
    end: int
    """Index after its last written word."""
    words: tuple[str, ...]


def spoken_runs(written: Sequence[str], lang: str) -> list[Said]:
    """Whisper's written words, in order, as the words Vosk would write for them in `lang`."""
    numbers = number_words(lang)
    tokens = [w.lower().replace("\u2019", "'").replace("\u2013", "-").strip() for w in written]
    runs: list[Said] = []
    i = 0
    while i < len(tokens):
        if numbers is None:
            end, text = i + 1, tokens[i]
            said = [piece for piece in _PIECE.findall(text) if piece[0].isalnum()]
        else:
            end, text = _joined(tokens, i, numbers)
            said = _said(text, numbers, _near(tokens, i, end))
        runs.append(Said(i, end, tuple(said)))
        i = end
    return runs


def spoken_words(written: str, lang: str) -> list[str]:
    """The words Vosk would write for one written Whisper word in `lang` (possibly none, possibly several)."""
    return [word for run in spoken_runs([written], lang) for word in run.words]


def spoken_text(text: str, lang: str) -> str:
    """A whole written text in spoken form, words joined by one space."""
    return " ".join(word for run in spoken_runs(text.split(), lang) for word in run.words)


def _bare(token: str) -> str:
    return token.strip(_PUNCTUATION)


def _near(tokens: list[str], first: int, end: int) -> Near:
    return Near(tuple(_bare(t) for t in tokens[max(0, first - 2) : first]), _bare(tokens[end]) if end < len(tokens) else "")


def _joined(tokens: list[str], i: int, numbers: NumberWords) -> tuple[int, str]:
    """Where the run from written word i ends, and its words written as one ("9,99" "€" -> "9,99€")."""
    text, end = tokens[i], i + 1
    sign = text if text in numbers.currency else numbers.currency_words.get(text, "")
    if sign and end < len(tokens) and _BARE_NUMERAL.fullmatch(tokens[end]):
        text, end = sign + tokens[end], end + 1  # "€ 9,99", "EUR 100"
    while end < len(tokens) and _BARE_NUMERAL.fullmatch(text) and (tail := _tail(text, _bare(tokens[end]), numbers)):
        text, end = text + tail, end + 1
    return end, text


def _tail(numeral: str, word: str, numbers: NumberWords) -> str:
    """What `word` adds when said with the numeral before it ("" if it is a word of its own)."""
    signed, lettered = re.search(r"[$€£%]", numeral), re.search(r"[^\W\d_]", numeral)
    if word in numbers.scale_words and not lettered and numeral[-1].isdigit():
        return word  # "$1.5 million", "2 Millionen"
    # A currency word moves only to be said between units and cents ("9,99 Euro"): "25 pound fee" stays.
    cents = re.search(rf"{re.escape(numbers.decimal_mark)}\d\d$", numeral)
    sign = word if word in numbers.currency else (numbers.currency_words.get(word, "") if cents else "")
    if sign and not signed:
        return sign  # "9,99 €", "9,99 Euro", "2,5 Millionen €"
    if (word == "%" and not signed) or (word in numbers.units and not lettered):
        return word  # "50 %", "3 pm"
    if word and word == numbers.clock_word and not lettered:
        return word  # "14:30 Uhr"
    return ""


def _said(text: str, numbers: NumberWords, near: Near) -> list[str]:
    """One run, written as one word, as said."""
    if (abbreviation := numbers.words.get(_bare(text))) is not None:
        return abbreviation.split()  # "Mr.", "z.B.", "&"
    out: list[str] = []
    for piece in _PIECE.findall(text):
        if piece[0].isdigit() or (len(piece) > 1 and piece[1].isdigit()):
            out += _numeral(piece, numbers, near)
        else:
            out += numbers.words.get(piece, piece if piece[0].isalpha() else "").split()
    return out


def _numeral(piece: str, numbers: NumberWords, near: Near) -> list[str]:
    """One numeral with its signs and letters as said: "$45.50" -> forty five dollars fifty."""
    match = _NUMERAL.fullmatch(piece)
    if match is None:  # stray marks after the digits that no reading takes
        return _digits(re.sub(r"\D", "", piece), numbers)
    body, suffix = match["body"], match["suffix"]
    currency = numbers.currency.get(match["pre"] or match["post"])
    if suffix in numbers.ordinal_suffixes and body.isdigit():
        return _ordinal(int(body), numbers, numbers.ordinal_suffixes[suffix])
    scale = numbers.scale_words.get(suffix) or (numbers.sign_scale_words.get(suffix) if currency else None)
    if scale:  # "$1.5 million": the currency after the scale
        return _scaled(body, scale, numbers) + _percent(match, numbers) + ([currency.many] if currency else [])
    if suffix and suffix == numbers.clock_word and (clock := _times(body, numbers, marks=":.")):
        return clock  # "14:30 Uhr", "14.30 Uhr": the clock's form says "uhr" already
    if suffix in numbers.times_of_day and (clock := _times(body, numbers, marks=":.")):
        return clock + _letters(suffix, numbers)  # "3.30pm"
    said = _money(body, currency, numbers) if currency else _plain(body, match["mark"], numbers, near)
    if suffix and suffix == numbers.plural_suffix and body.endswith("0") and not currency:
        return _plural(said, numbers)  # "the 1990s": nineteen nineties
    after = _percent(match, numbers) + _letters(suffix, numbers)  # "10%", "3pm", "$12.99/month"
    return _counted(said, numbers) + after if after else said


def _letters(suffix: str, numbers: NumberWords) -> list[str]:
    """Letters written onto a numeral, as said after it."""
    return (numbers.units.get(suffix) or numbers.words.get(suffix, suffix)).split()


def _plural(said: list[str], numbers: NumberWords) -> list[str]:
    last = said[-1]
    last = last[:-1] + numbers.plural_y_ending if last.endswith("y") else last + numbers.plural_suffix
    return said[:-1] + [last]


def _percent(match: re.Match, numbers: NumberWords) -> list[str]:
    return [numbers.percent] if match["percent"] else []


def _counted(said: list[str], numbers: NumberWords) -> list[str]:
    """A number before what it counts ("ein euro")."""
    return [numbers.counted.get(said[0], said[0])] if len(said) == 1 else said


def _plain(body: str, mark: str, numbers: NumberWords, near: Near) -> list[str]:
    """A numeral without currency or scale: a range, digit string, time, date, ordinal or amount."""
    if clock := _times(body, numbers, marks=":"):
        return clock
    if re.search(r"\d[-/]\d", body):
        return (mark != "-" and _range(body, numbers)) or _digits(re.sub(r"\D", "", body), numbers)
    if near.before and near.before[-1] in numbers.clock_after and (clock := _times(body, numbers, marks=":.")):
        return clock  # "um 14.30"
    if numbers.dotted_ordinals:
        if date := _date(body, mark, numbers, near):
            return date
        if mark == "." and body.isdigit() and (ending := _dotted_ending(near, numbers)) is not None:
            return _ordinal(int(body), numbers, ending)  # "am 3. Mai"
    return _amount(body, numbers)


def _amount(body: str, numbers: NumberWords) -> list[str]:
    """A numeral as a number, perhaps grouped or with decimals ("two point five")."""
    digits, grouped, fraction = _parts(body, numbers)
    return _integer(digits, numbers, grouped) + ([numbers.point] + _digits(fraction, numbers) if fraction else [])


def _range(body: str, numbers: NumberWords) -> list[str] | None:
    """ "3-5" as "three to five"; longer, 0-led or lopsided groups (postal, order, phone numbers) are not ranges."""
    match = re.fullmatch(r"([1-9]\d{0,2})-([1-9]\d{0,2})", body)
    if match is None or int(match[1]) >= int(match[2]) or len(match[2]) > len(match[1]) + 1:
        return None  # "24-7", "9-5", "1-800": not read as a range
    low, high = (_cardinal(int(end), numbers).split() for end in match.groups())
    return _counted(low, numbers) + [numbers.range_word] + high


def _parts(body: str, numbers: NumberWords) -> tuple[str, bool, str]:
    """A numeral's whole digits, whether they were grouped ("10,000"), and its decimals."""
    whole, mark, fraction = body.rpartition(numbers.decimal_mark)
    if not mark and re.fullmatch(rf"\d+{re.escape(numbers.group_mark)}\d\d?", body):
        whole, mark, fraction = body.rpartition(numbers.group_mark)  # "2.5" in German text: no group, a decimal
    if not mark or not fraction.isdigit() or _grouped(body, numbers):
        whole, fraction = body, ""  # "10,000": the only mark groups thousands
    grouped = _grouped(whole, numbers)
    return (whole.replace(numbers.group_mark, "") if grouped else re.sub(r"\D", "", whole)), grouped, fraction


def _money(body: str, currency: Currency, numbers: NumberWords) -> list[str]:
    """An amount said the way prices are: "forty five dollars fifty", "neun euro neunundneunzig", "ninety nine cents"."""
    if spread := _range(body, numbers):
        return spread + [currency.many]  # "$100-200"
    digits, grouped, fraction = _parts(body, numbers)
    if len(fraction) != 2:  # "$1.5", "$45": no cents
        return _counted(_amount(body, numbers), numbers) + [currency.one if body == "1" else currency.many]
    cents = int(fraction)
    if int(digits) == 0 and cents:
        return _counted(_cardinal(cents, numbers).split(), numbers) + [currency.cent if cents == 1 else currency.cents]
    unit = currency.one if int(digits) == 1 else currency.many
    return _counted(_integer(digits, numbers, grouped), numbers) + [unit] + (_cardinal(cents, numbers).split() if cents else [])


def _scaled(body: str, scale: tuple[str, ...], numbers: NumberWords) -> list[str]:
    """A numeral before a scale word: "1.5 million", "eine million", "zwei millionen"."""
    return scale[0].split() if body == "1" else _amount(body, numbers) + scale[1].split()


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


def _times(body: str, numbers: NumberWords, marks: str) -> list[str]:
    """A time, or two joined by a hyphen ("9:00-17:00": neun uhr bis siebzehn uhr); [] if it is none."""
    first, hyphen, second = body.partition("-")
    if not hyphen:
        return _clock(body, numbers, marks)
    said = _clock(first, numbers, marks), _clock(second, numbers, marks)
    return said[0] + [numbers.range_word] + said[1] if all(said) else []


def _clock(body: str, numbers: NumberWords, marks: str) -> list[str]:
    """A time h:mm (or h.mm where a clock word says it is one) as said; [] if it is none."""
    match = re.fullmatch(rf"(\d{{1,2}})[{marks}](\d\d)", body)
    if match is None or (marks != ":" and (int(match[1]) > 24 or int(match[2]) > 59)):
        return []
    hour, minutes = int(match[1]), int(match[2])
    if minutes == 0:
        form = numbers.clock_full_hour
    else:
        form = numbers.clock_small if minutes < 10 else numbers.clock
    hour_said = " ".join(_counted([_cardinal(hour, numbers)], numbers))  # "ein uhr"
    return form.format(hour=hour_said, minutes=_cardinal(minutes, numbers)).split()


def _date(body: str, mark: str, numbers: NumberWords, near: Near) -> list[str]:
    """A dotted date ("24.12.", "2.5.", "24.12.2026") as said: both as ordinals, then the year; [] if none."""
    match = _DATE.fullmatch(body)
    ending = _dotted_ending(near, numbers)
    if match is None or not (mark == "." or match["year"] or ending is not None):  # "am 2.5" lost its last dot
        return []
    day, month, year = int(match["day"]), int(match["month"]), match["year"]
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return []
    ending = numbers.ordinal_default_ending if ending is None else ending
    said = _ordinal(day, numbers, ending) + _ordinal(month, numbers, ending)
    return said + (_integer(year, numbers, grouped=False) if year else [])


def _dotted_ending(near: Near, numbers: NumberWords) -> str | None:
    """The ending of "3." as an ordinal in this place, or None where it is a number ending a sentence."""
    before = near.before[-1] if near.before else ""
    if before in numbers.ordinal_after:
        after_preposition = len(near.before) > 1 and near.before[-2] in numbers.prepositions
        if after_preposition and before in numbers.ordinal_after_preposition:
            return numbers.ordinal_after_preposition[before]
        return numbers.ordinal_after[before]
    return numbers.ordinal_default_ending if near.after in numbers.months else None


def _ordinal(n: int, numbers: NumberWords, ending: str) -> list[str]:
    """n as an ordinal with its case ending: "twenty first", "dritten"."""
    said = _cardinal(n, numbers)
    own = [word for word in numbers.ordinal_words if said.endswith(word)]
    if own:
        word = max(own, key=len)
        said = said[: -len(word)] + numbers.ordinal_words[word]
    elif said.endswith("y") and numbers.ordinal_y_ending:
        said = said[:-1] + numbers.ordinal_y_ending
    else:
        said += numbers.ordinal_ending
    return (said + ending).split()


def _cardinal(n: int, numbers: NumberWords) -> str:
    if n < 20:
        return numbers.small[n]
    if n < 100:
        tens, unit = numbers.tens[n // 10 - 2], n % 10
        return tens if unit == 0 else numbers.tens_and_unit.format(tens=tens, unit=_compound_unit(unit, numbers))
    for size, form, *form_one in numbers.scales:
        if n >= size:
            rest = _cardinal(n % size, numbers) if n % size else ""
            if n // size == 1 and form_one:
                return " ".join(form_one[0].format(rest=rest).split())  # "eine million"
            head = _cardinal(n // size, numbers)
            return " ".join(form.format(unit=numbers.in_compound.get(head, head), rest=rest).split())
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
    values = {key: _frozen(value) for key, value in entry.items()}
    values["currency"] = {sign: Currency(**said) for sign, said in entry.get("currency", {}).items()}
    return NumberWords(**values)


def _frozen(value):
    """TOML's lists as tuples, so a language's table cannot be changed by its users."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return {key: _frozen(item) for key, item in value.items()}
    return value
