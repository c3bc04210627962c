"""Benchmark packs: real scripted pack calls (tests/pack_calls.py), resuming, the status table, bad pack files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from pack_calls import pack_run

from voicesim.cli import main
from voicesim.packs import find_pack, load_pack, pack_files
from voicesim.scenario import find_scenario
from voicesim.session import INDEX_NAME


@pytest.fixture(scope="module")
def run():
    return pack_run()


def test_the_scripted_trainee_replies_are_pre_rendered():
    from pack_calls import BOB_CALL1_REPLIES, CALL2_REPLIES
    from trainee_voice import speak

    # Literal speak() calls: scripts/make_test_replies renders (and keeps) what test files ask for.
    said = [speak("I'm really sorry about the delay with your order."), speak("When did you place the order?"),
            speak("Let me check that for you."), speak("Your new delivery date is next Friday.")]
    assert all(audio.duration_s > 0.5 for audio in said)
    assert len(said) == len(CALL2_REPLIES + BOB_CALL1_REPLIES)


def sessions_json(run, *args: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["sessions", "list", "--sessions-dir", str(run.sessions), "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def session_data(row: dict) -> dict:
    return json.loads((Path(row["session_dir"]) / "session.json").read_text(encoding="utf-8"))


def test_every_trainee_took_the_calls_in_order_and_sessions_record_the_pack(run, capsys):
    assert run.exit_codes == {"ana": 0, "bob": 0, "cara": 0}
    pack = load_pack(run.pack_file)
    rows = sessions_json(run, "--pack", pack.id, capsys=capsys)
    taken = [(r["trainee"], r["pack_index"]) for r in rows if r["turns"]]
    assert sorted(taken) == [("ana", 1), ("ana", 2), ("bob", 1), ("bob", 2), ("cara", 2)]
    for row in rows:
        data = session_data(row)
        assert data["pack"] == {"id": "test-week", "version": pack.version, "index": row["pack_index"]}
        assert row["pack_version"] == pack.version


def test_same_seed_same_customer_for_every_trainee(run, capsys):
    rows = sessions_json(run, "--pack", "test-week", capsys=capsys)
    openings = {}
    for row in rows:
        if row["turns"] and row["pack_index"] == 2:
            openings[row["trainee"]] = session_data(row)["turns"][0]["customer"]["text"]
    assert len(openings) == 3 and len(set(openings.values())) == 1


def test_difficulty_starts_the_customer_angry_with_little_patience(run, capsys):
    rows = sessions_json(run, "--pack", "test-week", "--trainee", "ana", capsys=capsys)
    call2 = session_data(next(r for r in rows if r["pack_index"] == 2))
    first = call2["turns"][0]["customer_answer"]
    assert first["anger"] - first["anger_delta"] == 7  # "angry" in data/customer_rules.toml
    assert len(call2["turns"]) <= 2 and call2["outcome"] in ("turn_limit", "hung_up")
    call1 = session_data(next(r for r in rows if r["pack_index"] == 1))
    default = call1["turns"][0]["customer_answer"]
    assert default["anger"] - default["anger_delta"] == find_scenario("late-delivery").start_anger
    assert call1["seed"] == 1


def test_default_sessions_carry_no_pack_key(tmp_path: Path, capsys):
    from pack_calls import CALL2_REPLIES, trainee_wav

    assert main(["practice", "--replies", str(trainee_wav(CALL2_REPLIES[0])), "--sessions-dir", str(tmp_path), "--json"]) == 0
    folder = Path(json.loads(capsys.readouterr().out)["session_dir"])
    assert "pack" not in json.loads((folder / "session.json").read_text())


def test_interrupted_and_unfinished_attempts_are_taken_again(run, capsys):
    rows = sessions_json(run, "--trainee", "bob", "--pack", "test-week", capsys=capsys)
    call1 = [(r["outcome"], r["turns"]) for r in rows if r["pack_index"] == 1]
    assert call1[:2] == [("interrupted", 0), ("in_progress", 0)]
    assert call1[2][0] in ("resolved", "hung_up", "turn_limit") and call1[2][1] > 0


def test_run_starts_at_the_first_unfinished_call_and_stops_when_all_are_done(run, capsys):
    rows = sessions_json(run, "--trainee", "cara", capsys=capsys)
    assert [(r["pack_index"], r["turns"] > 0) for r in rows] == [(1, False), (2, True)]
    capsys.readouterr()
    code = main(["pack", "run", str(run.pack_file), "--trainee", "ana", "--replies-dir", str(run.replies["ana"]),
                 "--sessions-dir", str(run.sessions), "--json"])
    out = capsys.readouterr()
    assert (code, json.loads(out.out)) == (0, [])
    assert "ana has finished all 2 calls" in out.err
    assert len(sessions_json(run, "--trainee", "ana", capsys=capsys)) == 2


def test_status_table_and_json(run, capsys):
    capsys.readouterr()
    assert main(["pack", "status", str(run.pack_file), "--sessions-dir", str(run.sessions), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pack"]["id"] == "test-week" and [c["index"] for c in status["calls"]] == [1, 2]
    assert sorted(status["trainees"]) == ["ana", "bob", "cara"]
    for cells in status["trainees"].values():
        assert [c["done"] for c in cells] == [True, True]
        assert all(c["scorer_version"] == "original" for c in cells)
    ana = status["trainees"]["ana"]
    assert ana[0]["overall"] == session_data({"session_dir": ana[0]["session_dir"]})["assessment"]["overall"]
    assert status["trainees"]["cara"][0]["overall"] == 40  # the earlier finished attempt counts

    assert main(["pack", "status", str(run.pack_file), "--sessions-dir", str(run.sessions)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Pack test-week: Test week")
    ana_row = next(line for line in lines if line.startswith("ana"))
    assert ana_row.split()[1:] == [str(c["overall"]) for c in ana]


def test_old_index_layout_is_rebuilt_with_the_pack_column(run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "s"
    shutil.copytree(run.sessions, copy)
    con = sqlite3.connect(copy / INDEX_NAME)
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    capsys.readouterr()
    assert main(["sessions", "list", "--sessions-dir", str(copy), "--pack", "test-week", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(sessions_json(run, capsys=capsys))


def test_shipped_packs_load_and_list(capsys):
    ids = {load_pack(p).id for p in pack_files()}
    assert {"en-first-week", "de-erste-woche"} <= ids
    assert main(["pack", "list"]) == 0
    out = capsys.readouterr().out
    assert "en-first-week" in out and "de-erste-woche" in out and "BROKEN" not in out
    assert main(["pack", "validate", str(find_pack("de-erste-woche").path)]) == 0


def test_trainers_packs_dir_comes_first(tmp_path, monkeypatch):
    (tmp_path / "en-first-week.toml").write_text('name = "Mine"\n[[calls]]\nindex = 1\nscenario = "double-charge"\nseed = 5\n')
    monkeypatch.setenv("VOICESIM_PACKS_DIR", str(tmp_path))
    assert find_pack("en-first-week").name == "Mine"


BAD_PACKS = {
    "unknown scenario": ('name = "x"\n[[calls]]\nindex = 1\nscenario = "no-such-call"\nseed = 1\n', "unknown scenario 'no-such-call'"),
    "duplicate index": ('name = "x"\n[[calls]]\nindex = 1\nscenario = "late-delivery"\nseed = 1\n'
                        '[[calls]]\nindex = 1\nscenario = "double-charge"\nseed = 2\n', "both have index 1"),
    "negative seed": ('name = "x"\n[[calls]]\nindex = 1\nscenario = "late-delivery"\nseed = -1\n', "seed -1"),
    "text seed": ('name = "x"\n[[calls]]\nindex = 1\nscenario = "late-delivery"\nseed = "one"\n', "seed 'one'"),
    "no calls": ('name = "x"\n', "no calls"),
    "bad level": ('name = "x"\n[[calls]]\nindex = 1\nscenario = "late-delivery"\nseed = 1\nstart_anger = "furious"\n',
                  "not a level"),
    "anger out of range": ('name = "x"\n[[calls]]\nindex = 1\nscenario = "late-delivery"\nseed = 1\nstart_anger = 10\n',
                           "start_anger 10 is out of range"),
    "no patience": ('name = "x"\n[[calls]]\nindex = 1\nscenario = "late-delivery"\nseed = 1\npatience = 0\n',
                    "patience 0 is too small"),
    "not toml": ('name = \n', "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_PACKS))
def test_bad_pack_file_is_one_error_line_with_the_file_and_the_fix(case, tmp_path, capsys):
    text, expected = BAD_PACKS[case]
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    for argv in (["pack", "validate", str(path)], ["pack", "run", str(path), "--trainee", "x",
                                                  "--replies-dir", str(tmp_path), "--sessions-dir", str(tmp_path / "s")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("voicesim: error: ") and str(path) in err[0] and expected in err[0]
    assert not list((tmp_path / "s").glob("*/session.json"))


def test_missing_replies_are_reported_before_any_call(run, tmp_path, capsys):
    (tmp_path / "r" / "1").mkdir(parents=True)
    code = main(["pack", "run", str(run.pack_file), "--trainee", "dan", "--replies-dir", str(tmp_path / "r"),
                 "--sessions-dir", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no replies for call 1 (late-delivery)" in err[0]
    assert not list((tmp_path / "s").glob("*"))


def test_live_run_without_a_headset_says_to_script_it(tmp_path):
    import os
    import subprocess
    import sys

    # As on a machine without a sound card: PortAudio reaches no sound server.
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent/voicesim-no-pulse", "AUDIODEV": "null"}
    proc = subprocess.run([sys.executable, "-m", "voicesim", "pack", "run", "en-first-week", "--trainee", "x",
                           "--sessions-dir", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, proc.stderr
    assert err[0].startswith("voicesim: error: ") and "--replies-dir" in err[0]
    assert not list(tmp_path.glob("*/session.json"))
