"""Scenario files: every shipped one validates and loads; broken ones report the right file and line."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from voicesim.errors import VoicesimError
from voicesim.scenario import (
    ANGER_LEVELS,
    ENDINGS,
    REACTIONS,
    REPO_SCENARIOS,
    STAGES,
    find_scenario,
    list_scenarios,
    load_scenario,
    scenario_files,
    scenario_version,
    validate,
)

SHIPPED = scenario_files([REPO_SCENARIOS])
"""The shipped scenario files (scenarios/packs/ holds benchmark packs, not scenarios)."""
LATE = REPO_SCENARIOS / "en" / "late-delivery.toml"


def line_no(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


def broken_copy(tmp_path: Path, old: str, new: str, name: str = "late-delivery") -> tuple[Path, str]:
    text = LATE.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path, text


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_scenario_validates_and_loads(path: Path) -> None:
    assert validate(path) == []
    scenario = load_scenario(path)
    assert scenario.lang == path.parent.name
    assert scenario.id == path.stem


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_scenario_has_variants_in_every_slot(path: Path) -> None:
    """Several variants per slot so two calls on one scenario do not sound alike."""
    s = load_scenario(path)
    slots = {f"opening.{lvl}": s.opening[lvl] for lvl in ANGER_LEVELS}
    slots |= {f"stages.{st}.{lvl}": s.stages[st][lvl] for st in STAGES for lvl in ANGER_LEVELS}
    slots |= {f"reactions.{r}": s.reactions[r] for r in REACTIONS}
    slots |= {f"endings.{e}": s.endings[e] for e in ENDINGS}
    thin = [slot for slot, lines in slots.items() if len(set(lines)) < 2]
    assert thin == []
    assert len(s.facts) >= 3


@pytest.mark.parametrize("lang", ["en", "de"])
def test_six_everyday_complaints_per_language(lang: str) -> None:
    scenarios = list_scenarios(lang, dirs=[REPO_SCENARIOS])
    assert len(scenarios) >= 6
    assert {s.company_at_fault for s in scenarios} == {True, False}


ONE_PROBLEM = [
    # (file name, text replaced, replacement, text of the line reported, fragment of the message)
    ("late-delivery", 'title = "Late delivery', "title = Late delivery", "title = Late delivery", "TOML syntax error"),
    ("late-delivery", 'variant = "f3"\n', "", "[persona.voice]", "missing key 'variant' in [persona.voice]"),
    ("late-delivery", "company_at_fault = true", 'company_at_fault = "yes"', "company_at_fault", "must be true or false"),
    ("late-delivery", 'topic = "tracking"', "topic = 7", "topic = 7", "'facts[4].topic' must be a non-empty string"),
    ("renamed", "", "", 'id = "late-delivery"', "must match the file name 'renamed.toml'"),
]


@pytest.mark.parametrize(("name", "old", "new", "at", "fragment"), ONE_PROBLEM, ids=lambda v: str(v)[:24])
def test_one_problem_with_file_and_line(tmp_path: Path, name: str, old: str, new: str, at: str, fragment: str) -> None:
    path, text = broken_copy(tmp_path, old, new, name=name)
    [problem] = validate(path)
    assert (problem.file, problem.line) == (str(path), line_no(text, at))
    assert fragment in problem.message


def test_unterminated_array_at_end_reports_a_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.toml"
    path.write_text('id = "cut"\nlines = [\n  "one",\n', encoding="utf-8")
    [problem] = validate(path)
    assert 1 <= problem.line <= 4
    assert "TOML syntax error" in problem.message


def test_missing_top_level_key_points_at_line_one(tmp_path: Path) -> None:
    path, _ = broken_copy(tmp_path, "company_at_fault = true\n", "")
    [problem] = validate(path)
    assert (problem.line, "missing key 'company_at_fault'" in problem.message) == (1, True)


def test_unknown_anger_level_points_at_the_key(tmp_path: Path) -> None:
    text = LATE.read_text(encoding="utf-8")
    start = text.index("[stages.details]")
    fixed = text[:start] + text[start:].replace("angry = [", "furious = [", 1)
    path = tmp_path / "late-delivery.toml"
    path.write_text(fixed, encoding="utf-8")
    problems = validate(path)
    messages = {p.message.split(" in ")[0]: p.line for p in problems}
    assert messages["unknown anger level 'furious'"] == line_no(fixed, "furious = [")
    assert messages["missing anger level 'angry'"] == line_no(fixed, "[stages.details]")


def test_empty_line_list_points_at_the_key(tmp_path: Path) -> None:
    text = LATE.read_text(encoding="utf-8")
    start = text.index("silence = [")
    end = text.index("]", start) + 1
    path = tmp_path / "late-delivery.toml"
    path.write_text(text[:start] + "silence = []" + text[end:], encoding="utf-8")
    [problem] = validate(path)
    assert problem.line == line_no(text, "silence = [")
    assert "empty list" in problem.message


def test_several_problems_each_with_its_line(tmp_path: Path) -> None:
    path, text = broken_copy(tmp_path, "rate = 185", "rate = 2000")
    text = re.sub(r"start_anger = \d+", "start_anger = -1", text)
    path.write_text(text, encoding="utf-8")
    lines = sorted(p.line for p in validate(path))
    assert lines == sorted([line_no(text, "start_anger = -1"), line_no(text, "rate = 2000")])


def test_load_broken_file_raises_one_line_with_file_and_line(tmp_path: Path) -> None:
    path, text = broken_copy(tmp_path, "company_at_fault = true", "company_at_fault = 1")
    with pytest.raises(VoicesimError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}:{line_no(text, 'company_at_fault = 1')}: ")
    assert "\n" not in str(info.value)


def test_find_unknown_id_lists_the_known_ones() -> None:
    with pytest.raises(VoicesimError) as info:
        find_scenario("no-such-call", dirs=[REPO_SCENARIOS])
    message = str(info.value)
    assert "no-such-call" in message
    assert all(p.stem in message for p in SHIPPED)


def test_find_with_the_wrong_language_says_so() -> None:
    with pytest.raises(VoicesimError) as info:
        find_scenario("late-delivery", lang="de", dirs=[REPO_SCENARIOS])
    assert "'en'" in str(info.value) and "internet-stoerung" in str(info.value)


def test_env_folder_adds_and_overrides_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = broken_copy(tmp_path, 'title = "Late delivery: the birthday present that never came"', 'title = "House copy"')
    monkeypatch.setenv("VOICESIM_SCENARIOS_DIR", str(tmp_path))
    assert find_scenario("late-delivery").title == "House copy"
    titles = {s.id: s.title for s in list_scenarios("en")}
    assert titles["late-delivery"] == "House copy"
    assert find_scenario("internet-outage").path.parent == REPO_SCENARIOS / "en"


def test_version_is_the_sha256_of_the_bytes_and_follows_edits(tmp_path: Path) -> None:
    scenario = load_scenario(LATE)
    assert scenario.version == scenario_version(LATE) == hashlib.sha256(LATE.read_bytes()).hexdigest()
    edited, _ = broken_copy(tmp_path, "rate = 185", "rate = 186")
    assert scenario_version(edited) != scenario.version


def test_persona_voice_maps_onto_the_tts_settings() -> None:
    from voicesim.tts import VoiceSettings

    for path in SHIPPED:
        scenario = load_scenario(path)
        settings = scenario.voice_settings()
        assert isinstance(settings, VoiceSettings)
        voice = scenario.persona.voice
        assert (settings.rate, settings.pitch, settings.volume, settings.variant, settings.lang) == (
            voice.rate, voice.pitch, voice.volume, voice.variant, scenario.lang,
        )  # fmt: skip


def test_every_persona_speaks_with_a_variant_espeak_ng_has() -> None:
    """The persona's variant must exist, or espeak-ng would quietly fall back to its default voice."""
    import subprocess

    from voicesim.tts import synthesize

    listing = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    variants = {line.split()[-1].removeprefix("!v/") for line in listing.splitlines()[1:] if line.strip()}
    for path in SHIPPED:
        scenario = load_scenario(path)
        assert scenario.persona.voice.variant in variants, path
        line = scenario.opening["angry"][0]
        audio = synthesize(line, lang=scenario.lang, voice=scenario.voice_settings(), phone_line=False)
        assert audio.duration_s > 0.1 * len(line.split()), path
