"""The needs-analysis journey in real browsers, end to end: the Tirana
coordinator creates a campaign, invites a student and a member of the academic
staff, opens it; the invitations arrive in the outbox; the student answers one
page, saves for later, resumes in another browser and submits; the staff member
answers in one go; the coordinator closes the campaign, analyses it, downloads
the CSV exports, validates the priority list and publishes it.

Every page any of them reaches is checked by support.check_page (page contract
+ axe: no serious or critical violation). The coordinator, the admin and each
respondent use their own browser, as they would in life. The campaign, its title
and the invitees' addresses are new on every run."""

from __future__ import annotations

import csv
import re
import uuid
from urllib.parse import urljoin, urlparse

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from support import fill, find, flash_success, follow, no_form_errors, path_of, set_checked, set_date, sign_in, submit, text_of, visit

ADMIN = "admin@demo.interba.test"
COORDINATOR_TIRANA = "coordinator.tirana@demo.interba.test"
TIRANA = "University of Tirana"
GROUPS = ("academic_staff", "students")
AREA_COUNT = 13
SESSION_COOKIE = "interba_session"
BOM = b"\xef\xbb\xbf"
CAMPAIGN_PATH = re.compile(r"^/campaigns/([0-9A-Fa-f-]{36})$")


# -------------------------------------------------------------------- helpers


def campaign_state(driver: WebDriver) -> str:
    return find(driver, "campaign-state").get_attribute("data-state") or ""


def expect_state(driver: WebDriver, state: str) -> None:
    shown = find(driver, "campaign-state")
    assert shown.get_attribute("data-state") == state, (
        f"#campaign-state on {driver.current_url} is {shown.get_attribute('data-state')!r}, expected {state!r}")
    assert shown.text.strip() == text_of("en", f"campaign.state.{state}"), f"#campaign-state reads {shown.text!r}"


def group_counts(driver: WebDriver, group: str) -> tuple[int, int]:
    """(invited, submitted) in the campaign page's row for this group."""
    cells = driver.find_elements(By.CSS_SELECTOR, f'tr[data-group="{group}"] td')
    assert len(cells) == 3, f"the campaign page has no row for the group {group!r}"
    submitted = re.match(r"\s*(\d+)", cells[2].text)
    assert submitted, f"the submitted cell for {group!r} reads {cells[2].text!r}"
    return int(cells[1].text.strip()), int(submitted.group(1))


def invitation_link(admin: WebDriver, base_url: str, address: str) -> str:
    """The personal survey link in the one outbox message to this address."""
    visit(admin, f"{base_url}/admin/outbox")
    bodies = [mail.find_element(By.CSS_SELECTOR, ".mail-body").text
              for mail in admin.find_elements(By.CSS_SELECTOR, ".mail-list .mail")
              if address in mail.find_element(By.CSS_SELECTOR, ".muted").text]
    assert len(bodies) == 1, f"/admin/outbox lists {len(bodies)} messages to {address}, expected 1"
    links = re.findall(r"(https?://\S+?/respond/[A-Za-z0-9_-]+)", bodies[0])
    assert len(links) == 1, f"the invitation to {address} holds {len(links)} survey links:\n{bodies[0]}"
    assert links[0].startswith(f"{base_url}/respond/"), (
        f"the invitation to {address} links to {links[0]}, not to this server ({base_url})")
    return links[0]


# ---------------------------------------------------------------- responding


def item_code(fieldset: WebElement) -> tuple[str, list[WebElement]]:
    """The item's real code (from its inputs' names) and its inputs."""
    inputs = fieldset.find_elements(By.CSS_SELECTOR, "input[name], textarea[name]")
    assert inputs, f"fieldset #{fieldset.get_attribute('id')} has no input"
    names = {element.get_attribute("name") for element in inputs}
    codes = {name.split(":")[1] for name in names if name.count(":") >= 1}
    assert len(codes) == 1, f"fieldset #{fieldset.get_attribute('id')} holds inputs of {sorted(codes)}"
    code = codes.pop()
    expected_id = "item-" + re.sub(r"[^0-9A-Za-z]", "-", code)
    assert fieldset.get_attribute("id") == expected_id, (
        f"the fieldset of {code} has id {fieldset.get_attribute('id')!r}, expected {expected_id!r}")
    return code, inputs


def items_on_page(driver: WebDriver) -> list[tuple[str, WebElement]]:
    fieldsets = driver.find_elements(By.CSS_SELECTOR, "form.survey fieldset.item")
    assert fieldsets, f"{driver.current_url} shows no questions (fieldset.item)"
    return [(item_code(fieldset)[0], fieldset) for fieldset in fieldsets]


def answer_page(driver: WebDriver, importance: int, performance: int) -> list[str]:
    """Answers every item of the current questionnaire page; returns the
    importance/performance item codes answered."""
    scored: list[str] = []
    for code, fieldset in items_on_page(driver):
        def some(selector: str) -> list[WebElement]:
            return fieldset.find_elements(By.CSS_SELECTOR, selector)

        if some(f'input[name="i:{code}"]'):
            set_checked(fieldset.find_element(By.CSS_SELECTOR, f'input[name="i:{code}"][value="{importance}"]'), True)
            set_checked(fieldset.find_element(By.CSS_SELECTOR, f'input[name="p:{code}"][value="{performance}"]'), True)
            scored.append(code)
        elif some(f'input[type="checkbox"][name="m:{code}"]'):
            set_checked(some(f'input[type="checkbox"][name="m:{code}"]')[0], True)
        elif some(f'input[name^="r:{code}:"]'):
            for rank, field in enumerate(some(f'input[name^="r:{code}:"]'), start=1):
                field.clear()
                field.send_keys(str(rank))
        elif some(f'textarea[name="v:{code}"]'):
            field = fieldset.find_element(By.CSS_SELECTOR, f'textarea[name="v:{code}"]')
            field.clear()
            field.send_keys("Mehr gemeinsame Projekte – më shumë projekte të përbashkëta.")
        elif some(f'.scale-points input[type="radio"][name="v:{code}"]'):  # likert
            set_checked(fieldset.find_element(By.CSS_SELECTOR, f'input[name="v:{code}"][value="3"]'), True)
        elif some(f'input[type="radio"][name="v:{code}"]'):  # single choice
            set_checked(some(f'input[type="radio"][name="v:{code}"]')[0], True)
        elif some(f'input[name="v:{code}"]'):  # number
            field = fieldset.find_element(By.CSS_SELECTOR, f'input[name="v:{code}"]')
            field.clear()
            field.send_keys("3")
        else:
            raise AssertionError(f"no way to answer {code} on {driver.current_url}")
    return scored


def page_position(driver: WebDriver) -> tuple[int, int]:
    """(page, pages) from the questionnaire's progress label "Page n of N"."""
    numbers = [int(n) for n in re.findall(r"\d+", find(driver, "progress-label").text)]
    assert len(numbers) == 2, f"#progress-label reads {find(driver, 'progress-label').text!r}"
    return numbers[0], numbers[1]


def expect_page(driver: WebDriver, token: str, number: int) -> None:
    no_form_errors(driver, f"page {number - 1} of the questionnaire")
    assert path_of(driver) == f"/respond/{token}/page/{number}", (
        f"expected page {number} of the questionnaire, the browser is on {driver.current_url}")
    assert page_position(driver)[0] == number


def answer_remaining_pages(driver: WebDriver, token: str, importance: int, performance: int) -> int:
    """From the current page to the review page, answering every page; returns the number of pages."""
    number, total = page_position(driver)
    while True:
        answer_page(driver, importance, performance)
        button = find(driver, "respond-next")
        if number == total:
            assert button.text.strip() == text_of("en", "respond.to_review"), f"the last page's button reads {button.text!r}"
        submit(driver, button)
        if number == total:
            break
        number += 1
        expect_page(driver, token, number)
    no_form_errors(driver, "the last page of the questionnaire")
    assert path_of(driver) == f"/respond/{token}/review", f"after the last page the browser is on {driver.current_url}"
    return total


def submit_review(driver: WebDriver, token: str) -> None:
    assert driver.find_elements(By.ID, "review-missing") == [], f"the review page says: {find(driver, 'review-missing').text!r}"
    unanswered = driver.find_elements(By.CSS_SELECTOR, "tr.missing")
    assert unanswered == [], f"the review lists {len(unanswered)} unanswered questions"
    submit(driver, find(driver, "respond-submit"))
    find(driver, "respond-thanks")


def token_of(link: str) -> str:
    return urlparse(link).path.rsplit("/", 1)[-1]


# ------------------------------------------------------------------- exports


def download_csv(coordinator: WebDriver, link_id: str) -> tuple[bytes, list[list[str]]]:
    """The file behind a download link, fetched with the browser's session; its raw bytes and rows."""
    href = urljoin(coordinator.current_url, find(coordinator, link_id).get_attribute("href"))
    cookie = coordinator.get_cookie(SESSION_COOKIE)
    assert cookie, f"the coordinator's browser holds no {SESSION_COOKIE} cookie"
    response = requests.get(href, cookies={SESSION_COOKIE: cookie["value"]}, timeout=30, allow_redirects=False)
    assert response.status_code == 200, f"GET {href}: {response.status_code} {response.text[:300]}"
    assert response.headers.get("content-type", "").startswith("text/csv"), f"GET {href}: {response.headers}"
    raw = response.content
    assert raw.startswith(BOM), f"{href} does not start with the UTF-8 byte-order mark: {raw[:20]!r}"
    text = raw[len(BOM):].decode("utf-8")
    lines = text.split("\r\n")
    assert lines[-1] == "", f"{href} does not end with CRLF"
    lines = lines[:-1]
    rows = list(csv.reader(lines))
    assert all(rows), f"{href} has an empty line"
    return raw, rows


def column(rows: list[list[str]], name: str) -> list[str]:
    header = rows[0]
    assert name in header, f"no column {name!r} in {header[:12]}…"
    index = header.index(name)
    return [row[index] for row in rows[1:]]


# ------------------------------------------------------------------- journey


def test_campaign_from_creation_to_published_priorities(server, browser, more_browsers):
    suffix = uuid.uuid4().hex[:10]
    title = f"IaH needs analysis {suffix}"
    invitees = {
        "students": f"student-{suffix}@example.test",
        "academic_staff": f"lecturer-{suffix}@example.test",
    }
    coordinator = browser

    # 1. The coordinator creates the campaign ---------------------------------
    sign_in(coordinator, server, COORDINATOR_TIRANA)
    follow(coordinator, find(coordinator, "nav-campaigns"))
    assert path_of(coordinator) == "/campaigns", coordinator.current_url
    follow(coordinator, find(coordinator, "new-campaign"))
    assert path_of(coordinator) == "/campaigns/new", coordinator.current_url

    fill(coordinator, "title", title)
    instrument = Select(find(coordinator, "instrument_id")).first_selected_option
    assert instrument.get_attribute("value"), "no instrument is selected by default"
    scope = Select(find(coordinator, "scope")).first_selected_option
    assert scope.get_attribute("value").startswith("institution:"), f"the preselected scope is {scope.get_attribute('value')!r}"
    assert TIRANA in scope.text, f"the preselected scope is {scope.text!r}, not {TIRANA}"
    boxes = coordinator.find_elements(By.CSS_SELECTOR, 'input[name="groups[]"]')
    assert set(GROUPS) <= {box.get_attribute("value") for box in boxes}, "the form lacks a stakeholder group"
    for box in boxes:
        set_checked(box, box.get_attribute("value") in GROUPS)
    set_date(coordinator, "opens_on", "2020-01-01")
    set_date(coordinator, "closes_on", "2099-12-31")
    fill(coordinator, "minimum_group_size", "1")
    submit(coordinator, find(coordinator, "campaign-submit"))
    no_form_errors(coordinator, "creating the campaign")
    match = CAMPAIGN_PATH.match(path_of(coordinator))
    assert match, f"creating the campaign led to {coordinator.current_url}"
    campaign_url = f"{server}/campaigns/{match.group(1)}"
    assert find(coordinator, "main").find_element(By.TAG_NAME, "h1").text.strip() == title
    expect_state(coordinator, "draft")

    # ... invites one person per group with the single-invitation form ...
    for group, address in invitees.items():
        fill(coordinator, "email", address)
        Select(find(coordinator, "group")).select_by_value(group)
        Select(find(coordinator, "institution_id")).select_by_visible_text(TIRANA)
        submit(coordinator, find(coordinator, "invite-one"))
        no_form_errors(coordinator, f"inviting {address}")
        assert address in flash_success(coordinator, f"inviting {address}")
        assert group_counts(coordinator, group) == (1, 0)

    # ... and opens it.
    submit(coordinator, find(coordinator, "campaign-open"))
    expect_state(coordinator, "open")
    assert coordinator.find_elements(By.ID, "campaign-open") == [], "an open campaign still offers #campaign-open"

    # 2. The links arrive by mail: the admin reads them in the outbox ---------
    admin = more_browsers("admin")
    sign_in(admin, server, ADMIN)
    links = {group: invitation_link(admin, server, address) for group, address in invitees.items()}
    assert links["students"] != links["academic_staff"], "both invitees got the same link"
    admin.quit()

    # 3a. The student answers page 1, saves for later ... ---------------------
    student = more_browsers("student, first visit")
    token = token_of(links["students"])
    visit(student, links["students"])
    start = find(student, "respond-start")
    assert start.text.strip() == text_of("en", "respond.start"), f"#respond-start reads {start.text!r}"
    follow(student, start)
    expect_page(student, token, 1)
    _, pages = page_position(student)
    first_page = answer_page(student, importance=5, performance=2)
    assert first_page, "page 1 of the questionnaire has no importance/performance item"
    submit(student, find(student, "respond-later"))
    assert path_of(student) == f"/respond/{token}", f"'save and finish later' led to {student.current_url}"
    flash_success(student, "saving for later")
    student.quit()

    # ... and resumes in a new browser, where page 1 is still answered.
    student = more_browsers("student, second visit")
    visit(student, links["students"])
    start = find(student, "respond-start")
    assert start.text.strip() == text_of("en", "respond.continue"), f"#respond-start reads {start.text!r} on resuming"
    follow(student, start)
    expect_page(student, token, 1)
    for code in first_page:
        for name, value in (("i", 5), ("p", 2)):
            radio = student.find_element(By.CSS_SELECTOR, f'input[name="{name}:{code}"][value="{value}"]')
            assert radio.is_selected(), f"after resuming, {name}:{code} = {value} is no longer checked"
    submit(student, find(student, "respond-next"))
    expect_page(student, token, 2)
    assert answer_remaining_pages(student, token, importance=5, performance=2) == pages
    submit_review(student, token)

    # A used link says so.
    visit(student, links["students"])
    find(student, "respond-submitted")
    assert student.find_elements(By.ID, "respond-start") == [], "a used link still offers #respond-start"

    # 3b. The lecturer answers everything in one go. --------------------------
    lecturer = more_browsers("lecturer")
    lecturer_token = token_of(links["academic_staff"])
    visit(lecturer, links["academic_staff"])
    follow(lecturer, find(lecturer, "respond-start"))
    expect_page(lecturer, lecturer_token, 1)
    answer_remaining_pages(lecturer, lecturer_token, importance=4, performance=3)
    submit_review(lecturer, lecturer_token)

    # 4. The coordinator closes the campaign and analyses it ------------------
    visit(coordinator, campaign_url)
    for group in GROUPS:
        assert group_counts(coordinator, group) == (1, 1), f"the campaign page counts {group_counts(coordinator, group)} for {group}"
    submit(coordinator, find(coordinator, "campaign-close"))
    expect_state(coordinator, "closed")
    follow(coordinator, find(coordinator, "campaign-analysis"))
    assert path_of(coordinator).endswith("/analysis"), coordinator.current_url
    submit(coordinator, find(coordinator, "analyse-submit"))
    assert path_of(coordinator) == f"{urlparse(campaign_url).path}/results", f"analysing led to {coordinator.current_url}"

    charts = coordinator.find_elements(By.CSS_SELECTOR, 'main svg[role="img"]')
    assert len(charts) == 2, f"the results page shows {len(charts)} charts (svg[role=img]), expected 2"
    table = find(coordinator, "area-table")
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == AREA_COUNT, f"#area-table has {len(rows)} rows, expected {AREA_COUNT}"
    state = find(coordinator, "campaign-state").text.strip()
    assert state == text_of("en", "campaign.state.analysed"), f"#campaign-state reads {state!r} after the analysis"

    # 5. The exports -----------------------------------------------------------
    _, responses = download_csv(coordinator, "export-responses")
    assert len(responses) == 1 + 2, f"responses.csv has {len(responses)} lines, expected a header and 2 responses"
    assert sorted(column(responses, "group")) == sorted(GROUPS), f"responses.csv groups: {column(responses, 'group')}"
    by_group = dict(zip(column(responses, "group"), zip(column(responses, "A1.1.I"), column(responses, "A1.1.P"))))
    assert by_group == {"students": ("5", "2"), "academic_staff": ("4", "3")}, f"A1.1 in responses.csv: {by_group}"

    _, areas = download_csv(coordinator, "export-areas")
    assert len(areas) == 1 + AREA_COUNT, f"areas.csv has {len(areas)} lines, expected a header and {AREA_COUNT} areas"
    assert column(areas, "rank") == [str(rank) for rank in range(1, AREA_COUNT + 1)], f"areas.csv ranks: {column(areas, 'rank')}"
    assert sorted(column(areas, "area")) == sorted(f"A{n}" for n in range(1, AREA_COUNT + 1)), column(areas, "area")

    # 6. Validation and publication --------------------------------------------
    follow(coordinator, find(coordinator, "validate-link"))
    assert path_of(coordinator).endswith("/validation"), coordinator.current_url
    included = [box.get_attribute("value") for box in coordinator.find_elements(By.CSS_SELECTOR, 'input[name="include"]')
                if box.is_selected()]
    assert included, "the validation form includes no area by default"
    for code in included:
        field = coordinator.find_element(By.CSS_SELECTOR, f'textarea[name="rationale:{code}"]')
        field.clear()
        field.send_keys(f"{code}: a priority for {TIRANA} in {title}.")
    submit(coordinator, find(coordinator, "validate-submit"))
    no_form_errors(coordinator, "validating the priorities")
    assert path_of(coordinator).endswith("/results"), f"validating led to {coordinator.current_url}"
    priorities = find(coordinator, "validated-priorities").find_elements(By.TAG_NAME, "li")
    assert len(priorities) == len(included), f"#validated-priorities lists {len(priorities)} areas, {len(included)} were included"
    before = find(coordinator, "campaign-state").text.strip()
    assert before == text_of("en", "campaign.state.validated"), f"#campaign-state reads {before!r} after validating"

    submit(coordinator, find(coordinator, "publish"))
    after = find(coordinator, "campaign-state").text.strip()
    assert after != before, f"#campaign-state still reads {after!r} after publishing"
    assert after == text_of("en", "campaign.state.published"), f"#campaign-state reads {after!r} after publishing"
    assert coordinator.find_elements(By.ID, "publish") == [], "a published campaign still offers #publish"
