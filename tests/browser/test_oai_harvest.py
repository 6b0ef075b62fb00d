"""The repository's OAI-PMH 2.0 provider at /oai, harvested as a harvester
would, with the `sickle` client (and raw requests for the error answers).

No browser: only the `server` fixture (the real `interba serve` on a fresh
SQLite with the demo data). What to expect is computed from the demo data,
Resources/Seed/repository.json: public records that are published are
harvestable, public records that were published and are now archived are listed
as deleted (persistent deleted records), nothing else is harvested.

Other tests of the lane run on the same server and may publish public records
of their own (test_repository_journey.py does): such records are recognised by
a title that is not in the demo data, and are allowed on top of the demo
records. No test of the lane archives a record, so the deleted ones are exactly
the demo data's.

Schema validation (OAI-PMH.xsd, oai_dc.xsd) is left out: the schemas are not
stored here and there is no network to fetch them. The demo data fits in one
page (100 items), so the provider hands out no resumption token here; a bad
token is checked.

At the end: set names match exactly (no SQL wildcard `_`, no case folding)."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
import requests
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import BadArgument, BadResumptionToken, CannotDisseminateFormat, IdDoesNotExist, NoRecordsMatch

from support import ROOT

OAI = "{http://www.openarchives.org/OAI/2.0/}"
SEED = ROOT / "Resources" / "Seed" / "repository.json"
DATESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
HARVESTABLE_STATES = ("published", "archived")


# -------------------------------------------------------------------- helpers


def seed_records() -> list[dict]:
    with SEED.open(encoding="utf-8") as f:
        return json.load(f)["records"]


def seed_expectations() -> dict:
    """From the demo data: the live (public, published) records by title, the
    number of deleted ones (public, archived), and the titles of every other
    record (which must never be harvested as live)."""
    live: dict[str, dict] = {}
    deleted: list[dict] = []
    hidden: set[str] = set()
    for record in seed_records():
        latest = record["versions"][-1]
        if record["visibility"] == "public" and record["state"] == "published":
            assert latest["title"] not in live, f"two demo records share the title {latest['title']!r}"
            live[latest["title"]] = {"record": record, "version": latest}
        elif record["visibility"] == "public" and record["state"] == "archived":
            deleted.append(record)
        else:
            hidden.add(latest["title"])
    return {"live": live, "deleted": deleted, "hidden": hidden,
            "all_titles": {r["versions"][-1]["title"] for r in seed_records()}}


class CountingSickle(Sickle):
    """Sickle that remembers every request it makes (to see the pages it followed)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests: list[dict] = []

    def harvest(self, **kwargs):
        self.requests.append(dict(kwargs))
        return super().harvest(**kwargs)


def harvester(server: str) -> CountingSickle:
    return CountingSickle(f"{server}/oai", max_retries=0, timeout=60)


def raw(server: str, **params) -> etree._Element:
    """GET /oai with these arguments; the parsed document (always HTTP 200, text/xml)."""
    response = requests.get(f"{server}/oai", params=params, timeout=60)
    assert response.status_code == 200, f"/oai {params}: HTTP {response.status_code}"
    assert response.headers.get("content-type", "").startswith("text/xml"), response.headers
    root = etree.fromstring(response.content)
    assert root.tag == f"{OAI}OAI-PMH", f"/oai {params}: the root is {root.tag}"
    assert DATESTAMP.match(root.findtext(f"{OAI}responseDate") or ""), etree.tostring(root)[:300]
    request = root.find(f"{OAI}request")
    assert request is not None and request.text == f"{server}/oai", f"/oai {params}: <request> is {request}"
    return root


def error_codes(root: etree._Element) -> list[str]:
    return [error.get("code") for error in root.findall(f"{OAI}error")]


def expect_error(server: str, code: str, **params) -> etree._Element:
    root = raw(server, **params)
    codes = error_codes(root)
    assert code in codes, f"/oai {params} answers the errors {codes}, expected {code}"
    assert all((root.findtext(f"{OAI}error[@code='{c}']") or "").strip() for c in codes), "an <error> has no message"
    if code in ("badVerb", "badArgument"):
        # The spec: after badVerb or badArgument the request element carries no attributes.
        assert dict(root.find(f"{OAI}request").attrib) == {}, f"/oai {params}: <request> echoes {root.find(f'{OAI}request').attrib}"
    return root


def anonymous_search_total(server: str, **params) -> int:
    response = requests.get(f"{server}/repository", params=params, timeout=60)
    assert response.status_code == 200, f"/repository {params}: HTTP {response.status_code}"
    match = re.search(r'<h2 id="results-heading">([^<]*)</h2>', response.text)
    assert match, f"/repository {params} has no #results-heading"
    return int(re.sub(r"\D", "", match.group(1)))


@pytest.fixture(scope="module")
def harvest(server):
    """Everything, deleted records included, with ListRecords and with ListIdentifiers."""
    sickle = harvester(server)
    records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
    record_requests = list(sickle.requests)
    sickle.requests.clear()
    headers = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False))
    return {"records": records, "headers": headers, "record_requests": record_requests,
            "header_requests": list(sickle.requests)}


# ---------------------------------------------------------------------- tests


def test_identify_formats_and_sets(server):
    sickle = harvester(server)
    identify = sickle.Identify()
    assert identify.repositoryName.strip(), "Identify has an empty repositoryName"
    assert identify.baseURL == f"{server}/oai"
    assert identify.protocolVersion == "2.0"
    assert identify.deletedRecord == "persistent"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert DATESTAMP.match(identify.earliestDatestamp), identify.earliestDatestamp
    assert "@" in identify.adminEmail, identify.adminEmail

    # The same answer by POST.
    posted = Sickle(f"{server}/oai", http_method="POST", timeout=60).Identify()
    assert posted.repositoryName == identify.repositoryName and posted.deletedRecord == "persistent"

    formats = {fmt.metadataPrefix: fmt for fmt in sickle.ListMetadataFormats()}
    assert "oai_dc" in formats, f"ListMetadataFormats offers {sorted(formats)}"
    assert formats["oai_dc"].metadataNamespace == "http://www.openarchives.org/OAI/2.0/oai_dc/"
    assert formats["oai_dc"].schema == "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"

    specs = [s.setSpec for s in sickle.ListSets()]
    assert len(specs) == len(set(specs)), f"ListSets repeats a setSpec: {[s for s, n in Counter(specs).items() if n > 1]}"
    for spec in ("area", "institution", "area:A4", "institution:tirana"):
        assert spec in specs, f"ListSets lacks {spec!r}: {specs}"
    assert {f"area:A{n}" for n in range(1, 14)} <= set(specs)
    for record in seed_records():
        assert f"institution:{record['institution']}" in specs, f"ListSets lacks institution:{record['institution']}"


def test_full_harvest_matches_the_demo_data(server, harvest):
    expected = seed_expectations()
    records = harvest["records"]

    # Every page was followed: the last request answered without a further token.
    assert harvest["record_requests"][0] == {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    for later in harvest["record_requests"][1:]:
        assert set(later) == {"verb", "resumptionToken"}, later

    identifiers = [r.header.identifier for r in records]
    assert len(identifiers) == len(set(identifiers)), (
        f"ListRecords repeats identifiers: {[i for i, n in Counter(identifiers).items() if n > 1]}")
    prefix = f"oai:{urlparse(server).hostname}:"
    for record in records:
        assert record.header.identifier.startswith(prefix), record.header.identifier
        assert DATESTAMP.match(record.header.datestamp), record.header.datestamp

    deleted = [r for r in records if r.deleted]
    live = [r for r in records if not r.deleted]
    assert len(deleted) == len(expected["deleted"]) == 2, (
        f"{len(deleted)} deleted records harvested, the demo data has {len(expected['deleted'])} archived public records")
    for record in deleted:
        assert record.header.deleted
        assert record.xml.find(f"{OAI}metadata") is None, f"the deleted {record.header.identifier} carries metadata"

    titles = Counter(r.metadata.get("title", [""])[0] for r in live)
    assert all(n == 1 for n in titles.values()), f"titles harvested twice: {[t for t, n in titles.items() if n > 1]}"
    missing = set(expected["live"]) - set(titles)
    assert not missing, f"public published demo records not harvested: {sorted(missing)}"
    leaked = set(titles) & expected["hidden"]
    assert not leaked, f"demo records that are not public and published were harvested: {sorted(leaked)}"
    extra = set(titles) - expected["all_titles"]
    assert len(live) == len(expected["live"]) + len(extra), (len(live), len(expected["live"]), extra)
    assert len(expected["live"]) == 50, f"the demo data has {len(expected['live'])} public published records"
    assert len(records) == len(expected["live"]) + len(extra) + len(expected["deleted"])

    # The Dublin Core of each demo record says what the demo data says.
    for record in live:
        dc = record.metadata
        title = dc["title"][0]
        if title not in expected["live"]:
            continue
        version = expected["live"][title]["version"]
        record_id = record.header.identifier[len(prefix):]
        assert dc.get("identifier") == [f"{server}/repository/{record_id.upper()}"] or \
            dc.get("identifier") == [f"{server}/repository/{record_id}"], f"{title}: dc:identifier {dc.get('identifier')}"
        assert dc.get("creator") == [c["name"] for c in version["creators"]], f"{title}: dc:creator {dc.get('creator')}"
        assert dc.get("language") == version["languages"], f"{title}: dc:language {dc.get('language')}"
        assert dc.get("date") == [str(version["year"])], f"{title}: dc:date {dc.get('date')}"
        assert dc.get("rights", [""])[0].startswith(version["licence"]), f"{title}: dc:rights {dc.get('rights')}"
        assert len(dc.get("subject", [])) == len(version["areas"]), f"{title}: dc:subject {dc.get('subject')}"
        assert dc.get("description", [""])[0].strip(), f"{title}: no dc:description"
        institution = expected["live"][title]["record"]["institution"]
        specs = set(record.header.setSpecs)
        assert specs == {f"area:{a}" for a in version["areas"]} | {f"institution:{institution}"}, (
            f"{title}: setSpecs {sorted(specs)}")


def test_list_identifiers_gives_the_same_items(harvest):
    from_records = {r.header.identifier: (r.header.deleted, r.header.datestamp, tuple(r.header.setSpecs))
                    for r in harvest["records"]}
    from_headers = {h.identifier: (h.deleted, h.datestamp, tuple(h.setSpecs)) for h in harvest["headers"]}
    assert len(from_headers) == len(harvest["headers"]), "ListIdentifiers repeats identifiers"
    assert from_headers == from_records, (
        f"ListIdentifiers and ListRecords differ: only in ListIdentifiers {sorted(set(from_headers) - set(from_records))}, "
        f"only in ListRecords {sorted(set(from_records) - set(from_headers))}")
    assert sum(1 for h in harvest["headers"] if h.deleted) == 2


def test_get_record_of_live_and_deleted_items(server, harvest):
    sickle = harvester(server)
    live = next(r for r in harvest["records"] if not r.deleted)
    got = sickle.GetRecord(identifier=live.header.identifier, metadataPrefix="oai_dc")
    assert not got.deleted
    assert got.header.identifier == live.header.identifier
    assert got.metadata == live.metadata

    for gone in (r for r in harvest["records"] if r.deleted):
        got = sickle.GetRecord(identifier=gone.header.identifier, metadataPrefix="oai_dc")
        assert got.deleted and got.header.deleted, f"GetRecord {gone.header.identifier} is not deleted"
        assert got.xml.find(f"{OAI}metadata") is None, f"GetRecord of the deleted {gone.header.identifier} carries metadata"
        root = raw(server, verb="GetRecord", identifier=gone.header.identifier, metadataPrefix="oai_dc")
        header = root.find(f"{OAI}GetRecord/{OAI}record/{OAI}header")
        assert header is not None and header.get("status") == "deleted"
        assert root.find(f".//{OAI}metadata") is None
        # A deleted item still has its formats.
        formats = [f.metadataPrefix for f in sickle.ListMetadataFormats(identifier=gone.header.identifier)]
        assert formats == ["oai_dc"], formats


@pytest.mark.parametrize("spec", ["institution:tirana", "area:A4", "area:A1", "area"])
def test_set_restricted_harvest(server, harvest, spec):
    in_set = list(harvester(server).ListRecords(metadataPrefix="oai_dc", set=spec, ignore_deleted=False))
    got = {r.header.identifier for r in in_set}
    assert len(got) == len(in_set), f"set={spec} repeats identifiers"
    expected = {r.header.identifier for r in harvest["records"]
                if any(s == spec or s.startswith(spec + ":") for s in r.header.setSpecs)}
    assert got == expected, (
        f"set={spec}: {len(got)} records, the full harvest has {len(expected)} in it; "
        f"outside the set: {sorted(got - expected)}; missing: {sorted(expected - got)}")
    for record in in_set:
        assert any(s == spec or s.startswith(spec + ":") for s in record.header.setSpecs), (
            f"set={spec} returned {record.header.identifier} with setSpecs {record.header.setSpecs}")

    if spec == "institution:tirana":
        demo = [r for r in seed_records() if r["institution"] == "tirana" and r["visibility"] == "public"
                and r["state"] in HARVESTABLE_STATES]
        assert len(got) >= len(demo) > 0, f"set={spec}: {len(got)} records, the demo data has {len(demo)}"
        titles = {r.metadata["title"][0] for r in in_set if not r.deleted}
        demo_live = {r["versions"][-1]["title"] for r in demo if r["state"] == "published"}
        assert demo_live <= titles, f"set={spec} lacks {sorted(demo_live - titles)}"
        for record in in_set:
            if not record.deleted:
                assert record.metadata.get("publisher") == ["University of Tirana"], record.metadata.get("publisher")


def test_date_windows(server, harvest):
    sickle = harvester(server)
    future = (datetime.now(timezone.utc) + timedelta(days=400)).strftime("%Y-%m-%d")
    later = (datetime.now(timezone.utc) + timedelta(days=800)).strftime("%Y-%m-%d")
    with pytest.raises(NoRecordsMatch):
        list(sickle.ListRecords(metadataPrefix="oai_dc", **{"from": future, "until": later}))
    with pytest.raises(NoRecordsMatch):
        list(sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": f"{future}T00:00:00Z"}))
    expect_error(server, "noRecordsMatch", verb="ListRecords", metadataPrefix="oai_dc", until="1999-12-31")

    # from and until are inclusive, to the second and to the day.
    stamps = Counter(r.header.datestamp for r in harvest["records"])
    stamp = sorted(stamps)[len(stamps) // 2]
    exact = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False, **{"from": stamp, "until": stamp}))
    assert [h.datestamp for h in exact] == [stamp] * stamps[stamp], f"from=until={stamp} gives {exact}"
    day = stamp[:10]
    same_day = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False, **{"from": day, "until": day}))
    assert sorted(h.identifier for h in same_day) == sorted(
        r.header.identifier for r in harvest["records"] if r.header.datestamp.startswith(day))
    since = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False, **{"from": stamp}))
    assert len(since) == sum(n for s, n in stamps.items() if s >= stamp)
    expect_error(server, "badArgument", verb="ListRecords", metadataPrefix="oai_dc", **{"from": day, "until": stamp})
    expect_error(server, "badArgument", verb="ListRecords", metadataPrefix="oai_dc", **{"from": later, "until": future})


def test_protocol_errors(server, harvest):
    expect_error(server, "badVerb", verb="Nope")
    expect_error(server, "badVerb")
    expect_error(server, "badArgument", verb="ListRecords")
    expect_error(server, "badArgument", verb="ListRecords", metadataPrefix="oai_dc", colour="blue")
    expect_error(server, "badArgument", verb="GetRecord", metadataPrefix="oai_dc")
    expect_error(server, "badArgument", verb="ListRecords", metadataPrefix="oai_dc", **{"from": "yesterday"})
    expect_error(server, "cannotDisseminateFormat", verb="ListRecords", metadataPrefix="marc21")
    expect_error(server, "cannotDisseminateFormat", verb="ListIdentifiers", metadataPrefix="marc21")
    some = harvest["records"][0].header.identifier
    expect_error(server, "cannotDisseminateFormat", verb="GetRecord", identifier=some, metadataPrefix="marc21")
    unknown = f"oai:{urlparse(server).hostname}:{uuid.uuid4()}"
    expect_error(server, "idDoesNotExist", verb="GetRecord", identifier=unknown, metadataPrefix="oai_dc")
    expect_error(server, "idDoesNotExist", verb="GetRecord", identifier="oai:elsewhere.example:1", metadataPrefix="oai_dc")
    expect_error(server, "idDoesNotExist", verb="ListMetadataFormats", identifier=unknown)
    expect_error(server, "badResumptionToken", verb="ListRecords", resumptionToken="garbage")
    expect_error(server, "badResumptionToken", verb="ListIdentifiers", resumptionToken="garbage")
    expect_error(server, "badArgument", verb="ListRecords", resumptionToken="garbage", metadataPrefix="oai_dc")

    # sickle turns them into exceptions too.
    sickle = harvester(server)
    with pytest.raises(BadArgument):
        list(sickle.ListRecords())
    with pytest.raises(CannotDisseminateFormat):
        list(sickle.ListRecords(metadataPrefix="marc21"))
    with pytest.raises(IdDoesNotExist):
        sickle.GetRecord(identifier=unknown, metadataPrefix="oai_dc")
    with pytest.raises(BadResumptionToken):
        list(sickle.ListRecords(resumptionToken="garbage"))


def test_anonymous_search_sees_exactly_the_harvestable_records(server, harvest):
    live = [r for r in harvest["records"] if not r.deleted]
    # Harvest again now, so records published meanwhile by other tests count on both sides.
    now_live = [r for r in harvester(server).ListRecords(metadataPrefix="oai_dc") if not r.deleted]
    total = anonymous_search_total(server)
    assert total == len(now_live), (
        f"an anonymous /repository search lists {total} records, OAI-PMH harvests {len(now_live)} live ones")
    assert len(now_live) >= len(live)

    # Per country too: a public search filtered by country agrees with the harvest's dc:coverage.
    by_country = Counter(r.metadata.get("coverage", [""])[0] for r in now_live)
    albania = by_country.get("Albania", 0)
    assert albania > 0, f"no live record covers Albania: {by_country}"
    assert anonymous_search_total(server, country="AL") == albania

    # Every live record's page is public; a deleted one's identifier is not a live page.
    for record in now_live[:5]:
        url = record.metadata["identifier"][0]
        assert url.startswith(f"{server}/repository/"), url
        assert requests.get(url, timeout=60, allow_redirects=False).status_code == 200, url


# ------------------------------------------------------------- known problems


@pytest.mark.parametrize("spec", ["area:A_", "institution:tiran_", "INSTITUTION:TIRANA"])
def test_set_names_match_exactly(server, spec):
    root = raw(server, verb="ListIdentifiers", metadataPrefix="oai_dc", set=spec)
    specs = sorted({s.text for s in root.iter(f"{OAI}setSpec")})
    assert error_codes(root) == ["noRecordsMatch"], (
        f"set={spec} (no such set) answers {len(root.findall(f'.//{OAI}header'))} headers in the sets {specs[:8]}")
