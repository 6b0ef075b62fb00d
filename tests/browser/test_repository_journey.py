"""The knowledge repository's journey in real browsers, end to end: a member of
the Tirana staff fills the record form (first with a malformed ORCID iD, which
is refused with every typed value kept), creates the draft, uploads a text file
(a PNG named .pdf is refused), and submits the draft for review; the Tirana
curator finds it in the review queue and publishes it; an anonymous visitor
finds it by a word typed without its diacritics (in the title and in the file's
text), opens it and downloads the file (whole, and a byte range); the facets
narrow the results, and a search with no hits says so.

Every page any of them reaches is checked by support.check_page (page contract
+ axe: no serious or critical violation). The author, the curator and the
visitor each use their own browser. The record, its words and its file are new
on every run.

At the end: several words typed in the search box (sent as `a+b`) are searched
as separate words, not as one phrase."""

from __future__ import annotations

import json
import random
import re
import string
import struct
import unicodedata
import uuid
import zlib
from pathlib import Path
from urllib.parse import parse_qs, unquote, urljoin, urlparse

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from support import boxes, checked_values, fill, find, flash_success, follow, no_form_errors, path_of, ROOT, set_checked, sign_in, submit, t, visit

STAFF_TIRANA = "staff.tirana@demo.interba.test"
CURATOR_TIRANA = "curator.tirana@demo.interba.test"
TIRANA = "University of Tirana"
BAD_ORCID = "0000-0002-1825-0098"   # the documented example iD with a wrong check digit
GOOD_ORCID = "0000-0002-1825-0097"
RECORD_PATH = re.compile(r"^/repository/([0-9A-Fa-f-]{36})(/edit)?$")


# -------------------------------------------------------------------- helpers


def results_total(driver: WebDriver) -> int:
    """The number in the results heading ("51 records")."""
    text = find(driver, "results-heading").text
    digits = re.sub(r"\D", "", text)
    assert digits, f"#results-heading reads {text!r}"
    return int(digits)


def hit_links(driver: WebDriver) -> dict[str, WebElement]:
    """Result links by the path they lead to."""
    return {urlparse(link.get_attribute("href")).path: link
            for link in driver.find_elements(By.CSS_SELECTOR, "ol.hits li.hit h3 a")}


def search(driver: WebDriver, base_url: str, query: str) -> None:
    """The visitor types a query in the search box on /repository and sends it."""
    visit(driver, f"{base_url}/repository")
    fill(driver, "q", query)
    submit(driver, find(driver, "search-submit"))
    assert path_of(driver) == "/repository", f"searching led to {driver.current_url}"
    assert parse_qs(urlparse(driver.current_url).query).get("q") == [query], driver.current_url


def letters(count: int) -> str:
    rng = random.SystemRandom()
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(count))


def fold(text: str) -> str:
    """What a person types without diacritics: ë → e, ç → c."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if not unicodedata.combining(c))


def tiny_png() -> bytes:
    """A real 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def upload(driver: WebDriver, path: Path) -> None:
    field = find(driver, "file")
    field.send_keys(str(path))
    submit(driver, find(driver, "file-upload"))


def draft_file_names(driver: WebDriver) -> list[str]:
    return [link.text.strip() for link in driver.find_elements(By.CSS_SELECTOR, "#draft-files li > a")]


def record_state(driver: WebDriver) -> str:
    return find(driver, "record-state").text.strip()


# ------------------------------------------------------------------- journey


def test_record_from_form_to_anonymous_download(server, browser, more_browsers, tmp_path):
    run = uuid.uuid4().hex[:8]
    title_word = f"Zërë{letters(9)}"                   # unique, with diacritics; found as "zere…"
    file_word = f"ndërkombëtarizimçë{letters(9)}"      # only in the file's text
    title = f"Bashkëpunimi ndërkulturor në mësimdhënie: {title_word} {run}"
    description = ("Udhëzues i shkurtër për bashkëpunimi ndërkulturor në auditor.\n\n"
                   f"Përgatitur për testin {run}: çdo hap, me shembuj nga Shkodra dhe Korça.")
    creator = f"Arta Krasniqi-Đurić {run}"
    affiliation = "Universiteti i Tiranës"
    audience = "Pedagogë dhe studentë"
    year = "2024"
    areas = {"A4", "A7"}
    languages = {"sq", "en"}
    file_name = f"bashkëpunimi-{run}.txt"
    file_bytes = (f"bashkëpunimi ndërkulturor Zëri {run}\n"
                  f"Fjala e veçantë e këtij skedari: {file_word}.\n"
                  "Çdo student e dëgjon zërin e tjetrit.\n").encode("utf-8")
    file_path = tmp_path / file_name
    file_path.write_bytes(file_bytes)
    fake_pdf = tmp_path / f"poster-{run}.pdf"
    fake_pdf.write_bytes(tiny_png())

    # 1. The author fills the record form, first with a malformed ORCID iD ---
    author = browser
    sign_in(author, server, STAFF_TIRANA)
    follow(author, find(author, "nav-repository"))
    assert path_of(author) == "/repository", author.current_url
    follow(author, find(author, "repository-new"))
    assert path_of(author) == "/repository/new", author.current_url
    institution = Select(find(author, "institution")).first_selected_option
    assert TIRANA in institution.text, f"the preselected institution is {institution.text!r}"

    fill(author, "title", title)
    fill(author, "description", description)
    fill(author, "creators-0-name", creator)
    fill(author, "creators-0-affiliation", affiliation)
    fill(author, "creators-0-orcid", BAD_ORCID)
    Select(find(author, "resource_type")).select_by_value("guideline")
    for value, box in boxes(author, "areas[]").items():
        set_checked(box, value in areas)
    for value, box in boxes(author, "languages[]").items():
        set_checked(box, value in languages)
    fill(author, "audience", audience)
    Select(find(author, "country")).select_by_value("AL")
    fill(author, "year", year)
    Select(find(author, "licence")).select_by_value("CC-BY-SA-4.0")
    set_checked(boxes(author, "visibility")["public"], True)
    submit(author, find(author, "record-save"))

    # ... the error summary names the iD and links to its field ...
    errors = find(author, "form-errors")
    assert errors.get_attribute("role") == "alert"
    orcid_message = t(author, "repository.error.orcid")
    links = errors.find_elements(By.TAG_NAME, "a")
    assert [link.text.strip() for link in links] == [orcid_message], (
        f"#form-errors lists {[link.text for link in links]}, expected only the ORCID error")
    assert links[0].get_attribute("href").endswith("#creators-0-orcid"), links[0].get_attribute("href")
    orcid_field = find(author, "creators-0-orcid")
    assert orcid_field.get_attribute("aria-invalid") == "true"
    assert author.find_elements(By.ID, "signout"), "the refused form signed the author out"
    assert path_of(author) == "/repository", f"the refused form is shown at {author.current_url}"

    # ... and every typed value is kept.
    kept = {
        "title": title, "description": description, "creators-0-name": creator,
        "creators-0-affiliation": affiliation, "creators-0-orcid": BAD_ORCID,
        "audience": audience, "year": year,
    }
    for element_id, value in kept.items():
        shown = find(author, element_id).get_attribute("value")
        assert shown.replace("\r\n", "\n") == value, f"#{element_id} reads {shown!r} after the refusal, typed {value!r}"
    for element_id, value in (("resource_type", "guideline"), ("country", "AL"), ("licence", "CC-BY-SA-4.0")):
        chosen = Select(find(author, element_id)).first_selected_option.get_attribute("value")
        assert chosen == value, f"#{element_id} shows {chosen!r} after the refusal, chosen {value!r}"
    assert checked_values(author, "areas[]") == areas
    assert checked_values(author, "languages[]") == languages
    assert checked_values(author, "visibility") == {"public"}
    chosen = Select(find(author, "institution")).first_selected_option
    assert TIRANA in chosen.text, f"the institution shows {chosen.text!r} after the refusal"

    # The author corrects the iD and creates the draft.
    fill(author, "creators-0-orcid", GOOD_ORCID)
    submit(author, find(author, "record-save"))
    no_form_errors(author, "creating the record")
    match = RECORD_PATH.match(path_of(author))
    assert match and match.group(2) == "/edit", f"creating the record led to {author.current_url}"
    record_id = match.group(1)
    record_path = f"/repository/{record_id}"
    flash_success(author, "creating the draft")
    assert find(author, "title").get_attribute("value") == title
    assert find(author, "creators-0-orcid").get_attribute("value") == GOOD_ORCID

    # Before publication the visitor finds nothing there.
    assert requests.get(f"{server}{record_path}", timeout=30, allow_redirects=False).status_code == 404

    # 2. Files: the text file goes in, a PNG called .pdf does not ------------
    assert draft_file_names(author) == []
    upload(author, file_path)
    no_form_errors(author, f"uploading {file_name}")
    assert file_name in flash_success(author, f"uploading {file_name}")
    assert draft_file_names(author) == [file_name], f"the draft lists {draft_file_names(author)}"
    draft_href = urljoin(author.current_url, author.find_element(By.CSS_SELECTOR, "#draft-files li > a").get_attribute("href"))
    assert requests.get(draft_href, timeout=30, allow_redirects=False).status_code == 404, (
        f"a visitor can download the draft's file {draft_href}")

    upload(author, fake_pdf)
    errors = find(author, "form-errors")
    mismatch = t(author, "repository.error.file-extension-mismatch")
    assert mismatch in errors.text, f"#form-errors reads {errors.text!r}, expected {mismatch!r}"
    assert find(author, "file-error").text.strip() == mismatch
    assert find(author, "file").get_attribute("aria-invalid") == "true"
    assert draft_file_names(author) == [file_name], f"after the refused upload the draft lists {draft_file_names(author)}"

    # 3. ... and submits the draft for review from the edit form. ------------
    assert find(author, "title").get_attribute("value") == title, "the edit form lost the title after the refused upload"
    submit(author, find(author, "record-save-submit"))
    no_form_errors(author, "submitting the record")
    assert path_of(author) == record_path, f"submitting led to {author.current_url}"
    flash_success(author, "submitting for review")
    assert record_state(author) == t(author, "repository.state.in_review")
    assert author.find_elements(By.ID, "record-submit") == [], "a record in review still offers #record-submit"
    assert author.find_elements(By.ID, "review-approve") == [], "the author may publish their own record"
    shown_orcid = author.find_element(By.CSS_SELECTOR, "a.orcid")
    assert shown_orcid.get_attribute("href") == f"https://orcid.org/{GOOD_ORCID}"

    # 4. The curator publishes it from the review queue ----------------------
    curator = more_browsers("curator")
    sign_in(curator, server, CURATOR_TIRANA)
    follow(curator, find(curator, "nav-review"))
    assert path_of(curator) == "/repository/review", curator.current_url
    queued = [link for link in curator.find_elements(By.CSS_SELECTOR, "#record-list tbody a")
              if urlparse(link.get_attribute("href")).path == record_path]
    assert len(queued) == 1, f"the review queue lists the record {len(queued)} times"
    assert queued[0].text.strip() == title
    follow(curator, queued[0])
    assert path_of(curator) == record_path, curator.current_url
    assert record_state(curator) == t(curator, "repository.state.in_review")
    submit(curator, find(curator, "review-approve"))
    no_form_errors(curator, "publishing the record")
    assert path_of(curator) == record_path, f"publishing led to {curator.current_url}"
    flash_success(curator, "publishing")
    assert record_state(curator) == t(curator, "repository.state.published")
    assert curator.find_elements(By.ID, "review-approve") == [], "a published record still offers #review-approve"
    visit(curator, f"{server}/repository/review")
    still = [link for link in curator.find_elements(By.CSS_SELECTOR, "#record-list tbody a")
             if urlparse(link.get_attribute("href")).path == record_path]
    assert still == [], "the published record is still in the review queue"

    # 5. An anonymous visitor finds it without typing diacritics -------------
    visitor = more_browsers("visitor")
    for query, where in ((fold(title_word), "title"), (fold(file_word), "file text")):
        assert query.isascii() and query == query.lower(), query
        search(visitor, server, query)
        find(visitor, "nav-signin")
        found = hit_links(visitor)
        assert record_path in found, (
            f"searching {query!r} (a word of the {where} typed without diacritics) does not find the record; "
            f"hits: {[link.text for link in found.values()]}")
        assert found[record_path].text.strip() == title
        assert results_total(visitor) == len(found) == 1, (
            f"searching {query!r} finds {results_total(visitor)} records, expected only the new one")
        marks = [mark.text for mark in visitor.find_elements(By.CSS_SELECTOR, "ol.hits .snippet mark")]
        if where == "file text":
            assert any(fold(mark) == query for mark in marks), f"the snippet highlights {marks}, not {query!r}"

    # ... opens it ...
    follow(visitor, hit_links(visitor)[record_path])
    assert path_of(visitor) == record_path, visitor.current_url
    assert visitor.find_element(By.TAG_NAME, "h1").text.strip() == title
    assert record_state(visitor) == t(visitor, "repository.state.published")
    assert visitor.find_elements(By.ID, "record-edit") == [], "the visitor may edit the record"
    files = visitor.find_elements(By.CSS_SELECTOR, "a.file-link")
    assert [link.text.strip() for link in files] == [file_name], f"the record lists the files {[f.text for f in files]}"

    # ... and downloads the file, whole and a byte range, without a session.
    href = urljoin(visitor.current_url, files[0].get_attribute("href"))
    response = requests.get(href, timeout=30, allow_redirects=False)
    assert response.status_code == 200, f"GET {href}: {response.status_code} {response.text[:300]}"
    assert response.content == file_bytes, f"GET {href} returned other bytes: {response.content[:80]!r}"
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "text/plain", f"GET {href}: Content-Type {content_type!r}"
    assert "utf-8" in content_type.lower(), f"GET {href}: Content-Type {content_type!r} has no UTF-8 charset"
    disposition = response.headers.get("content-disposition", "")
    assert disposition.startswith("attachment"), f"GET {href}: Content-Disposition {disposition!r}"
    encoded = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert encoded and unquote(encoded.group(1)) == file_name, (
        f"GET {href}: Content-Disposition {disposition!r} does not name {file_name!r}")
    plain = re.search(r'filename="([^"]*)"', disposition)
    assert plain and plain.group(1).isascii() and plain.group(1).endswith(f"-{run}.txt"), (
        f"GET {href}: the ASCII filename in {disposition!r}")
    assert response.headers.get("accept-ranges") == "bytes", response.headers

    partial = requests.get(href, headers={"Range": "bytes=0-9"}, timeout=30, allow_redirects=False)
    assert partial.status_code == 206, f"GET {href} with Range bytes=0-9: {partial.status_code}"
    assert partial.content == file_bytes[:10], f"the range bytes=0-9 returned {partial.content!r}"
    assert partial.headers.get("content-range") == f"bytes 0-9/{len(file_bytes)}", partial.headers
    beyond = requests.get(href, headers={"Range": f"bytes={len(file_bytes) + 100}-"}, timeout=30, allow_redirects=False)
    assert beyond.status_code == 416, f"GET {href} with a range past the end: {beyond.status_code}"
    assert beyond.headers.get("content-range") == f"bytes */{len(file_bytes)}", beyond.headers

    # 6. The facets narrow the results ---------------------------------------
    visit(visitor, f"{server}/repository")
    everything = results_total(visitor)
    assert everything >= 51, f"/repository lists {everything} records for a visitor"
    assert visitor.find_elements(By.ID, "clear-filters") == []

    def facet_link(facet: str, value: str) -> tuple[WebElement, int]:
        for link in visitor.find_elements(By.CSS_SELECTOR, f"#facet-{facet} li a"):
            values = parse_qs(urlparse(link.get_attribute("href")).query).get(facet, [])
            if value in values and link.get_attribute("aria-current") is None:
                count = link.find_element(By.XPATH, "following-sibling::span[@class='count']").text
                return link, int(re.sub(r"\D", "", count))
        raise AssertionError(f"#facet-{facet} offers no link for {value!r} on {visitor.current_url}")

    link, expected = facet_link("area", "A4")
    assert 0 < expected < everything, f"the A4 facet counts {expected} of {everything}"
    follow(visitor, link)
    assert parse_qs(urlparse(visitor.current_url).query).get("area") == ["A4"], visitor.current_url
    in_area = results_total(visitor)
    assert in_area == expected, f"the A4 facet promised {expected} records, the page lists {in_area}"
    assert len(hit_links(visitor)) == min(in_area, 20)
    find(visitor, "clear-filters")
    selected = visitor.find_elements(By.CSS_SELECTOR, '#facet-area a[aria-current="true"]')
    assert len(selected) == 1 and "A4" in selected[0].text, "the A4 facet is not shown as chosen"

    link, expected = facet_link("language", "sq")
    assert 0 < expected <= in_area, f"the sq facet counts {expected} within A4 ({in_area})"
    follow(visitor, link)
    narrowed = results_total(visitor)
    assert narrowed == expected, f"the sq facet promised {expected} records, the page lists {narrowed}"
    assert narrowed <= in_area < everything
    assert record_path in hit_links(visitor), "the new record (A4, in Albanian, newest) is not among A4 + sq"

    follow(visitor, find(visitor, "clear-filters"))
    assert results_total(visitor) == everything, "removing the filters does not give every record back"

    # 7. A search with no hits says so ----------------------------------------
    search(visitor, server, f"qzxwvk{letters(10)}")
    find(visitor, "no-results")
    assert results_total(visitor) == 0
    assert hit_links(visitor) == {}


# ------------------------------------------------------------- known problems


def test_words_typed_in_the_search_box_are_separate_words(server, browser):
    """Two words of a public demo record's title, typed in the reverse order
    and without diacritics, find it (words, not a phrase)."""
    with (ROOT / "Resources" / "Seed" / "repository.json").open(encoding="utf-8") as f:
        records = json.load(f)["records"]
    for record in records:
        title = record["versions"][-1]["title"]
        words = [word for word in re.findall(r"\w+", title) if len(word) >= 4 and word.isalpha()]
        if record["visibility"] == "public" and record["state"] == "published" and len(words) >= 2 \
                and fold(words[0]) != fold(words[-1]):
            break
    else:
        pytest.fail("no public published demo record has a title of two words", pytrace=False)
    query = f"{fold(words[-1])} {fold(words[0])}"
    search(browser, server, query)
    shown = find(browser, "q").get_attribute("value")
    assert shown == query, f"the search box shows {shown!r} after searching {query!r}"
    titles = [link.text.strip() for link in hit_links(browser).values()]
    assert title in titles, f"searching {query!r} does not find {title!r}; hits: {titles}"
