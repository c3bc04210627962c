"""The trainer's desk over HTTP: a real uvicorn server on real session folders (tests/desk_sessions.py).

Pages are fetched as a browser would and read with html.parser; the browser-only
parts (seeking, forms in a page) are in test_desk_browser.py.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from desk_sessions import MARKUP_NAME

from voicesim.cli import main
from voicesim.desk.analytics import Filters
from voicesim.desk.app import running
from voicesim.desk.library import Library
from voicesim.desk.pages import Site, slug
from voicesim.scorecard import CHECK_IDS


class Page(HTMLParser):
    """The parts of a desk page the tests read: table body and footer cells by row, links, elements by class."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.words: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.post_forms = 0
        self.audio: list[str] = []
        self._cell: list[str] | None = None
        self._word: dict[str, str] | None = None
        self._in_tbody = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag in ("tbody", "tfoot"):
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.rows.append([])
        elif tag == "td" and self._in_tbody:
            self._cell = []
        elif tag in ("a", "link", "script", "audio") and (a.get("href") or a.get("src")):
            (self.audio if tag == "audio" else self.links).append(a.get("href") or a.get("src"))
        elif tag == "span" and "w" in a.get("class", "").split():
            self._word = a
        elif tag == "form" and a.get("method", "").lower() == "post":
            self.post_forms += 1
        if tag == "script":
            self.scripts.append(a.get("src", "inline"))

    def handle_endtag(self, tag):
        if tag in ("tbody", "tfoot"):
            self._in_tbody = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._word is not None:
            self.words.append((data, self._word))
            self._word = None


def get(url: str | urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(url: str, fields: dict[str, str], origin: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin:
        headers["Origin"] = origin
    request = urllib.request.Request(url, urllib.parse.urlencode(fields).encode(), headers, method="POST")
    return get(request)


@pytest.fixture(scope="module")
def sessions(desk_sessions, tmp_path_factory):
    """A copy of the shared sessions (recordings hard-linked), so this module's verdicts stay here."""
    root = tmp_path_factory.mktemp("desk-http") / "sessions"
    shutil.copytree(desk_sessions.root, root, copy_function=os.link)
    return desk_sessions, root


@pytest.fixture(scope="module")
def desk(sessions):
    with running(Library(sessions[1])) as url:
        yield url


def test_every_page_renders_for_no_sessions(tmp_path: Path):
    with running(Library(tmp_path)) as url:
        for page in ("", "index.html", "packs.html", "calibration.html", "sessions.csv"):
            status, text = get(url + page)
            assert status == 200, page
        assert "No sessions yet" in get(url + "index.html")[1]
        assert get(url + "sessions.csv")[1].splitlines() == [
            "Started (UTC),Trainee,Scenario,Pack,Outcome,Replies,Overall,Principles met,Scored by,Trainer verdicts,Folder"]
        assert get(url + "calls/nothing.html")[0] == 404


def test_sessions_page_filters_and_its_csv_holds_exactly_the_rows_shown(desk, sessions):
    made, _ = sessions
    query = "trainee=alex&sort=overall&order=asc"
    status, text = get(f"{desk}index.html?{query}")
    assert status == 200
    shown = Page(text).rows
    assert {made.bad, made.alex_good, made.packed[1]} == {row[-1] for row in shown}
    assert [int(row[6]) for row in shown] == sorted(int(row[6]) for row in shown)
    exported = list(csv.reader(io.StringIO(get(f"{desk}sessions.csv?{query}")[1])))
    assert exported[1:] == shown


def test_all_sessions_are_listed_damaged_ones_included(desk, sessions):
    made, root = sessions
    rows = Page(get(desk + "index.html")[1]).rows
    assert {row[-1] for row in rows} == {p.name for p in root.iterdir() if p.is_dir()}
    damaged = next(row for row in rows if row[-1] == made.damaged_json)
    assert damaged[4] == "damaged"


def test_markup_in_a_trainee_name_is_shown_as_text(desk):
    text = get(desk + "index.html")[1]
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    page = Page(text)
    assert MARKUP_NAME in [row[1] for row in page.rows]
    assert page.scripts == []  # the sessions page runs no script at all
    status, trainee = get(f"{desk}trainees/{slug(MARKUP_NAME)}.html")
    assert status == 200 and "<script>alert" not in trainee and "&lt;b&gt;Eve&lt;/b&gt;" in trainee


def test_call_page_words_carry_the_recording_times_and_evidence(desk, sessions):
    made, root = sessions
    data = json.loads((root / made.good / "session.json").read_text())
    page = Page(get(f"{desk}calls/{made.good}.html")[1])
    words = [w for t in data["turns"] for w in t["trainee"]["words"]]
    assert [(text, float(a["data-t"])) for text, a in page.words] == [(w["word"], w["start_s"]) for w in words]
    evidence = {text for text, a in page.words if "ev" in a["class"].split()}
    assert "frustrating" in evidence  # "that must be really frustrating": understanding
    assert page.audio == [f"../calls/{made.good}.wav"]
    with urllib.request.urlopen(f"{desk}calls/{made.good}.wav") as r:
        assert r.read() == (root / made.good / "recording.wav").read_bytes()


def test_damaged_or_incomplete_sessions_say_what_is_wrong(desk, sessions):
    made, _ = sessions
    status, text = get(f"{desk}calls/{made.damaged_json}.html")
    assert status == 200 and "session.json is damaged" in text
    status, text = get(f"{desk}calls/{made.no_recording}.html")
    assert status == 200 and "recording (recording.wav) is missing" in text and "<audio" not in text
    assert Page(text).words  # the transcript is still there
    assert get(f"{desk}calls/{made.no_recording}.wav")[0] == 404


@pytest.mark.parametrize("content", [
    {"trainee": "sam", "started_at": "2026-01-01T00:00:00Z", "turns": [{"trainee": "x", "customer": 5}],
     "assessment": {"principles": []}, "debrief": [1], "scenario": "late-delivery"},
    {"turns": [], "assessment": {"principles": {"apology": {"met": "yes"}}}, "overall": "high", "pack": [1]},
    [1, 2, 3],
])
def test_a_session_json_of_the_wrong_shape_is_listed_and_shown_not_a_crash(tmp_path, content):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "session.json").write_text(json.dumps(content))
    site = Site(Library(tmp_path))
    assert "odd" in site.sessions(Filters())
    page = site.call("odd")
    assert page and "<h1>" in page
    for part in (site.packs(), site.calibration(), site.sessions_csv(Filters())):
        assert part


def test_a_recording_that_is_not_audio_is_reported_and_the_rest_is_shown(sessions, tmp_path):
    made, root = sessions
    folder = tmp_path / "garbled"
    folder.mkdir()
    shutil.copy(root / made.good / "session.json", folder / "session.json")
    (folder / "recording.wav").write_bytes(b"RIFF" + os.urandom(4000))
    page = Site(Library(tmp_path)).call("garbled")
    assert "recording (recording.wav) is damaged" in page and "<audio" not in page
    assert "frustrating" in page  # the transcript is still there


def test_a_damaged_trainer_json_is_reported_and_never_overwritten(sessions, tmp_path):
    made, root = sessions
    shutil.copytree(root / made.good, tmp_path / "call", copy_function=os.link)
    (tmp_path / "call" / "trainer.json").write_text('{"verdicts": {"apology": ')
    with running(Library(tmp_path)) as url:
        assert "trainer.json is damaged" in get(url + "calls/call.html")[1]
        status, text = post(url + "calls/call/verdict", {"check": "apology", "met": "true", "by": "kim"})
    assert status == 400 and text.startswith("voicesim: error:") and "trainer.json is damaged" in text
    assert (tmp_path / "call" / "trainer.json").read_text() == '{"verdicts": {"apology": '


def test_a_trainer_verdict_is_stored_beside_the_automatic_one_and_drives_calibration(desk, sessions):
    made, root = sessions
    folder = root / made.alex_good
    before = (folder / "session.json").read_bytes()
    url = f"{desk}calls/{made.alex_good}/verdict"
    assert post(url, {"check": "written_agreement", "met": "false", "by": "kim", "note": "no e-mail named"})[0] == 200
    trainer = json.loads((folder / "trainer.json").read_text())
    assert trainer["format"] == 1
    assert trainer["verdicts"]["written_agreement"]["met"] is False
    assert trainer["verdicts"]["written_agreement"]["by"] == "kim"
    assert (folder / "session.json").read_bytes() == before  # the automatic assessment is never edited
    row = next(r for r in Page(get(desk + "calibration.html")[1]).rows if r[0] == "Put agreements in writing")
    assert row[1] == "1" and row[2].startswith("0%") and row[3].startswith("alex · late-delivery")
    # Withdrawn, the automatic verdict counts again and the calibration has no pair.
    post(url, {"check": "written_agreement", "met": "clear"})
    row = next(r for r in Page(get(desk + "calibration.html")[1]).rows if r[0] == "Put agreements in writing")
    assert row[1] == "0"


def test_comments_are_pinned_to_a_moment_and_foreign_posts_are_refused(desk, sessions):
    made, root = sessions
    url = f"{desk}calls/{made.short}/comment"
    assert post(url, {"at_s": "12.5", "text": "<i>slow</i> down here", "by": "kim"})[0] == 200
    comment = json.loads((root / made.short / "trainer.json").read_text())["comments"][0]
    assert (comment["at_s"], comment["text"], comment["by"]) == (12.5, "<i>slow</i> down here", "kim")
    page = get(f"{desk}calls/{made.short}.html")[1]
    assert page.count('data-t="12.500"') == 2  # in the list and as a flag on the waveform and "&lt;i&gt;slow&lt;/i&gt; down here" in page
    assert post(url, {"at_s": "1", "text": "x"}, origin="http://evil.example")[0] == 403
    assert post(url, {"at_s": "soon", "text": "x"})[0] == 400
    assert len(json.loads((root / made.short / "trainer.json").read_text())["comments"]) == 1


def test_pack_page_is_trainees_by_calls_with_the_cohort_median(desk, sessions):
    made, root = sessions
    packs = Page(get(desk + "packs.html")[1])
    assert f"packs/{slug('pack:starter')}.html" in packs.links
    assert f"packs/{slug('scenario:late-delivery')}.html" in packs.links
    text = get(f"{desk}packs/{slug('pack:starter')}.html")[1]
    page = Page(text)
    overall = [json.loads((root / name / "session.json").read_text())["overall"] for name in made.packed]
    cohort = page.rows[-1]
    assert float(cohort[-1]) == pytest.approx(sorted(overall)[0] / 2 + sorted(overall)[1] / 2)
    trainee_rows = page.rows[:-1]
    assert len(trainee_rows) == 2 and all(len(r) == len(CHECK_IDS) + 1 for r in trainee_rows)


def test_trainee_page_shows_principles_over_time_and_what_to_work_on(desk):
    status, text = get(f"{desk}trainees/{slug('alex')}.html")
    assert status == 200
    assert text.count('class="spark"') == len(CHECK_IDS)
    focus = text.split('id="focus"')[1].split("</section>")[0]
    assert 1 <= focus.count("<li>") <= 3


def test_the_newest_rescore_is_the_automatic_verdict_and_says_its_scorer(sessions, tmp_path):
    made, root = sessions
    folder = tmp_path / "rescored"
    shutil.copytree(root / made.bad, folder, copy_function=os.link)
    data = json.loads((folder / "session.json").read_text())
    (folder / "assessments").mkdir()
    for version, stamp, met in (("scorer-2", "2026-01-02T00:00:00Z", True), ("scorer-1", "2026-01-01T00:00:00Z", False)):
        assessment = json.loads(json.dumps(data["assessment"]))
        assessment["principles"]["apology"]["met"] = met
        (folder / "assessments" / f"{version}.json").write_text(json.dumps(
            {"scorer_version": version, "created_at": stamp, "asr": {"engine": "vosk", "model": data["model"]},
             "turns": [], "assessment": assessment, "overall": 42}))
    call = Library(tmp_path).call("rescored")
    assert (call.auto.scorer, call.auto.met["apology"], call.overall) == ("scorer-2", True, 42)
    site = Site(Library(tmp_path))
    assert "scored by <span id=\"scorer\">scorer-2</span>" in site.call("rescored")
    assert Page(site.sessions(Filters())).rows[0][8] == "scorer-2"


def one_error_line(capsys, argv: list[str]) -> str:
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("voicesim: error:"), err
    return err[0]


def test_bad_cli_input_is_one_error_line(capsys, sessions, tmp_path):
    _, root = sessions
    assert "does not exist" in one_error_line(capsys, ["review", "--sessions-dir", str(tmp_path / "none")])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert "is a file, not a folder" in one_error_line(capsys, ["review", "--sessions-dir", str(blocker)])
    assert "--port 70000 is not a port" in one_error_line(capsys, ["review", "--sessions-dir", str(root), "--port", "70000"])
    assert "cannot write the export folder" in one_error_line(
        capsys, ["review", "--sessions-dir", str(root), "--export", str(blocker / "site")])
    assert "inside the sessions folder" in one_error_line(
        capsys, ["review", "--sessions-dir", str(root), "--export", str(root / "site")])
    with contextlib.closing(socket.socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert f"port {port} on 127.0.0.1 is in use" in one_error_line(
            capsys, ["review", "--sessions-dir", str(root), "--port", str(port)])


def test_review_serves_the_desk_until_ctrl_c(sessions):
    _, root = sessions
    proc = subprocess.Popen([sys.executable, "-m", "voicesim", "review", "--sessions-dir", str(root), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        assert get(url)[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err


def test_export_is_a_static_site_whose_links_all_resolve(capsys, sessions, tmp_path):
    made, root = sessions
    out = tmp_path / "site"
    assert main(["review", "--sessions-dir", str(root), "--export", str(out)]) == 0
    assert "Exported" in capsys.readouterr().out
    pages = sorted(out.rglob("*.html"))
    assert out / "calls" / f"{made.good}.html" in pages
    for path in pages:
        page = Page(path.read_text())
        assert page.post_forms == 0, path  # no verdict or comment forms without a server
        for link in page.links + page.audio:
            target = urllib.parse.unquote(link.split("#")[0].split("?")[0])
            assert not urllib.parse.urlsplit(link).scheme and not link.startswith("/"), link
            if target:
                assert (path.parent / target).resolve().is_file(), f"{path.name}: {link}"
    assert (out / "calls" / f"{made.good}.wav").stat().st_size == (root / made.good / "recording.wav").stat().st_size
    rows = Page((out / "index.html").read_text()).rows
    assert list(csv.reader(io.StringIO((out / "sessions.csv").read_text())))[1:] == rows
