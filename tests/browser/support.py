"""Helpers for the browser lane: navigation that checks every page, form
submission that waits for the next page, the accessibility check, and the
translation catalogs the pages are compared against."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import pytest
from axe_selenium_python import Axe
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ("en", "sq", "sr-Latn", "sr-Cyrl", "bs", "hr", "cnr", "mk")
WAIT_SECONDS = float(os.environ.get("INTERBA_BROWSER_WAIT", "20"))
BLOCKING_IMPACTS = ("serious", "critical")


def _axe_script() -> str:
    """axe-selenium-python runs the check; its bundled axe-core is 3.1 (2018).
    selenium-axe-python ships axe-core 4.x, which knows WCAG 2.1/2.2 and current
    ARIA: use that script when it is installed (scripts/install-deps installs it)."""
    try:
        import selenium_axe_python

        newer = Path(selenium_axe_python.__file__).parent / "axe-core" / "axe.min.js"
        if newer.is_file():
            return str(newer)
    except ImportError:
        pass
    import axe_selenium_python

    return str(Path(axe_selenium_python.__file__).parent / "node_modules" / "axe-core" / "axe.min.js")


AXE_SCRIPT = _axe_script()


@lru_cache(maxsize=None)
def catalog(tag: str) -> dict[str, str]:
    """The flat key → string catalog Resources/Locales/<tag>.json."""
    path = ROOT / "Resources" / "Locales" / f"{tag}.json"
    if not path.is_file():
        pytest.fail(f"translation catalog {path} is missing", pytrace=False)
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    assert isinstance(data, dict), f"{path} must be a flat JSON object"
    return data


def text_of(tag: str, key: str) -> str:
    value = catalog(tag).get(key)
    assert isinstance(value, str) and value.strip(), f"{tag}.json lacks a value for {key!r}"
    return value.strip()


def wait(driver: WebDriver, seconds: float = WAIT_SECONDS) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def find(driver: WebDriver, element_id: str) -> WebElement:
    """The element with this id, once it is visible."""
    return wait(driver).until(
        EC.visibility_of_element_located((By.ID, element_id)),
        f"no visible #{element_id} on {driver.current_url}",
    )


def html_lang(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "html").get_attribute("lang") or ""


def fill(driver: WebDriver, element_id: str, value: str) -> None:
    field = find(driver, element_id)
    field.clear()
    field.send_keys(value)


# --------------------------------------------------------------------- checks

_CONTRACT_JS = """
const tags = arguments[0];
const problems = [];
const lang = document.documentElement.getAttribute('lang');
if (!tags.includes(lang)) problems.push('<html lang> is ' + JSON.stringify(lang));
if (!document.getElementById('nav-home')) problems.push('no #nav-home link');
for (const tag of tags) {
  const b = document.getElementById('lang-' + tag);
  if (!b) { problems.push('no language button #lang-' + tag); continue; }
  if (b.name !== 'lang' || b.value !== tag) problems.push('#lang-' + tag + ' must have name="lang" value="' + tag + '"');
  const form = b.form;
  if (!form || form.method !== 'post' || !new URL(form.action).pathname.endsWith('/language'))
    problems.push('#lang-' + tag + ' is not in a <form method="post" action="/language">');
}
const out = document.getElementById('signout'), signin = document.getElementById('nav-signin');
if (!!out === !!signin) problems.push('expected exactly one of #signout (signed in) or #nav-signin (signed out)');
return problems;
"""


def check_page_contract(driver: WebDriver) -> None:
    """What every page shows: html[lang] is a UI locale, #nav-home reads that
    locale's nav.home, the language switcher, and the sign-in/sign-out control."""
    problems = driver.execute_script(_CONTRACT_JS, list(LOCALES))
    if not problems:
        lang = html_lang(driver)
        shown = driver.find_element(By.ID, "nav-home").text.strip()
        expected = text_of(lang, "nav.home")
        if shown != expected:
            problems = [f"#nav-home reads {shown!r}, {lang}.json nav.home is {expected!r}"]
    if problems:
        pytest.fail(f"page contract broken on {driver.current_url}:\n  - " + "\n  - ".join(problems), pytrace=False)


def check_a11y(driver: WebDriver) -> None:
    """Run axe-core on the current page; fail on any serious or critical violation."""
    axe = Axe(driver, script_url=AXE_SCRIPT)
    axe.inject()
    results = axe.run(options=json.dumps({"resultTypes": ["violations"]}))
    blocking = [v for v in results.get("violations", []) if v.get("impact") in BLOCKING_IMPACTS]
    if not blocking:
        return
    lines = [f"accessibility violations on {driver.current_url}:"]
    for v in blocking:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  [{v.get('helpUrl', '')}]")
        for node in v.get("nodes", [])[:10]:
            target = " ".join(str(t) for t in node.get("target", []))
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {target}  {summary}")
    pytest.fail("\n".join(lines), pytrace=False)


def check_page(driver: WebDriver) -> None:
    wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")
    check_page_contract(driver)
    check_a11y(driver)


# ----------------------------------------------------------------- navigation


def visit(driver: WebDriver, url: str) -> None:
    """Open a page and check it (contract + accessibility)."""
    driver.get(url)
    check_page(driver)


def _replaced(old_document: WebElement):
    """Wait condition: the old document's <html> is gone. Like EC.staleness_of,
    but while Chromium swaps documents chromedriver may answer "unhandled
    inspector error: Node with given id does not belong to the document"
    instead of a stale-element error; that answer means "ask again"."""

    def condition(_driver: WebDriver) -> bool:
        try:
            old_document.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in (error.msg or ""):
                return False
            raise

    return condition


def click_and_wait(driver: WebDriver, element: WebElement, what: str) -> None:
    """Click a link or button and wait until the browser shows the next document
    (after any redirects); `what` ends the message if it never does."""
    label = element.get_attribute("id") or element.get_attribute("name") or element.text
    where = driver.current_url
    old_document = driver.find_element(By.TAG_NAME, "html")
    element.click()
    wait(driver).until(_replaced(old_document), f"clicking {label!r} on {where} {what}")


def submit(driver: WebDriver, button: WebElement) -> None:
    """Click a submit button, wait until the browser shows the next document
    (after any redirects), and check that page too."""
    click_and_wait(driver, button, "loaded no new page (blocked by form validation?)")
    check_page(driver)


def follow(driver: WebDriver, link: WebElement) -> None:
    """Click a link, wait for the next document, and check it."""
    click_and_wait(driver, link, "loaded no new page")
    check_page(driver)


# -------------------------------------------------------------------- journeys

DEMO_PASSWORD = "interba-demo"


def path_of(driver: WebDriver) -> str:
    return urlparse(driver.current_url).path


def sign_in(driver: WebDriver, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    visit(driver, f"{base_url}/signin")
    fill(driver, "email", email)
    fill(driver, "password", password)
    submit(driver, find(driver, "signin-submit"))
    wait(driver).until(lambda d: path_of(d) == "/", f"signing in as {email} landed on {driver.current_url}, not /")
    find(driver, "signout")


def no_form_errors(driver: WebDriver, doing: str) -> None:
    errors = driver.find_elements(By.ID, "form-errors")
    assert not errors, f"{doing} was refused on {driver.current_url}: {errors[0].text!r}"


def flash_success(driver: WebDriver, doing: str) -> str:
    flash = wait(driver).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".flash-success")),
        f"no .flash-success after {doing} (on {driver.current_url})")
    assert flash.text.strip(), f".flash-success after {doing} is empty"
    return flash.text.strip()


def set_checked(checkbox: WebElement, checked: bool) -> None:
    if checkbox.is_selected() != checked:
        checkbox.click()
    assert checkbox.is_selected() == checked


def t(driver: WebDriver, key: str) -> str:
    """A UI string in the language the page is shown in."""
    return text_of(html_lang(driver), key)


def boxes(driver: WebDriver, name: str) -> dict[str, WebElement]:
    """The checkboxes (or radios) named `name`, by value."""
    found = driver.find_elements(By.CSS_SELECTOR, f'input[name="{name}"]')
    assert found, f"{driver.current_url} has no input named {name!r}"
    return {box.get_attribute("value"): box for box in found}


def checked_values(driver: WebDriver, name: str) -> set[str]:
    return {value for value, box in boxes(driver, name).items() if box.is_selected()}


def set_date(driver: WebDriver, element_id: str, value: str) -> None:
    """<input type="date">: typing depends on the browser's locale, so set the value."""
    field = find(driver, element_id)
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", field, value)
    assert field.get_attribute("value") == value, f"#{element_id} did not take {value!r}"
