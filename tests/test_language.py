"""Language packs: loading, the unknown-language error, and what every pack must carry."""

from __future__ import annotations

import dataclasses
import doctest
import re

import pytest

import voicesim.language
from voicesim.errors import VoicesimError
from voicesim.language import TEXT_CHECK_IDS, _build_pack, available_languages, load_language


def test_module_example_works():
    assert doctest.testmod(voicesim.language).failed == 0


def test_bundled_languages():
    assert available_languages() == ["de", "en"]


def test_unknown_language_names_the_available_ones():
    with pytest.raises(VoicesimError) as err:
        load_language("xx")
    assert str(err.value) == "unknown language 'xx'; available: de, en"


def test_pack_is_loaded_once_and_immutable():
    pack = load_language("en")
    assert load_language("en") is pack
    with pytest.raises(dataclasses.FrozenInstanceError):
        pack.code = "de"  # type: ignore[misc]
    with pytest.raises(TypeError):
        pack.checks["apology"] = None  # type: ignore[index]


@pytest.mark.parametrize("lang", ["en", "de"])
def test_pack_carries_every_text_check_with_tips(lang):
    pack = load_language(lang)
    assert tuple(pack.checks) == TEXT_CHECK_IDS
    for rules in pack.checks.values():
        assert rules.cues, f"{lang} {rules.check_id} has no cues"
        assert rules.tips["pass"] and rules.tips["fail"]
        assert {"pass"} <= set(rules.reasons)


@pytest.mark.parametrize("lang", ["en", "de"])
def test_stopwords_and_fillers(lang):
    pack = load_language(lang)
    assert 50 <= len(pack.stopwords) <= 80
    assert {"en": "uh", "de": "äh"}[lang] in pack.fillers
    assert not pack.fillers & {"the", "der", "die", "das"}


@pytest.mark.parametrize("lang,other", [("en", "de"), ("de", "en")])
def test_tips_are_written_in_the_packs_language(lang, other):
    """A check's tips use more of their own language's common words than of the other's."""
    pack, other_pack = load_language(lang), load_language(other)
    for rules in pack.checks.values():
        words = re.findall(r"\w+", " ".join(rules.tips.values()).casefold())
        own = sum(w in pack.stopwords for w in words)
        foreign = sum(w in other_pack.stopwords for w in words)
        assert own > 2 * foreign, (lang, rules.check_id, rules.tips)


def test_other_sections_stay_readable():
    """Stages that own other sections of the lang file (e.g. [calm_tone]) read them through `sections`."""
    pack = load_language("en")
    assert pack.sections["language"]["name"] == "English"


def test_a_broken_lang_file_names_the_file_and_the_fix():
    data = {"language": {"name": "X", "stopwords": [], "fillers": []}, "negation": {"words": []}}
    with pytest.raises(VoicesimError, match=r"voicesim/data/lang/xx.toml has no \[understanding\] section"):
        _build_pack("xx", data, "voicesim/data/lang/xx.toml")


def _minimal_pack_data(apology_pattern: str) -> dict:
    sections = {c: {"tips": {"pass": "p", "fail": "f"}, "reasons": {"pass": "p"}} for c in TEXT_CHECK_IDS}
    sections["apology"]["cues"] = [{"pattern": apology_pattern}]
    return {"language": {"name": "X", "stopwords": [], "fillers": []}, "negation": {"words": []}, **sections}


def test_a_minimal_pack_builds():
    pack = _build_pack("xx", _minimal_pack_data("sorry"), "voicesim/data/lang/xx.toml")
    assert pack.checks["apology"].cues[0].regex.search("i am sorry")


def test_a_bad_pattern_names_the_pattern():
    data = _minimal_pack_data("sorry (for")
    with pytest.raises(VoicesimError, match=r"\[apology.cues\] pattern 'sorry \(for' is not a valid regex"):
        _build_pack("xx", data, "voicesim/data/lang/xx.toml")


def test_an_unknown_macro_is_named():
    data = _minimal_pack_data("<nosuch> sorry")
    with pytest.raises(VoicesimError, match=r"unknown macro <nosuch>"):
        _build_pack("xx", data, "voicesim/data/lang/xx.toml")
