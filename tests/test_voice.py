"""The customer's voice per persona: engine, anger you can hear, the disk cache of lines, `scenarios render`.

Real espeak-ng and real Piper throughout; loudness and pitch are measured on the audio by
voicesim.prosody, never read back from the settings.
"""

from __future__ import annotations

import csv
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli

from voicesim import line_cache
from voicesim.prosody import measure_tone
from voicesim.scenario import ANGER_LEVELS, find_scenario, list_scenarios
from voicesim.scenario_voice import (
    TSV_COLUMNS,
    likely_order,
    prepare_for_call,
    render_scenario,
    spoken_lines,
    unrendered,
    voice_settings,
)
from voicesim.tts import (
    ENGINE_ENV,
    VoiceSettings,
    clear_cache,
    line_cache_key,
    resolved_engine,
    synthesize,
)

REPO = Path(__file__).resolve().parents[1]
LINE = "I ordered this three weeks ago and nobody has told me where it is."


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Lines rendered here go to a folder of this module's, not the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(line_cache.CACHE_ENV, str(tmp_path_factory.mktemp("module-lines")))
        patch.delenv(ENGINE_ENV, raising=False)  # conftest makes the other tests hear espeak-ng
        yield


@pytest.fixture
def line_store(tmp_path, monkeypatch) -> Path:
    """An empty disk cache of lines, and an empty memory cache."""
    folder = tmp_path / "lines"
    monkeypatch.setenv(line_cache.CACHE_ENV, str(folder))
    clear_cache()
    yield folder
    clear_cache()


def cached_files(folder: Path) -> set[Path]:
    return set(folder.rglob("*.npy")) if folder.exists() else set()


def tone(text: str, voice: VoiceSettings):
    # Measured before the phone line: its 300 Hz high-pass leaves too little of a deep voice for the pitch tracker.
    return measure_tone(synthesize(text, voice=voice, phone_line=False), [])


# -- engines per persona


def test_every_persona_renders_with_its_engine():
    for scenario in list_scenarios():
        voice = voice_settings(scenario)
        assert voice.engine == scenario.persona.voice.engine
        assert resolved_engine(voice) == voice.engine, scenario.id
        first = scenario.opening["calm"][0]
        audio = synthesize(first, lang=scenario.lang, voice=voice)
        assert audio.duration_s > 0.15 * len(first.split()), scenario.id
        assert measure_tone(audio, []).speech_found, scenario.id


def test_english_personas_speak_piper_and_german_ones_espeak():
    engines = {s.lang: set() for s in list_scenarios()}
    for s in list_scenarios():
        engines[s.lang].add(s.persona.voice.engine)
    assert engines == {"en": {"piper"}, "de": {"espeak"}}


def test_a_language_without_a_piper_voice_falls_back_to_espeak():
    assert resolved_engine(VoiceSettings(engine="piper", lang="de")) == "espeak"


def test_piper_customers_do_not_sound_like_the_trainee_test_voice():
    """The trainee's test voice is Piper joe too: every persona on joe must be at least 2 semitones away."""
    from trainee_voice import speak

    trainee = measure_tone(speak(LINE), []).pitch_median_hz
    for scenario in list_scenarios(lang="en"):
        voice = voice_settings(scenario)
        closest = "angry" if voice.semitones < 0 else "calm"  # anger raises the pitch towards or away from joe's own
        customer = tone(LINE, replace(voice, anger=closest)).pitch_median_hz
        assert abs(12 * np.log2(customer / trainee)) >= 2.0, (scenario.id, customer, trainee)


# -- anger you can hear


@pytest.mark.parametrize("scenario_id", ["late-delivery", "internet-stoerung"])
def test_angry_is_louder_and_higher_than_annoyed_than_calm(scenario_id):
    scenario = find_scenario(scenario_id)
    voice = voice_settings(scenario)
    text = scenario.stages["details"]["annoyed"][0]
    tones = {level: tone(text, replace(voice, anger=level, lines=())) for level in ANGER_LEVELS}
    loud = [tones[level].loudness_dbfs for level in ANGER_LEVELS]
    pitch = [tones[level].pitch_median_hz for level in ANGER_LEVELS]
    assert loud[0] < loud[1] < loud[2], loud
    assert pitch[0] < pitch[1] < pitch[2], pitch


def test_each_scenario_line_is_spoken_at_its_own_anger():
    scenario = find_scenario("late-delivery")
    lines = spoken_lines(scenario)
    assert {line.kind for line in lines} == {"opening", "stage", "reaction", "ending", "fact"}
    blame = next(line for line in lines if line.slot.startswith("reactions.blame"))
    resolved = next(line for line in lines if line.slot.startswith("endings.resolved"))
    assert (blame.anger, resolved.anger) == ("angry", "calm")
    voice = voice_settings(scenario)
    assert tone(blame.text, voice).loudness_dbfs > tone(resolved.text, voice).loudness_dbfs + 4


# -- the disk cache


def test_a_scenario_line_is_rendered_once_then_read_from_disk(line_store):
    scenario = find_scenario("late-delivery")
    voice = voice_settings(scenario)
    text = scenario.opening["angry"][0]
    first = synthesize(text, voice=voice).samples.tobytes()
    files = cached_files(line_store)
    assert len(files) == 1
    stamp = next(iter(files)).stat().st_mtime_ns
    clear_cache()
    assert synthesize(text, voice=voice).samples.tobytes() == first
    assert next(iter(files)).stat().st_mtime_ns == stamp  # read, not written again


def test_a_changed_line_or_voice_renders_anew(line_store):
    scenario = find_scenario("late-delivery")
    voice = voice_settings(scenario)
    text = scenario.opening["angry"][0]
    synthesize(text, voice=voice)
    edited_text = text + " Again."
    edited = replace(voice, lines=voice.lines + ((edited_text, "angry"),))
    other_voice = replace(voice, semitones=voice.semitones - 1.0)
    keys = {line_cache_key(text, voice), line_cache_key(edited_text, edited), line_cache_key(text, other_voice)}
    assert len(keys) == 3
    synthesize(edited_text, voice=edited)
    lower = synthesize(text, voice=other_voice)
    assert len(cached_files(line_store)) == 3
    assert lower.samples.tobytes() != synthesize(text, voice=voice).samples.tobytes()


def test_text_that_is_no_scenario_line_is_not_kept_on_disk(line_store):
    synthesize("Just something said once.", persona="angry")
    assert not cached_files(line_store)


def test_deleting_the_cache_is_safe_and_gives_the_same_line(line_store):
    """Also the determinism check: a fresh render of a Piper line is the same, byte for byte."""
    scenario = find_scenario("double-charge")
    voice = voice_settings(scenario)
    text = scenario.endings["hung_up"][0]
    first = synthesize(text, voice=voice).samples.tobytes()
    for path in cached_files(line_store):
        path.unlink()
    clear_cache()
    assert synthesize(text, voice=voice).samples.tobytes() == first
    assert len(cached_files(line_store)) == 1


# -- no added latency: lines rendered before they are needed


def test_lines_are_warmed_in_the_order_a_call_needs_them():
    scenario = find_scenario("late-delivery")
    order = likely_order(scenario)
    assert sorted(line.text for line in order) == sorted(line.text for line in spoken_lines(scenario))
    kinds = [line.kind for line in order]
    assert order[0].kind == "opening" and order[0].slot.startswith("opening.angry")  # late-delivery starts angry
    assert kinds.index("stage") > max(i for i, k in enumerate(kinds) if k == "reaction")
    details = [i for i, line in enumerate(order) if line.slot.startswith("stages.details.")]
    closing = [i for i, line in enumerate(order) if line.slot.startswith("stages.closing.")]
    assert max(details) < min(closing) < kinds.index("ending")
    assert [line.anger for line in order if line.slot.startswith("stages.details.")][0] == "angry"


def test_a_first_live_call_renders_the_missing_piper_lines_before_it_starts(line_store):
    scenario = find_scenario("late-delivery")
    voice = voice_settings(scenario)
    # As if an earlier call had rendered all but the two shortest lines (Piper renders those in ~1 s).
    for line in sorted(spoken_lines(scenario), key=lambda line: len(line.text))[2:]:
        line_cache.store_line(line_cache_key(line.text, voice), np.zeros(1600, dtype=np.float32))
    said = []
    assert prepare_for_call(scenario, said.append, progress=False) == 2
    assert len(said) == 1 and "rendering its 2 lines once" in said[0], said
    assert unrendered(scenario) == []
    assert len(cached_files(line_store)) == len(spoken_lines(scenario))
    assert prepare_for_call(scenario, said.append, progress=False) == 0 and len(said) == 1  # nothing to say twice


def test_espeak_lines_are_rendered_when_needed_not_before_the_call(line_store, monkeypatch):
    monkeypatch.setenv(ENGINE_ENV, "espeak")
    said = []
    assert prepare_for_call(find_scenario("late-delivery"), said.append, progress=False) == 0
    assert said == [] and cached_files(line_store) == set()


# -- voicesim scenarios render / prepare


def test_render_writes_one_wav_per_line_and_the_tsv(line_store, tmp_path):
    import soundfile as sf

    scenario = find_scenario("internet-stoerung")
    out = tmp_path / "rendered"
    written = render_scenario(scenario, out, progress=False)
    with open(out / "lines.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert tuple(rows[0]) == TSV_COLUMNS
    lines = spoken_lines(scenario)
    assert [r["text"] for r in rows] == [line.text for line in lines]
    assert {r["anger"] for r in rows} == set(ANGER_LEVELS)
    assert {r["kind"] for r in rows} == {"opening", "stage", "reaction", "ending", "fact"}
    assert sorted(p.name for p in written) == sorted(r["file"] for r in rows)
    heard = synthesize(lines[0].text, lang=scenario.lang, voice=voice_settings(scenario)).samples
    samples, rate = sf.read(out / rows[0]["file"], dtype="float32")
    assert rate == 16000 and np.abs(samples - heard).max() < 1e-4  # 16-bit WAV of what the trainee hears


def cli(*args: str, env_extra: dict) -> subprocess.CompletedProcess:
    """`voicesim ARGS` in-process (tests/cli_runner.py), with `env_extra` added to the environment."""
    return run_cli(*args, env=env_extra)


def test_prepare_fills_the_cache_and_a_second_run_renders_nothing(tmp_path):
    env = {line_cache.CACHE_ENV: str(tmp_path / "lines")}
    first = cli("scenarios", "prepare", "reise-storniert", env_extra=env)
    assert first.returncode == 0, first.stderr
    count = len(spoken_lines(find_scenario("reise-storniert")))
    assert f"{count} lines rendered, 0 already cached" in first.stdout
    assert len(cached_files(tmp_path / "lines")) == count
    second = cli("scenarios", "prepare", "reise-storniert", env_extra=env)
    assert f"0 lines rendered, {count} already cached" in second.stdout


@pytest.mark.parametrize("args", [("render", "no-such-call", "--out", "x"), ("prepare", "no-such-call")])
def test_render_and_prepare_bad_id_is_one_error_line(args, tmp_path):
    proc = cli("scenarios", *args, env_extra={line_cache.CACHE_ENV: str(tmp_path)})
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voicesim: error:"), proc.stderr


def test_a_persona_engine_that_does_not_exist_is_reported_at_its_line(tmp_path):
    from voicesim.scenario import validate

    source = (REPO / "scenarios" / "en" / "late-delivery.toml").read_text(encoding="utf-8")
    broken = tmp_path / "late-delivery.toml"
    edited = re.sub(r"^semitones = .*$", "semitones = 9.0", source.replace('engine = "piper"', 'engine = "festival"'), flags=re.MULTILINE)
    broken.write_text(edited, encoding="utf-8")
    problems = [str(p) for p in validate(broken)]
    lines = source.splitlines()
    engine_line = next(n for n, text in enumerate(lines, 1) if text.startswith("engine ="))
    assert any(f":{engine_line}: " in p and "festival" in p for p in problems), problems
    assert any("semitones" in p and "-6.0 and 6.0" in p for p in problems), problems


def test_one_engine_for_every_persona_by_environment(monkeypatch):
    piper_voice = VoiceSettings(engine="piper", lang="en")
    monkeypatch.setenv(ENGINE_ENV, "espeak")
    assert resolved_engine(piper_voice) == "espeak"
    espeak_line = synthesize("Where is my parcel?", voice=piper_voice)
    monkeypatch.delenv(ENGINE_ENV)
    assert resolved_engine(piper_voice) == "piper"
    assert not np.array_equal(synthesize("Where is my parcel?", voice=piper_voice).samples, espeak_line.samples)


def test_an_unknown_engine_in_the_environment_is_one_clear_line(monkeypatch, cli, tmp_path):
    monkeypatch.setenv(ENGINE_ENV, "festival")
    proc = cli("say", "Where is my parcel?", "--out", str(tmp_path / "line.wav"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("voicesim: error: ") and ENGINE_ENV in line and "espeak" in line
