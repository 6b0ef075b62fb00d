"""Accounts journeys in a real browser: sign-up, approval by the institutional
coordinator, sign-in, language switching, sign-out. Every page visited and every
page reached by a form is checked by support.check_page (page contract + axe)."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from support import find, fill, html_lang, submit, text_of, visit, wait

DEMO_PASSWORD = "interba-demo"
COORDINATOR_TIRANA = "coordinator.tirana@demo.interba.test"
STAFF_TIRANA = "staff.tirana@demo.interba.test"
TIRANA = "University of Tirana"


def sign_in(driver, base_url: str, email: str, password: str) -> None:
    visit(driver, f"{base_url}/signin")
    fill(driver, "email", email)
    fill(driver, "password", password)
    submit(driver, find(driver, "signin-submit"))


def assert_signed_in_home(driver, name: str | None = None) -> None:
    wait(driver).until(lambda d: urlparse(d.current_url).path == "/",
                       f"sign-in did not land on / but on {driver.current_url}")
    assert driver.find_element(By.TAG_NAME, "h1").text.strip(), "the home dashboard has an empty h1"
    current_user = find(driver, "current-user")
    if name is not None:
        assert name in current_user.text, f"#current-user reads {current_user.text!r}, expected {name!r}"
    find(driver, "signout")


def sign_out(driver) -> None:
    submit(driver, find(driver, "signout"))
    assert find(driver, "nav-signin").is_displayed()


def switch_language(driver, tag: str) -> None:
    submit(driver, find(driver, f"lang-{tag}"))
    assert html_lang(driver) == tag
    shown = find(driver, "nav-home").text.strip()
    assert shown == text_of(tag, "nav.home"), f"#nav-home reads {shown!r} in {tag}"
    assert shown != text_of("en", "nav.home"), f"nav.home in {tag}.json is still the English text"


def test_new_person_is_approved_by_coordinator_then_switches_language_and_signs_out(server, browser):
    suffix = uuid.uuid4().hex[:10]
    name = f"Arta Krasniqi-Đurić {suffix}"
    email = f"journey-{suffix}@example.test"
    password = f"Journey-{suffix}-pass!"

    # Sign up as a new person at the University of Tirana.
    visit(browser, f"{server}/signup")
    fill(browser, "name", name)
    fill(browser, "email", email)
    fill(browser, "password", password)
    Select(find(browser, "institution_id")).select_by_visible_text(TIRANA)
    submit(browser, find(browser, "signup-submit"))
    find(browser, "signup-done")

    # Before approval the sign-in fails with the errors shown.
    sign_in(browser, server, email, password)
    errors = find(browser, "form-errors")
    assert errors.get_attribute("role") == "alert"
    assert browser.find_elements(By.ID, "signout") == [], "an unapproved person got signed in"

    # The Tirana coordinator approves the person, then signs out.
    sign_in(browser, server, COORDINATOR_TIRANA, DEMO_PASSWORD)
    assert_signed_in_home(browser)
    visit(browser, f"{server}/approvals")
    row_selector = f'tr[data-email="{email}"]'
    row = wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, row_selector),
                              f"{email} is not pending on /approvals")
    row.find_element(By.CSS_SELECTOR, 'button[name="decision"][value="reject"]')
    submit(browser, row.find_element(By.CSS_SELECTOR, 'button[name="decision"][value="approve"]'))
    still_pending = browser.find_elements(
        By.CSS_SELECTOR, f'{row_selector} button[name="decision"][value="approve"]')
    assert still_pending == [], f"{email} is still pending after approval"
    sign_out(browser)

    # Now the new person signs in and lands on the home dashboard.
    sign_in(browser, server, email, password)
    assert_signed_in_home(browser, name)

    # Albanian, then Macedonian.
    switch_language(browser, "sq")
    find(browser, "signout")
    switch_language(browser, "mk")
    find(browser, "signout")

    sign_out(browser)


def test_failed_sign_in_shows_errors_and_keeps_the_email(server, browser):
    sign_in(browser, server, STAFF_TIRANA, "not-the-password")
    errors = find(browser, "form-errors")
    assert errors.get_attribute("role") == "alert"
    assert errors.text.strip(), "#form-errors is empty"
    assert find(browser, "email").get_attribute("value") == STAFF_TIRANA
    assert browser.find_elements(By.ID, "signout") == [], "a wrong password signed someone in"
    find(browser, "nav-signin")


def test_lang_query_parameter_renders_serbian_cyrillic_when_signed_out(server, browser):
    visit(browser, f"{server}/?lang=sr-Cyrl")
    assert html_lang(browser) == "sr-Cyrl"
    assert find(browser, "nav-home").text.strip() == text_of("sr-Cyrl", "nav.home")
    assert find(browser, "nav-signin").is_displayed()
