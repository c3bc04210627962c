"""`voicesim scenarios` as a user runs it: list, show and validate (in-process, tests/cli_runner.py)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from cli_runner import run_cli

from voicesim.scenario import REPO_SCENARIOS, scenario_files

SHIPPED = scenario_files([REPO_SCENARIOS])  # scenarios/packs/ holds benchmark packs, not scenarios


def voicesim(*args: str, scenarios_dir: Path | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, env={"VOICESIM_SCENARIOS_DIR": None if scenarios_dir is None else str(scenarios_dir)})


def assert_one_error_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voicesim: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


def test_list_json_is_every_scenario_sorted_by_language_and_id() -> None:
    proc = voicesim("scenarios", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["lang"], r["id"]) for r in rows] == sorted((p.parent.name, p.stem) for p in SHIPPED)
    assert all(set(r) == {"id", "lang", "title"} and r["title"] for r in rows)


def test_list_by_language_in_plain_text() -> None:
    proc = voicesim("scenarios", "list", "--lang", "de")
    assert proc.returncode == 0, proc.stderr
    ids = [line.split()[0] for line in proc.stdout.splitlines()]
    assert ids == sorted(p.stem for p in SHIPPED if p.parent.name == "de")


def test_list_is_byte_identical_across_runs() -> None:
    assert voicesim("scenarios", "list", "--json").stdout == voicesim("scenarios", "list", "--json").stdout


def test_validate_all_shipped_prints_one_ok_line() -> None:
    proc = voicesim("scenarios", "validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines() == [f"OK: {len(SHIPPED)} scenario files valid"]


def test_validate_reports_file_and_line_and_exits_1(tmp_path: Path) -> None:
    good = (REPO_SCENARIOS / "en" / "late-delivery.toml").read_text(encoding="utf-8")
    bad = tmp_path / "late-delivery.toml"
    bad.write_text(good.replace("pitch = 62", "pitch = high"), encoding="utf-8")
    typo = tmp_path / "typo.toml"
    typo.write_text(re.sub(r"start_anger = (\d+)", r"start_anger = \1.5", good.replace('id = "late-delivery"', 'id = "typo"')),
                    encoding="utf-8")
    proc = voicesim("scenarios", "validate", str(tmp_path))
    assert proc.returncode == 1
    pitch_line = good.splitlines().index("pitch = 62") + 1
    anger_line = next(n for n, line in enumerate(good.splitlines(), 1) if line.startswith("start_anger ="))
    assert proc.stdout.splitlines() == [
        f"{bad}:{pitch_line}: TOML syntax error: Invalid value",
        f"{typo}:{anger_line}: 'start_anger' must be a whole number, not a decimal number",
    ]


def test_validate_a_missing_path_is_one_error_line(tmp_path: Path) -> None:
    assert_one_error_line(voicesim("scenarios", "validate", str(tmp_path / "nope.toml")), "nope.toml", "does not exist")


def test_show_unknown_id_is_one_error_line_listing_known_ids() -> None:
    proc = voicesim("scenarios", "show", "no-such-call")
    assert_one_error_line(proc, "unknown scenario 'no-such-call'", "late-delivery", "reise-storniert")


def test_show_names_caller_and_situation() -> None:
    proc = voicesim("scenarios", "show", "reise-storniert")
    assert proc.returncode == 0, proc.stderr
    assert "Claudia Neumann" in proc.stdout and "Antalya" in proc.stdout


def test_env_folder_scenarios_are_listed_and_a_broken_one_is_named(tmp_path: Path) -> None:
    text = (REPO_SCENARIOS / "en" / "late-delivery.toml").read_text(encoding="utf-8")
    (tmp_path / "house-call.toml").write_text(text.replace('id = "late-delivery"', 'id = "house-call"'), encoding="utf-8")
    rows = json.loads(voicesim("scenarios", "list", "--json", scenarios_dir=tmp_path).stdout)
    assert "house-call" in [r["id"] for r in rows]
    (tmp_path / "broken.toml").write_text('id = "broken"\ntitle = \n', encoding="utf-8")
    assert_one_error_line(voicesim("scenarios", "list", scenarios_dir=tmp_path), "broken.toml:2:")


def test_a_scenarios_dir_that_is_not_a_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    assert_one_error_line(voicesim("scenarios", "list", scenarios_dir=missing), "VOICESIM_SCENARIOS_DIR", str(missing))
