"""The training journey in real browsers: the Tirana coordinator creates a pilot
training with two places whose first session is under way (registration stays
open until tomorrow); two staff members register and the third is offered the
waiting list and joins it; one of the two cancels and the third moves up by
herself; the trainer takes the roll on the phone-friendly page; the
participants evaluate; each has a certificate; an anonymous visitor verifies
one by its code; the trained-academics list of the region shows both participants (the
Tirana coordinator's only the Tirana one). The event's
iCalendar feed is parsed with the `icalendar` library.

Every page is checked by support.check_page (page contract + axe)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from support import fill, find, flash_success, follow, no_form_errors, path_of, set_checked, set_date, sign_in, submit, visit

COORDINATOR = "coordinator.tirana@demo.interba.test"
TRAINER = "trainer.tirana@demo.interba.test"
STAFF = ("staff.tirana@demo.interba.test", "staff.prishtina@demo.interba.test", "staff.skopje@demo.interba.test")
EVENT_PATH = re.compile(r"^/events/([0-9A-Fa-f-]{36})$")
TIRANA = ZoneInfo("Europe/Tirane")


def local(moment: datetime) -> str:
    return moment.astimezone(TIRANA).strftime("%Y-%m-%dT%H:%M")


def status_of(driver) -> str:
    shown = find(driver, "my-status").find_element(By.CSS_SELECTOR, ".state")
    return next(c[len("state-"):] for c in shown.get_attribute("class").split() if c.startswith("state-"))


def current_user(driver) -> str:
    return find(driver, "current-user").text.strip()


def test_pilot_training_from_registration_to_verified_certificate(server, browser, more_browsers):
    title = f"Pilot: inclusive classrooms {uuid.uuid4().hex[:6]}"
    now = datetime.now(tz=TIRANA)

    # The coordinator creates the pilot: one session under way, two places, the Tirana trainer.
    coordinator = browser
    sign_in(coordinator, server, COORDINATOR)
    visit(coordinator, f"{server}/events")
    follow(coordinator, find(coordinator, "new-event"))
    Select(find(coordinator, "kind")).select_by_value("pilot")
    fill(coordinator, "title", title)
    Select(find(coordinator, "time_zone")).select_by_value("Europe/Tirane")
    set_checked(coordinator.find_element(By.CSS_SELECTOR, 'input[name="areas[]"][value="A8"]'), True)
    set_date(coordinator, "session_start_0", local(now - timedelta(hours=1)))
    set_date(coordinator, "session_end_0", local(now + timedelta(hours=2)))
    fill(coordinator, "session_venue_0", "Rectorate, room 12")
    fill(coordinator, "trainers", TRAINER)
    fill(coordinator, "capacity", "2")
    set_date(coordinator, "registration_closes", local(now + timedelta(days=1)))
    fill(coordinator, "hours", "3")
    fill(coordinator, "min_attendance", "100")
    set_checked(find(coordinator, "requires_evaluation"), True)
    submit(coordinator, find(coordinator, "event-save"))
    no_form_errors(coordinator, "creating the pilot")
    match = EVENT_PATH.match(path_of(coordinator))
    assert match, f"saving the event led to {coordinator.current_url}"
    event_url = coordinator.current_url
    assert find(coordinator, "places").text.startswith("0"), find(coordinator, "places").text

    # Two staff members register; the third finds it full and joins the waiting list.
    people = []
    for email in STAFF:
        driver = more_browsers(email)
        sign_in(driver, server, email)
        people.append((driver, current_user(driver)))
    (sara, sara_name), (mira, mira_name), (ana, ana_name) = people
    for driver in (sara, mira):
        visit(driver, event_url)
        submit(driver, find(driver, "register"))
        flash_success(driver, "registering")
        assert status_of(driver) == "registered"
    visit(ana, event_url)
    find(ana, "event-full")
    assert not ana.find_elements(By.ID, "register"), "a full event still offers a plain registration"
    submit(ana, find(ana, "join-waitlist"))
    assert status_of(ana) == "waitlisted"

    # One cancels: the first on the waiting list gets the place without anyone doing anything.
    submit(mira, find(mira, "cancel-registration"))
    flash_success(mira, "cancelling")
    visit(ana, event_url)
    assert status_of(ana) == "registered", "the waiting list did not promote the next person"

    # The trainer takes the roll for the session under way.
    trainer = more_browsers("trainer")
    sign_in(trainer, server, TRAINER)
    visit(trainer, event_url)
    follow(trainer, find(trainer, "roll-call-1"))
    rows = trainer.find_elements(By.CSS_SELECTOR, "fieldset.roll-row")
    names = {row.find_element(By.TAG_NAME, "legend").text for row in rows}
    assert any(sara_name in n for n in names) and any(ana_name in n for n in names), names
    assert not any(mira_name in n for n in names), f"{mira_name} cancelled but is on the roll"
    for row in rows:
        row.find_element(By.CSS_SELECTOR, 'input[type="radio"][value="present"]').click()
    submit(trainer, find(trainer, "save-roll-call"))
    flash_success(trainer, "saving the roll call")

    # Both participants evaluate; the completion rule issues their certificates.
    codes = {}
    for driver, name in ((sara, sara_name), (ana, ana_name)):
        visit(driver, event_url)
        assert not driver.find_elements(By.ID, "my-certificate"), "a certificate before the evaluation"
        follow(driver, find(driver, "evaluate-link"))
        for fieldset in driver.find_elements(By.CSS_SELECTOR, "fieldset.rating"):
            fieldset.find_element(By.CSS_SELECTOR, 'input[type="radio"][value="5"]').click()
        fill(driver, "comment", "Clear and practical.")
        submit(driver, find(driver, "submit-evaluation"))
        flash_success(driver, "evaluating")
        follow(driver, find(driver, "my-certificate"))
        assert find(driver, "certificate-holder").text == name
        assert title in find(driver, "certificate-event").text
        codes[name] = find(driver, "certificate-code").text.strip()
        assert driver.find_elements(By.CSS_SELECTOR, "#certificate svg"), "no QR code on the certificate"
        pdf = requests.get(find(driver, "certificate-pdf").get_attribute("href"), timeout=30)
        assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")

    # An anonymous visitor verifies a certificate by its code.
    visitor = more_browsers("visitor")
    visit(visitor, f"{server}/verify")
    fill(visitor, "code", codes[ana_name].lower())
    submit(visitor, find(visitor, "verify-submit"))
    assert "flash-success" in find(visitor, "verify-result").get_attribute("class")
    assert find(visitor, "certificate-holder").text == ana_name
    assert "state-valid" in find(visitor, "certificate-status").get_attribute("innerHTML")
    visit(visitor, f"{server}/verify/ABCDEFGHJKMNPQRSTVWXYZ23456789ABC")
    assert "flash-error" in find(visitor, "verify-result").get_attribute("class")

    # The organiser sees the feedback.
    visit(coordinator, event_url)
    assert "Clear and practical." in find(coordinator, "comments").text
    # The Tirana coordinator's list holds Tirana's academics; the regional coordinator's holds both.
    visit(coordinator, f"{server}/trained-academics?area=A8")
    listed = find(coordinator, "trained-list").text
    assert sara_name in listed and ana_name not in listed, listed
    regional = more_browsers("regional")
    sign_in(regional, server, "regional@demo.interba.test")
    visit(regional, f"{server}/trained-academics?area=A8")
    listed = find(regional, "trained-list").text
    assert sara_name in listed and ana_name in listed, listed
    assert mira_name not in listed

    # The event's calendar, read by a real iCalendar parser.
    feed = requests.get(event_url + "/calendar.ics", timeout=30)
    assert feed.headers["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(feed.content)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    start = events[0].decoded("DTSTART")
    assert str(start.tzinfo) in ("Europe/Tirane",) or start.utcoffset() == (now - timedelta(hours=1)).utcoffset()
    assert abs((start - (now - timedelta(hours=1))).total_seconds()) < 60
    assert str(events[0]["STATUS"]) == "CONFIRMED"
    assert str(events[0]["SUMMARY"]) == title
    assert [c for c in calendar.walk() if c.name == "VTIMEZONE"][0]["TZID"] == "Europe/Tirane"
