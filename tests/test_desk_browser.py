"""The trainer's desk in a real browser: Debian's Chromium driven by Selenium, one browser for the module.

What only a browser shows: clicking a word moves the player there, the trainer's
form changes the calibration view, the CSV holds what the table shows, and a
trainee name with markup runs nothing. Skips when chromium or chromedriver is absent
(scripts/setup --test installs them).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from desk_sessions import MARKUP_NAME

from voicesim.desk.app import running
from voicesim.desk.library import Library
from voicesim.desk.pages import slug

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--window-size=1366,768")

pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                reason="needs chromium and chromium-driver: run scripts/setup --test")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="desk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager downloads nothing.
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.implicitly_wait(2)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def desk(desk_sessions, tmp_path_factory):
    root = tmp_path_factory.mktemp("desk-browser") / "sessions"
    shutil.copytree(desk_sessions.root, root, copy_function=os.link)  # this module's verdicts stay in its copy
    with running(Library(root)) as url:
        yield url, desk_sessions


def wait_for(driver, script: str, timeout: float = 10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def test_clicking_a_word_moves_the_player_there_and_highlights_it(browser, desk):
    from selenium.webdriver.common.by import By

    url, made = desk
    browser.get(f"{url}calls/{made.good}.html")
    wait_for(browser, "return document.getElementById('player').readyState >= 1")
    word = next(w for w in browser.find_elements(By.CSS_SELECTOR, ".w[data-t]") if w.text == "frustrating")
    word.click()
    at = float(word.get_attribute("data-t"))
    assert browser.execute_script("return document.getElementById('player').currentTime") == pytest.approx(at, abs=0.01)
    assert "now" in word.get_attribute("class").split()
    # The playhead on the waveform moved to the same moment.
    duration = float(browser.find_element(By.CSS_SELECTOR, ".wave").get_attribute("data-duration"))
    x = float(browser.find_element(By.ID, "playhead").get_attribute("x1"))
    assert x == pytest.approx(at / duration * 1000, abs=1)


def test_a_trainer_overrides_a_verdict_and_the_calibration_view_changes(browser, desk):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, made = desk
    browser.get(f"{url}calibration.html")
    assert browser.find_element(By.CSS_SELECTOR, "#cal-apology .n").text == "0"
    browser.get(f"{url}calls/{made.good}.html")
    row = browser.find_element(By.ID, "verdict-apology")
    Select(row.find_element(By.NAME, "met")).select_by_visible_text("not met")
    row.find_element(By.NAME, "by").send_keys("kim")
    row.find_element(By.NAME, "note").send_keys("sorry, but ... takes it back")
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, "return location.hash === '#assessment'")  # redirected back to the call
    row = browser.find_element(By.ID, "verdict-apology")
    assert "not met" in row.find_element(By.CSS_SELECTOR, ".trainer").text
    assert "trainer" in row.find_element(By.CSS_SELECTOR, ".counts").text
    browser.find_element(By.LINK_TEXT, "Calibration").click()
    assert browser.find_element(By.CSS_SELECTOR, "#cal-apology .n").text == "1"
    assert browser.find_element(By.CSS_SELECTOR, "#cal-apology .rate").text.startswith("0%")
    browser.find_element(By.CSS_SELECTOR, "#cal-apology a").click()
    assert browser.current_url.endswith(f"calls/{made.good}.html")


def test_the_csv_download_holds_exactly_the_filtered_rows(browser, desk):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, _ = desk
    browser.get(f"{url}index.html")
    Select(browser.find_element(By.NAME, "trainee")).select_by_visible_text("sam")
    browser.find_element(By.CSS_SELECTOR, ".filters button[type=submit]").click()
    wait_for(browser, "return location.search.includes('trainee=sam')")
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")]
    assert rows and {r[1] for r in rows} == {"sam"}
    href = browser.find_element(By.ID, "csv").get_attribute("href")
    text = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);", href)
    assert list(csv.reader(io.StringIO(text)))[1:] == rows


def test_markup_in_a_name_runs_nothing_and_reads_as_typed(browser, desk):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    url, made = desk
    for page in ("index.html", f"trainees/{slug(MARKUP_NAME)}.html", f"calls/{made.markup}.html"):
        browser.get(url + page)
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018  (an alert would be the injected script running)
        assert MARKUP_NAME in browser.find_element(By.TAG_NAME, "main").text
        assert not browser.find_elements(By.CSS_SELECTOR, "main b")


def test_a_damaged_session_says_so_in_the_page(browser, desk):
    from selenium.webdriver.common.by import By

    url, made = desk
    browser.get(f"{url}calls/{made.damaged_json}.html")
    assert "session.json is damaged" in browser.find_element(By.CSS_SELECTOR, ".problem-banner").text
    browser.get(f"{url}calls/{made.no_recording}.html")
    assert "recording" in browser.find_element(By.CSS_SELECTOR, ".problem-banner").text
    assert not browser.find_elements(By.ID, "player")


def test_the_exported_sessions_page_filters_sorts_and_exports_the_rows_shown(browser, desk, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from voicesim.desk.export import export_site

    url, made = desk
    root = tmp_path / "sessions"
    shutil.copytree(made.root, root, copy_function=os.link)
    export_site(Library(root), tmp_path / "site")
    browser.get((tmp_path / "site" / "index.html").as_uri())

    def shown() -> list[list[str]]:
        return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr") if tr.is_displayed()]

    everyone = shown()
    Select(browser.find_element(By.NAME, "trainee")).select_by_visible_text("alex")
    rows = shown()
    assert rows and {r[1] for r in rows} == {"alex"} and len(rows) < len(everyone)
    assert browser.find_element(By.ID, "count-text").text.startswith(f"{len(rows)} matching calls")
    overall = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#sessions thead th")].index("Overall")
    browser.find_elements(By.CSS_SELECTOR, "#sessions thead th")[overall].click()
    rows = shown()
    assert [int(r[overall]) for r in rows] == sorted((int(r[overall]) for r in rows), reverse=True)
    href = browser.find_element(By.ID, "csv").get_attribute("href")
    text = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);", href)
    assert list(csv.reader(io.StringIO(text)))[1:] == rows
    browser.find_element(By.CSS_SELECTOR, "#static-filters button[type=reset]").click()
    assert len(shown()) == len(everyone)
