"""The coordination journey in real browsers, end to end: a member of the Tirana
staff writes a Request for Knowledge (first with an audience size that is not a
number of people, which is refused with every typed value kept), saves it,
downloads it as Markdown and submits it; the Tirana coordinator finds it in the
queue, accepts it in triage, reads the ranked experts with the reasons for each
score and offers it to Eda Eksperte (whose e-mail address nobody sees yet); the
expert accepts the offer on /offers; now both sides see each other's contact
details; the expert plans and delivers; the requester evaluates, and a draft
knowledge case appears in the repository for the expert.

Every page any of them reaches is checked by support.check_page (page contract
+ axe: no serious or critical violation). The requester, the coordinator and the
expert each use their own browser. The request and its words are new on every
run; the demo expert has no availability windows, so the request asks for no
time window (a window would leave her out as unavailable).

At the end: the public directory of experts shows no e-mail address, and its
area filter narrows it."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urljoin, urlparse

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from support import boxes, checked_values, fill, find, flash_success, follow, no_form_errors, path_of, set_checked, set_date, sign_in, submit, t, visit

STAFF_TIRANA = "staff.tirana@demo.interba.test"
COORDINATOR_TIRANA = "coordinator.tirana@demo.interba.test"
EXPERT_TIRANA = "expert.tirana@demo.interba.test"
EXPERT_NAME = "Eda Eksperte"
REGIONAL_EXPERT_NAME = "Emir Hodžić"
SESSION_COOKIE = "interba_session"
REQUEST_PATH = re.compile(r"^/requests/([0-9A-Fa-f-]{36})$")
RECORD_PATH = re.compile(r"^/repository/([0-9A-Fa-f-]{36})$")
COMPONENTS = ("topic", "language", "format", "availability", "quality", "proximity", "load")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


# -------------------------------------------------------------------- helpers


def expect_state(driver: WebDriver, state: str) -> None:
    shown = find(driver, "request-state")
    assert f"state-{state}" in (shown.get_attribute("class") or "").split(), (
        f"#request-state on {driver.current_url} has the classes {shown.get_attribute('class')!r}, expected state-{state}")
    assert shown.text.strip() == t(driver, f"rfk.state.{state}"), f"#request-state reads {shown.text!r}, expected {state}"


def contact_emails(driver: WebDriver) -> set[str]:
    """The e-mail addresses in the #contacts section (its mailto: links)."""
    links = find(driver, "contacts").find_elements(By.CSS_SELECTOR, 'a[href^="mailto:"]')
    emails = {link.text.strip() for link in links}
    for link in links:
        assert link.get_attribute("href") == f"mailto:{link.text.strip()}", link.get_attribute("href")
    return emails


def page_text(driver: WebDriver) -> str:
    """Everything in the document, hidden parts (closed <details>) included."""
    return driver.execute_script("return document.documentElement.outerHTML") or ""


def table_link(driver: WebDriver, table_id: str, path: str) -> list[WebElement]:
    return [link for link in find(driver, table_id).find_elements(By.CSS_SELECTOR, "tbody a")
            if urlparse(link.get_attribute("href")).path == path]


# ------------------------------------------------------------------- journey


def test_request_from_form_to_knowledge_case(server, browser, more_browsers):
    run = uuid.uuid4().hex[:8]
    title = f"Virtual exchange with Italian partners in teacher education {run}"
    gap = (f"Lecturers of the Faculty of Education ({run}) want to run a COIL module with a partner in Bologna,\n"
           "but nobody has designed one: what to agree on, how to assess, how to keep students engaged.")
    outcomes = "A module outline agreed with the partner and a shared assessment rubric."
    audience_role = "Lecturers of teacher education"
    areas, formats, languages = {"A4"}, {"workshop"}, {"en"}

    # 1. The requester writes the request, first with a bad audience size ------
    staff = browser
    sign_in(staff, server, STAFF_TIRANA)
    follow(staff, find(staff, "nav-requests"))
    assert path_of(staff) == "/requests", staff.current_url
    follow(staff, find(staff, "request-new"))
    assert path_of(staff) == "/requests/new", staff.current_url

    fill(staff, "title", title)
    fill(staff, "gap", gap)
    fill(staff, "outcomes", outcomes)
    for value, box in boxes(staff, "areas[]").items():
        set_checked(box, value in areas)
    for value, box in boxes(staff, "formats[]").items():
        set_checked(box, value in formats)
    for value, box in boxes(staff, "languages[]").items():
        set_checked(box, value in languages)
    fill(staff, "audience_role", audience_role)
    fill(staff, "audience_size", "-5")
    Select(find(staff, "urgency")).select_by_value("high")
    assert find(staff, "window_start").get_attribute("value") == "" and find(staff, "window_end").get_attribute("value") == ""
    submit(staff, find(staff, "request-save"))

    # ... the error summary names the audience size and links to its field ...
    errors = find(staff, "form-errors")
    assert errors.get_attribute("role") == "alert"
    message = t(staff, "rfk.error.audience-size")
    links = errors.find_elements(By.TAG_NAME, "a")
    assert [link.text.strip() for link in links] == [message], (
        f"#form-errors lists {[link.text for link in links]}, expected only the audience-size error")
    assert links[0].get_attribute("href").endswith("#audience_size"), links[0].get_attribute("href")
    field_errors = staff.find_elements(By.CSS_SELECTOR, ".has-error .field-error")
    assert [e.text.strip() for e in field_errors] == [message], f"the form shows the field errors {[e.text for e in field_errors]}"
    assert staff.find_elements(By.ID, "signout"), "the refused form signed the requester out"
    assert path_of(staff) == "/requests", f"the refused form is shown at {staff.current_url}"

    # ... and every typed value is kept.
    kept = {"title": title, "gap": gap, "outcomes": outcomes, "audience_role": audience_role, "audience_size": "-5"}
    for element_id, value in kept.items():
        shown = find(staff, element_id).get_attribute("value")
        assert shown.replace("\r\n", "\n") == value, f"#{element_id} reads {shown!r} after the refusal, typed {value!r}"
    assert checked_values(staff, "areas[]") == areas
    assert checked_values(staff, "formats[]") == formats
    assert checked_values(staff, "languages[]") == languages
    chosen = Select(find(staff, "urgency")).first_selected_option.get_attribute("value")
    assert chosen == "high", f"#urgency shows {chosen!r} after the refusal, chosen 'high'"

    # The requester corrects the size and saves the draft.
    fill(staff, "audience_size", "25")
    submit(staff, find(staff, "request-save"))
    no_form_errors(staff, "saving the request")
    match = REQUEST_PATH.match(path_of(staff))
    assert match, f"saving the request led to {staff.current_url}"
    request_path = f"/requests/{match.group(1)}"
    request_url = f"{server}{request_path}"
    flash_success(staff, "saving the request")
    assert staff.find_element(By.TAG_NAME, "h1").text.strip() == title
    expect_state(staff, "draft")
    assert f"{audience_role} (25)" in find(staff, "main").text, "the request page does not show the audience and its size"

    # The Markdown download, with the requester's session ...
    href = urljoin(staff.current_url, find(staff, "request-markdown").get_attribute("href"))
    cookie = staff.get_cookie(SESSION_COOKIE)
    assert cookie, f"the requester's browser holds no {SESSION_COOKIE} cookie"
    response = requests.get(href, cookies={SESSION_COOKIE: cookie["value"]}, timeout=30, allow_redirects=False)
    assert response.status_code == 200, f"GET {href}: {response.status_code} {response.text[:300]}"
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "text/markdown", f"GET {href}: Content-Type {content_type!r}"
    body = response.content.decode("utf-8")
    assert body.startswith(f"# {title}\n"), f"{href} starts with {body[:120]!r}"
    # (a browser sends a textarea's line breaks as CRLF; the app keeps them as sent)
    assert gap in body.replace("\r\n", "\n") and outcomes in body, f"{href} lacks the gap or the outcomes:\n{body}"
    assert response.headers.get("content-disposition", "").startswith("attachment"), response.headers
    # ... and without one it is not there.
    anonymous = requests.get(href, timeout=30, allow_redirects=False)
    assert anonymous.status_code in (302, 303, 401, 404), f"GET {href} without a session: {anonymous.status_code}"
    assert title not in anonymous.text

    # ... and submits it.
    submit(staff, find(staff, "request-submit"))
    no_form_errors(staff, "submitting the request")
    assert path_of(staff) == request_path, f"submitting led to {staff.current_url}"
    flash_success(staff, "submitting the request")
    expect_state(staff, "submitted")
    assert staff.find_elements(By.ID, "request-submit") == [], "a submitted request still offers #request-submit"
    assert staff.find_elements(By.ID, "triage-accept") == [], "the requester may triage their own request"

    # 2. The coordinator triages it and reads the ranking ----------------------
    coordinator = more_browsers("coordinator")
    sign_in(coordinator, server, COORDINATOR_TIRANA)
    follow(coordinator, find(coordinator, "nav-requests"))
    assert path_of(coordinator) == "/requests", coordinator.current_url
    queued = table_link(coordinator, "request-queue", request_path)
    assert len(queued) == 1, f"the coordinator's queue lists the request {len(queued)} times"
    assert queued[0].text.strip() == title
    follow(coordinator, queued[0])
    assert path_of(coordinator) == request_path, coordinator.current_url
    expect_state(coordinator, "submitted")
    assert coordinator.find_elements(By.ID, "candidates") == [], "experts are ranked before the triage"
    submit(coordinator, find(coordinator, "triage-accept"))
    no_form_errors(coordinator, "accepting the request in triage")
    assert path_of(coordinator) == request_path, f"the triage led to {coordinator.current_url}"
    flash_success(coordinator, "accepting in triage")
    expect_state(coordinator, "matching")

    candidates = find(coordinator, "candidates").find_elements(By.CSS_SELECTOR, "li.candidate")
    assert candidates, "#candidates lists nobody"
    names = [c.find_element(By.CSS_SELECTOR, "label strong").text.strip() for c in candidates]
    assert EXPERT_NAME in names, f"#candidates lists {names}, not {EXPERT_NAME}"
    eda = candidates[names.index(EXPERT_NAME)]
    score_text = eda.find_element(By.CSS_SELECTOR, ".score").text.strip()
    score = float(score_text.replace(",", "."))
    assert 0 < score <= 1, f"{EXPERT_NAME}'s score reads {score_text!r}"
    assert t(coordinator, "rfk.below_threshold") not in eda.text, f"{EXPERT_NAME} is below the threshold: {eda.text!r}"
    scores = [float(c.find_element(By.CSS_SELECTOR, ".score").text.strip().replace(",", ".")) for c in candidates]
    assert scores[0] == max(scores), f"the first candidate is not the best: {list(zip(names, scores))}"
    why = eda.find_element(By.TAG_NAME, "details")
    assert why.find_element(By.TAG_NAME, "summary").text.strip() == t(coordinator, "rfk.why")
    labels = [dt.get_attribute("textContent").strip() for dt in why.find_elements(By.TAG_NAME, "dt")]
    assert labels == [t(coordinator, f"rfk.component.{key}") for key in COMPONENTS], f"the reasons list {labels}"
    values = [dd.get_attribute("textContent").strip() for dd in why.find_elements(By.TAG_NAME, "dd")]
    assert all("→" in value for value in values), f"the reasons give {values}, expected 'raw → weighted'"
    why.find_element(By.TAG_NAME, "summary").click()
    assert why.get_attribute("open") is not None, "the reasons do not open"
    assert why.find_element(By.TAG_NAME, "dd").is_displayed()

    # Nobody sees the expert's address before she accepts.
    assert EXPERT_TIRANA not in page_text(coordinator), "the ranking shows the expert's e-mail address before any acceptance"
    assert coordinator.find_elements(By.ID, "contacts") == [], "contacts are shown before an offer is accepted"

    radio = eda.find_element(By.CSS_SELECTOR, 'input[type="radio"][name="expert_id"]')
    first = candidates[0].find_element(By.CSS_SELECTOR, 'input[type="radio"][name="expert_id"]')
    assert first.is_selected(), "the best candidate is not preselected"
    set_checked(radio, True)
    submit(coordinator, find(coordinator, "make-offer"))
    no_form_errors(coordinator, f"offering the request to {EXPERT_NAME}")
    assert path_of(coordinator) == request_path, f"making the offer led to {coordinator.current_url}"
    flash_success(coordinator, "making the offer")
    expect_state(coordinator, "offered")
    offers = find(coordinator, "offer-list").find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(offers) == 1 and EXPERT_NAME in offers[0].text, f"#offer-list reads {[o.text for o in offers]}"
    assert t(coordinator, "rfk.offer.open") in offers[0].text, f"the offer reads {offers[0].text!r}"
    assert EXPERT_TIRANA not in page_text(coordinator), "the coordinator sees the expert's e-mail address before she accepts"

    visit(staff, request_url)
    expect_state(staff, "offered")
    assert EXPERT_TIRANA not in page_text(staff), "the requester sees the expert's e-mail address before she accepts"
    assert EXPERT_NAME not in page_text(staff), "the requester sees who the request was offered to before she accepts"
    assert staff.find_elements(By.ID, "contacts") == []

    # 3. The expert accepts on /offers -----------------------------------------
    expert = more_browsers("expert")
    sign_in(expert, server, EXPERT_TIRANA)
    visit(expert, f"{server}/offers")
    items = [item for item in expert.find_elements(By.CSS_SELECTOR, "ul.offers > li")
             if item.find_element(By.CSS_SELECTOR, "h2 a").text.strip() == title]
    assert len(items) == 1, f"/offers lists the request {len(items)} times"
    assert urlparse(items[0].find_element(By.CSS_SELECTOR, "h2 a").get_attribute("href")).path == request_path
    assert run in items[0].text, "the offer does not show the request's gap"
    accept = items[0].find_element(By.CSS_SELECTOR, "button[id^=accept-]")
    assert accept.text.strip() == t(expert, "rfk.accept_offer")
    submit(expert, accept)
    no_form_errors(expert, "accepting the offer")
    assert path_of(expert) == request_path, f"accepting the offer led to {expert.current_url}"
    flash_success(expert, "accepting the offer")
    expect_state(expert, "accepted")

    # 4. Both sides now see each other's contacts -----------------------------
    assert contact_emails(expert) == {STAFF_TIRANA, EXPERT_TIRANA}, f"the expert's #contacts: {contact_emails(expert)}"
    visit(staff, request_url)
    expect_state(staff, "accepted")
    assert contact_emails(staff) == {STAFF_TIRANA, EXPERT_TIRANA}, f"the requester's #contacts: {contact_emails(staff)}"
    assert EXPERT_NAME in find(staff, "contacts").text

    visit(expert, f"{server}/offers")
    items = [item for item in expert.find_elements(By.CSS_SELECTOR, "ul.offers > li")
             if item.find_element(By.CSS_SELECTOR, "h2 a").text.strip() == title]
    assert len(items) == 1 and items[0].find_elements(By.CSS_SELECTOR, "button[id^=accept-]") == [], (
        "an accepted offer still offers to be accepted")

    # 5. The expert plans and delivers ----------------------------------------
    visit(expert, request_url)
    set_date(expert, "planned_on", "2030-03-14")
    Select(find(expert, "planned_format")).select_by_value("workshop")
    submit(expert, find(expert, "request-plan"))
    no_form_errors(expert, "planning the delivery")
    assert path_of(expert) == request_path, f"planning led to {expert.current_url}"
    flash_success(expert, "planning")
    expect_state(expert, "planned")
    assert expert.find_elements(By.ID, "request-plan") == [], "a planned request still offers #request-plan"
    submit(expert, find(expert, "request-deliver"))
    no_form_errors(expert, "recording the delivery")
    assert path_of(expert) == request_path, f"delivering led to {expert.current_url}"
    flash_success(expert, "delivering")
    expect_state(expert, "delivered")
    assert expert.find_elements(By.ID, "request-evaluate") == [], "the expert may evaluate their own delivery"

    # 6. The requester evaluates; a knowledge case is drafted ------------------
    visit(staff, request_url)
    expect_state(staff, "delivered")
    assert staff.find_elements(By.ID, "knowledge-case") == []
    set_checked(staff.find_element(By.CSS_SELECTOR, 'input[name="rating"][value="4"]'), True)
    fill(staff, "evaluation", f"Practical and well prepared; the rubric is already in use ({run}).")
    submit(staff, find(staff, "request-evaluate"))
    no_form_errors(staff, "evaluating the delivery")
    assert path_of(staff) == request_path, f"evaluating led to {staff.current_url}"
    flash_success(staff, "evaluating")
    expect_state(staff, "evaluated")
    assert "4 / 5" in find(staff, "main").text, "the request page does not show the rating"
    # The requester learns that a case is drafted; the draft itself is the expert's until published.
    find(staff, "knowledge-case-drafted")
    assert staff.find_elements(By.ID, "knowledge-case") == [], "the requester got a link to the expert's draft"

    # 7. The expert finds the draft knowledge case -----------------------------
    visit(expert, request_url)
    expect_state(expert, "evaluated")
    case_link = find(expert, "knowledge-case").find_element(By.TAG_NAME, "a")
    case_match = RECORD_PATH.match(urlparse(case_link.get_attribute("href")).path)
    assert case_match, f"#knowledge-case links to {case_link.get_attribute('href')}"
    case_path = case_match.group(0)
    follow(expert, case_link)
    assert path_of(expert) == case_path, f"#knowledge-case led the expert to {expert.current_url}"
    case_title = expert.find_element(By.TAG_NAME, "h1").text.strip()
    assert title in case_title, f"the knowledge case is titled {case_title!r}"
    state = find(expert, "record-state")
    assert state.text.strip() == t(expert, "repository.state.draft"), f"#record-state reads {state.text!r}"
    assert run in find(expert, "main").text
    visit(expert, f"{server}/repository/mine")
    mine = table_link(expert, "record-list", case_path)
    assert len(mine) == 1, f"/repository/mine lists the knowledge case {len(mine)} times"
    row = mine[0].find_element(By.XPATH, "ancestor::tr")
    assert t(expert, "repository.state.draft") in row.text, f"the row of the knowledge case reads {row.text!r}"

    # A visitor cannot read the request or the draft.
    assert requests.get(request_url, timeout=30, allow_redirects=False).status_code in (302, 303)
    assert requests.get(f"{server}{case_path}", timeout=30, allow_redirects=False).status_code == 404


# ---------------------------------------------------------- the directory


def test_public_directory_of_experts(server, browser):
    visit(browser, f"{server}/")
    find(browser, "nav-signin")
    follow(browser, find(browser, "nav-experts"))
    assert path_of(browser) == "/experts", browser.current_url

    def names() -> list[str]:
        return [h.text.strip() for h in browser.find_elements(By.CSS_SELECTOR, "#expert-cards > li > h3")]

    everyone = names()
    assert EXPERT_NAME in everyone and REGIONAL_EXPERT_NAME in everyone, f"/experts lists {everyone}"
    count_digits = re.sub(r"\D", "", find(browser, "experts-count").text)
    assert count_digits and int(count_digits) == len(everyone), f"#experts-count reads {find(browser, 'experts-count').text!r}"
    main = find(browser, "main")
    assert not EMAIL.search(main.text), f"/experts shows an e-mail address: {EMAIL.search(main.text).group(0)}"
    assert "@demo.interba.test" not in page_text(browser), "/experts holds an e-mail address in its markup"
    assert browser.find_elements(By.CSS_SELECTOR, 'main a[href^="mailto:"]') == []

    Select(find(browser, "area")).select_by_value("A6")
    submit(browser, find(browser, "experts-filter"))
    assert path_of(browser) == "/experts", browser.current_url
    assert parse_qs(urlparse(browser.current_url).query).get("area") == ["A6"], browser.current_url
    narrowed = names()
    assert REGIONAL_EXPERT_NAME in narrowed, f"the A6 filter drops {REGIONAL_EXPERT_NAME}: {narrowed}"
    assert EXPERT_NAME not in narrowed, f"the A6 filter keeps {EXPERT_NAME}: {narrowed}"
    assert 0 < len(narrowed) < len(everyone)
    chosen = Select(find(browser, "area")).first_selected_option.get_attribute("value")
    assert chosen == "A6", f"#area shows {chosen!r} after filtering"


# ---------------------------------------------------------- dashboards


def test_national_coordinator_dashboard(server, browser):
    """The national coordinator of Albania opens the dashboard from the navigation, reads the queue of the country,
    narrows it to one institution, and downloads the unmatched demand as a spreadsheet file."""
    sign_in(browser, server, "national.al@demo.interba.test")
    follow(browser, find(browser, "nav-coordination"))
    assert path_of(browser) == "/coordination", browser.current_url
    scope = Select(find(browser, "scope"))
    assert scope.first_selected_option.get_attribute("value") == "country:AL", scope.first_selected_option.text

    def totals() -> dict[str, int]:
        result = {}
        for row in find(browser, "queue-by-state").find_elements(By.CSS_SELECTOR, "tbody tr"):
            cells = row.find_elements(By.TAG_NAME, "td")
            result[row.get_attribute("data-state")] = int(cells[-1].text.strip())
        return result

    country = totals()
    # The demo's Tirana requests are in every state but draft.
    assert all(country.get(state, 0) >= 1 for state in ("submitted", "matching", "offered", "accepted", "planned", "delivered",
                                                         "evaluated", "closed", "rejected", "withdrawn")), country
    demand = [row.get_attribute("data-area") for row in find(browser, "unmatched-demand").find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert "A4" in demand and "A1" in demand, demand
    load = find(browser, "expert-load").text
    assert EXPERT_NAME in load, load

    # Narrow to one institution of the country: the page reloads with that scope, without JavaScript.
    tirana = next(o.get_attribute("value") for o in scope.options if o.get_attribute("value").startswith("institution:") and o.text.startswith("University of Tirana"))
    scope.select_by_value(tirana)
    submit(browser, find(browser, "scope-show"))
    assert parse_qs(urlparse(browser.current_url).query).get("scope") == [tirana], browser.current_url
    assert "Tirana" in find(browser, "scope-name").text
    narrowed = totals()
    assert sum(narrowed.values()) <= sum(country.values()), (narrowed, country)

    # The CSV download carries the same areas.
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    href = find(browser, "demand-csv").get_attribute("href")
    response = requests.get(href, cookies=cookies, timeout=30)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/csv"), response.headers["Content-Type"]
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "area,area_name,open_requests,escalated,open_listing,experts", lines[0]
    table = browser.find_elements(By.ID, "unmatched-demand")
    shown = {row.get_attribute("data-area") for row in table[0].find_elements(By.CSS_SELECTOR, "tbody tr")} if table else set()
    assert "A4" in shown, shown
    assert {line.split(",")[0] for line in lines[1:]} == shown, (lines, shown)
