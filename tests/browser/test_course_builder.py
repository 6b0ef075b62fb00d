"""The course builder in a real browser: the Tirana coordinator turns the
train-the-trainers module into an e-learning course, adds a web link (first a
script link, refused with the typed title kept), moves it up, previews the course
as a learner, downloads the Common Cartridge (a ZIP whose manifest declares the
CC 1.1 namespace at the top) and opens the learner view. Every page passes the
page contract and axe."""

from __future__ import annotations

import io
import re
import zipfile

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from support import fill, find, flash_success, follow, path_of, sign_in, submit, visit

COORDINATOR = "coordinator.tirana@demo.interba.test"
BUILD_PATH = re.compile(r"^/courses/([0-9A-Fa-f-]{36})/build$")


def test_course_from_module_to_cartridge(server, browser):
    sign_in(browser, server, COORDINATOR)
    visit(browser, f"{server}/training/modules/iah-train-the-trainers")
    follow(browser, find(browser, "make-course"))
    fill(browser, "title", "IaH për trajnerët")
    Select(find(browser, "language")).select_by_value("sq")
    submit(browser, find(browser, "course-create"))
    match = BUILD_PATH.match(path_of(browser))
    assert match, f"creating the course led to {browser.current_url}"
    course_id = match.group(1)
    sections = browser.find_elements(By.CSS_SELECTOR, "section.builder-section")
    assert len(sections) >= 5, f"{len(sections)} sections from the module"

    # A web link in the first section: a javascript: address is refused and the title kept.
    first = sections[0]
    first.find_element(By.TAG_NAME, "summary").click()
    Select(find(browser, "item_kind_1")).select_by_value("url")
    fill(browser, "item_title_1", "COIL examples")
    fill(browser, "item_url_1", "javascript:alert(1)")
    submit(browser, find(browser, "add-item-1"))
    assert find(browser, "form-errors")
    assert find(browser, "item_title_1").get_attribute("value") == "COIL examples"
    fill(browser, "item_url_1", "https://coil.example.org/examples")
    submit(browser, find(browser, "add-item-1"))
    flash_success(browser, "adding a web link")
    items = browser.find_elements(By.CSS_SELECTOR, "#builder-section-1 .builder-items li")
    assert items[-1].get_attribute("data-kind") == "url"
    # Move it up: it becomes the first item of the section.
    up = items[-1].find_element(By.CSS_SELECTOR, "button[aria-label]")
    submit(browser, up)
    items = browser.find_elements(By.CSS_SELECTOR, "#builder-section-1 .builder-items li")
    assert items[0].get_attribute("data-kind") == "url", [i.text for i in items]

    follow(browser, find(browser, "preview-course"))
    find(browser, "preview-notice")
    assert "COIL examples" in browser.page_source

    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    package = requests.get(f"{server}/courses/{course_id}/cartridge.imscc", cookies=cookies, timeout=30)
    assert package.headers["Content-Type"] == "application/vnd.ims.imsccv1p1"
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        manifest = archive.read("imsmanifest.xml")
        assert b"http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1" in manifest[:500]
        assert "IaH për trajnerët".encode() in manifest
        assert any(name.endswith("weblink.xml") for name in archive.namelist())

    visit(browser, f"{server}/courses/{course_id}")
    find(browser, "course-outline")
    find(browser, "not-on-moodle")
