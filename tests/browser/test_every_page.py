"""Every page a real person reaches, in a real browser: as a visitor, as the
Tirana coordinator, as the platform admin, in three more UI languages, on a
phone-sized window and from the keyboard. Every page is checked by
support.check_page (page contract + axe: no serious or critical violation).

Each test signs in (or not) on its own fresh browser; the server is shared, so
nothing here depends on another test having run first."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from support import check_a11y, click_and_wait, find, fill, follow, html_lang, submit, text_of, visit, wait

DEMO_PASSWORD = "interba-demo"
ADMIN = "admin@demo.interba.test"
COORDINATOR_TIRANA = "coordinator.tirana@demo.interba.test"
STAFF_TIRANA = "staff.tirana@demo.interba.test"
TIRANA = "University of Tirana"

VISITOR_PAGES = ("/", "/signin", "/signup", "/password/forgot", "/institutions", "/institutions?q=tirana", "/areas",
                 "/repository", "/repository?q=ucenje&area=A4", "/repository?q=zzzz&language=mk", "/experts", "/experts?area=A6",
                 "/training", "/training/modules/writing-a-request-for-knowledge", "/training/modules/iah-train-the-trainers",
                 "/events", "/events?kind=pilot", "/verify", "/verify/NOTACODE", "/courses")
ADMIN_PAGES = ("/admin", "/admin/users", "/admin/outbox", "/admin/audit", "/admin/countries", "/admin/jobs", "/admin/matching",
               "/admin/reference", "/admin/reference/areas/A1", "/institutions/new")
OTHER_LANGUAGES = ("sq", "mk", "sr-Cyrl")
PHONE = (390, 844)


# -------------------------------------------------------------------- helpers


def path_of(driver) -> str:
    return urlparse(driver.current_url).path


def heading(driver) -> str:
    text = find(driver, "main").find_element(By.TAG_NAME, "h1").text.strip()
    assert text, f"{driver.current_url} has an empty <h1>"
    return text


def sign_in(driver, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    visit(driver, f"{base_url}/signin")
    fill(driver, "email", email)
    fill(driver, "password", password)
    submit(driver, find(driver, "signin-submit"))
    wait(driver).until(lambda d: path_of(d) == "/", f"signing in as {email} landed on {driver.current_url}, not /")
    find(driver, "signout")


def switch_language(driver, tag: str) -> None:
    """Click the language button, then check the page is in that language."""
    submit(driver, find(driver, f"lang-{tag}"))
    assert html_lang(driver) == tag, f"after clicking #lang-{tag} <html lang> is {html_lang(driver)!r}"
    assert find(driver, f"lang-{tag}").get_attribute("aria-pressed") == "true", f"#lang-{tag} is not pressed"
    shown = find(driver, "nav-home").text.strip()
    assert shown != text_of("en", "nav.home"), f"nav.home in {tag}.json is still the English text"


def open_own_institution(driver, base_url: str) -> str:
    """From the coordinator's home dashboard to the institution page; returns its URL."""
    visit(driver, f"{base_url}/")
    follow(driver, find(driver, "action-institution"))
    assert heading(driver) == TIRANA, f"#action-institution led to {heading(driver)!r}, not {TIRANA!r}"
    return driver.current_url


def no_horizontal_scroll(driver) -> None:
    scroll_width, inner_width = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width + 1, (
        f"{driver.current_url} scrolls sideways at {inner_width}px: the page is {scroll_width}px wide")


def mails_to(driver, address: str) -> int:
    """How many messages on /admin/outbox are addressed to this address."""
    return sum(1 for mail in driver.find_elements(By.CSS_SELECTOR, ".mail-list .mail")
               if address in mail.find_element(By.CSS_SELECTOR, ".muted").text)


# ------------------------------------------------------------------- visitors


@pytest.mark.parametrize("path", VISITOR_PAGES)
def test_visitor_page(server, browser, path):
    visit(browser, f"{server}{path}")
    heading(browser)
    find(browser, "nav-signin")


def test_visitor_searches_institutions_and_opens_one(server, browser):
    visit(browser, f"{server}/institutions?q=tirana")
    names = [a.text.strip() for a in browser.find_elements(By.CSS_SELECTOR, "main table a")]
    assert TIRANA in names, f"searching 'tirana' lists {names!r}"
    assert all("tirana" in name.lower() for name in names), f"searching 'tirana' lists {names!r}"

    visit(browser, f"{server}/institutions")
    links = browser.find_elements(By.CSS_SELECTOR, 'main table a[href^="/institutions/"]')
    assert links, "/institutions lists no institution"
    name = links[0].text.strip()
    follow(browser, links[0])
    assert path_of(browser).startswith("/institutions/"), browser.current_url
    assert heading(browser) == name
    assert browser.find_elements(By.ID, "edit-institution") == [], "a visitor is offered #edit-institution"


def test_unknown_page_is_a_checked_404(server, browser):
    url = f"{server}/no-such-page"
    assert requests.get(url, timeout=10).status_code == 404
    visit(browser, url)
    assert find(browser, "main").find_element(By.CSS_SELECTOR, ".error-code").text.strip() == "404"
    heading(browser)


def test_openapi_document_is_json(server):
    response = requests.get(f"{server}/api/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    document = response.json()
    assert document.get("openapi") == "3.1.0", f"openapi is {document.get('openapi')!r}"
    assert "/api/v1/me" in document.get("paths", {}), \
        "the OpenAPI document does not describe GET /api/v1/me"


# ---------------------------------------------------------------- coordinator


def test_coordinator_pages(server, browser):
    sign_in(browser, server, COORDINATOR_TIRANA)
    heading(browser)
    for action in ("action-approvals", "action-members", "action-institution"):
        find(browser, action)

    visit(browser, f"{server}/approvals")
    heading(browser)
    visit(browser, f"{server}/members")
    heading(browser)

    institution = open_own_institution(browser, server)
    follow(browser, find(browser, "edit-institution"))
    assert path_of(browser).endswith("/edit"), browser.current_url
    heading(browser)

    visit(browser, institution)
    follow(browser, find(browser, "edit-structure"))
    assert path_of(browser).endswith("/structure"), browser.current_url
    find(browser, "staff_fte")

    visit(browser, f"{server}/profile")
    heading(browser)
    find(browser, "token_name")

    # The coordination pages of a coordinator: requests, experts, the inbox.
    for path in ("/requests", "/requests/new", "/experts/manage", "/experts/me", "/inbox", "/offers", "/coordination",
                 "/events/new", "/trained-academics", "/trained-academics?country=AL&retrained=yes", "/my/trainings",
                 "/my/portfolio", "/training/modules/new", "/training/modules/preparing-a-short-training/edit",
                 "/courses/new", "/moodle"):
        visit(browser, f"{server}{path}")
        heading(browser)


def test_coordinator_creates_a_token_that_works_on_the_api(server, browser):
    sign_in(browser, server, COORDINATOR_TIRANA)
    visit(browser, f"{server}/profile")
    fill(browser, "token_name", f"browser lane {uuid.uuid4().hex[:8]}")
    submit(browser, find(browser, "token-submit"))
    token = find(browser, "new-token").get_attribute("value").strip()
    assert token, "#new-token is empty"

    api = f"{server}/api/v1/me"
    assert requests.get(api, timeout=10).status_code == 401, "GET /api/v1/me answers without a token"
    response = requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, f"GET /api/v1/me with the new token: {response.status_code} {response.text[:300]}"
    assert response.json().get("email") == COORDINATOR_TIRANA, response.text[:300]


def test_coordinator_structure_rejects_an_invalid_staff_fte(server, browser):
    sign_in(browser, server, COORDINATOR_TIRANA)
    open_own_institution(browser, server)
    follow(browser, find(browser, "edit-structure"))
    if not find(browser, "unit_name").get_attribute("value").strip():
        fill(browser, "unit_name", "International Relations Office")  # only the FTE is wrong
    fill(browser, "staff_fte", "many")
    submit(browser, find(browser, "structure-submit"))

    errors = find(browser, "form-errors")
    assert errors.get_attribute("role") == "alert"
    assert errors.find_elements(By.CSS_SELECTOR, 'a[href="#staff_fte"]'), "#form-errors does not point to #staff_fte"
    field = find(browser, "staff_fte")
    assert field.get_attribute("value") == "many", f"#staff_fte now reads {field.get_attribute('value')!r}"
    assert field.get_attribute("aria-invalid") == "true"
    find(browser, "staff_fte-error")


def test_coordinator_invites_a_colleague(server, browser):
    sign_in(browser, server, COORDINATOR_TIRANA)
    visit(browser, f"{server}/members")
    email = f"invitee-{uuid.uuid4().hex[:10]}@example.test"
    fill(browser, "email", email)
    Select(find(browser, "role")).select_by_value("expert")
    submit(browser, find(browser, "invite-submit"))
    flash = wait(browser).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".flash-success")),
        f"no .flash-success after inviting {email} (on {browser.current_url})")
    assert flash.text.strip(), ".flash-success is empty"
    assert browser.find_elements(By.ID, "form-errors") == [], "the invitation was refused"


# ---------------------------------------------------------------------- admin


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_page(server, browser, path):
    sign_in(browser, server, ADMIN)
    visit(browser, f"{server}{path}")
    assert path_of(browser) == urlparse(path).path, f"{path} ended on {browser.current_url}"
    heading(browser)


def test_admin_outbox_lists_a_password_reset_mail(server, browser):
    sign_in(browser, server, ADMIN)
    visit(browser, f"{server}/admin/outbox")
    before = mails_to(browser, STAFF_TIRANA)
    submit(browser, find(browser, "signout"))

    # A visitor asks for a password reset for the Tirana staff member.
    visit(browser, f"{server}/password/forgot")
    fill(browser, "email", STAFF_TIRANA)
    submit(browser, find(browser, "forgot-submit"))
    find(browser, "reset-sent")

    sign_in(browser, server, ADMIN)
    visit(browser, f"{server}/admin/outbox")
    after = mails_to(browser, STAFF_TIRANA)
    assert after == before + 1, f"/admin/outbox lists {after} messages to {STAFF_TIRANA}, expected {before + 1}"


# ------------------------------------------------------------------ languages


@pytest.mark.parametrize("tag", OTHER_LANGUAGES)
def test_visitor_pages_in_language(server, browser, tag):
    visit(browser, f"{server}/")
    switch_language(browser, tag)
    for path in VISITOR_PAGES:
        visit(browser, f"{server}{path}")
        assert html_lang(browser) == tag, f"{path} is in {html_lang(browser)!r} after choosing {tag}"
    visit(browser, f"{server}/institutions")
    follow(browser, browser.find_element(By.CSS_SELECTOR, 'main table a[href^="/institutions/"]'))
    assert html_lang(browser) == tag, f"{browser.current_url} is in {html_lang(browser)!r} after choosing {tag}"
    visit(browser, f"{server}/no-such-page")
    assert html_lang(browser) == tag, f"the 404 page is in {html_lang(browser)!r} after choosing {tag}"


@pytest.mark.parametrize("tag", OTHER_LANGUAGES)
def test_coordinator_pages_in_language(server, browser, tag):
    sign_in(browser, server, COORDINATOR_TIRANA)
    try:
        switch_language(browser, tag)
        assert path_of(browser) == "/"
        find(browser, "action-members")
        visit(browser, f"{server}/members")
        assert html_lang(browser) == tag, f"/members is in {html_lang(browser)!r} after choosing {tag}"
        find(browser, "invite-submit")
    finally:
        # The choice is saved as the coordinator's preferred language: put English back
        # so that other tests signing in as the coordinator see what they expect.
        browser.get(f"{server}/")
        if browser.find_elements(By.ID, "lang-en") and browser.find_elements(By.ID, "signout"):
            click_and_wait(browser, browser.find_element(By.ID, "lang-en"), "did not switch back to English")
            assert html_lang(browser) == "en"


# ---------------------------------------------------------------------- phone


@pytest.mark.parametrize("path", ("/", "/signup", "/repository?q=ucenje"))
def test_phone_sized_window_has_no_sideways_scroll(server, browser, path):
    browser.set_window_size(*PHONE)
    visit(browser, f"{server}{path}")
    inner_width = browser.execute_script("return window.innerWidth")
    assert inner_width <= PHONE[0], f"the window did not shrink to a phone: innerWidth is {inner_width}px"
    no_horizontal_scroll(browser)


# ------------------------------------------------------------------- keyboard


def test_first_tab_focuses_the_skip_link(server, browser):
    visit(browser, f"{server}/signin")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    wait(browser).until(
        lambda d: d.execute_script("return document.activeElement.classList.contains('skip-link')"),
        "the first Tab on /signin does not focus the skip link")
    link = browser.switch_to.active_element
    assert link.get_attribute("class").split().count("skip-link") == 1
    assert browser.execute_script("return document.activeElement.getAttribute('href')") == "#main"
    left, top = browser.execute_script(
        "const r = document.activeElement.getBoundingClientRect(); return [r.left, r.top];")
    assert left >= 0 and top >= 0, f"the focused skip link is off screen at ({left}, {top})"
    check_a11y(browser)

    # Enter follows it: focus moves to <main id="main" tabindex="-1">.
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait(browser).until(lambda d: d.execute_script("return document.activeElement.id") == "main",
                        "Enter on the skip link does not move focus to #main")
