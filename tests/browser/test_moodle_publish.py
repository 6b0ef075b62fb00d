"""Moodle in real browsers, against `interba fake-moodle` on loopback (the fake
web-service server that answers Moodle 4.5.6's recorded calls the same way): the
Tirana coordinator connects the site (a wrong address first: refused, token never
shown again), tests the connection (the site's name comes back), builds a course
from a module, links an upcoming event and publishes: the course is created on
Moodle and the event's participants enrolled; the learner view then offers
"Continue in Moodle". Runs the real HTTP client of the platform."""

from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import SERVER_BIN
from support import fill, find, flash_success, follow, path_of, set_checked, sign_in, submit, visit

COORDINATOR = "coordinator.tirana@demo.interba.test"
TOKEN = "browser-lane-token-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_moodle():
    port = free_port()
    proc = subprocess.Popen([str(SERVER_BIN), "fake-moodle", "--port", str(port), "--token", TOKEN],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            reply = requests.post(f"{url}/webservice/rest/server.php", timeout=2,
                                  data={"wstoken": TOKEN, "wsfunction": "core_webservice_get_site_info", "moodlewsrestformat": "json"})
            if reply.ok:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("interba fake-moodle did not start")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def enrolled(url: str, course_id: int) -> list[dict]:
    return requests.post(f"{url}/webservice/rest/server.php", timeout=10, data={
        "wstoken": TOKEN, "wsfunction": "core_enrol_get_enrolled_users", "moodlewsrestformat": "json", "courseid": str(course_id)}).json()


def test_connect_moodle_and_publish_a_course(server, browser, fake_moodle):
    sign_in(browser, server, COORDINATOR)
    visit(browser, f"{server}/moodle")
    fill(browser, "site_url", "moodle-without-scheme")
    fill(browser, "token", TOKEN)
    submit(browser, find(browser, "save-connection"))
    find(browser, "form-errors")
    assert find(browser, "site_url").get_attribute("value") == "moodle-without-scheme"
    assert find(browser, "token").get_attribute("value") == "", "the token came back into the page"
    fill(browser, "site_url", fake_moodle)
    fill(browser, "token", TOKEN)
    submit(browser, find(browser, "save-connection"))
    flash_success(browser, "saving the connection")
    assert TOKEN not in browser.page_source
    test_button = browser.find_element(By.CSS_SELECTOR, "#connections button[id^='test-']")
    submit(browser, test_button)
    assert "Interba fake Moodle" in flash_success(browser, "testing the connection")

    # A course from the short-training guideline, linked to the upcoming Tirana pilot of the demo.
    visit(browser, f"{server}/training/modules/preparing-a-short-training")
    follow(browser, find(browser, "make-course"))
    fill(browser, "title", "Short trainings, online part")
    submit(browser, find(browser, "course-create"))
    match = re.match(r"^/courses/([0-9A-Fa-f-]{36})/build$", path_of(browser))
    assert match, browser.current_url
    boxes = browser.find_elements(By.CSS_SELECTOR, '#moodle-events input[name="events[]"]')
    labels = [b.find_element(By.XPATH, "..").text for b in boxes]
    pick = next(i for i, text in enumerate(labels) if "inclusive international classrooms" in text)
    set_checked(boxes[pick], True)
    submit(browser, find(browser, "moodle-publish"))
    flash_success(browser, "publishing to Moodle")
    link = find(browser, "moodle-course-link").get_attribute("href")
    moodle_id = int(re.search(r"id=(\d+)$", link).group(1))
    people = enrolled(fake_moodle, moodle_id)
    roles = sorted(role["shortname"] for person in people for role in person["roles"])
    assert roles.count("student") == 2 and roles.count("editingteacher") == 1, roles

    # Publishing again changes nothing on Moodle.
    submit(browser, find(browser, "moodle-publish"))
    flash_success(browser, "publishing again")
    assert len(enrolled(fake_moodle, moodle_id)) == len(people)

    visit(browser, f"{server}/courses/{match.group(1)}")
    assert find(browser, "continue-moodle").get_attribute("href") == link
