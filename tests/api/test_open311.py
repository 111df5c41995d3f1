"""Open311 GeoReport v2 under /open311/v2/ (issue 25, item 1), on SQLite and PostgreSQL.

A civic-issue client (the ``georeport`` package from PyPI) reads services,
requests and one request from a real server, in JSON and in XML; a POST
of a request becomes a need; every answer has the specification's field
names, types, root elements and error format; and without a key no answer
holds anything personal.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from georeport import GeoReport

from api import open311_schemas as m
from api.app import create_app
from domain.actor import Role
from infrastructure.store import Services
from tests.serving import in_process
from tests.world import REGISTRAR, World, build_world

BASE = "/open311/v2"
W3C_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"

# The specification's fields of a service request and their JSON types
# (http://wiki.open311.org/GeoReport_v2, "GET Service Requests"). Linli's ids
# are UUIDs, so service_request_id is a string.
REQUEST_FIELDS: dict[str, type | tuple[type, ...]] = {
    "service_request_id": str,
    "status": str,
    "status_notes": str,
    "service_name": str,
    "service_code": str,
    "description": str,
    "agency_responsible": str,
    "service_notice": str,
    "requested_datetime": str,
    "updated_datetime": str,
    "expected_datetime": str,
    "address": str,
    "address_id": str,
    "zipcode": str,
    "lat": (int, float),
    "long": (int, float),
    "media_url": str,
}
REQUIRED_REQUEST_FIELDS = {"service_request_id", "status", "service_code", "requested_datetime"}
DATETIME_FIELDS = {"requested_datetime", "updated_datetime", "expected_datetime"}
# "GET Service List".
SERVICE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "service_code": str,
    "service_name": str,
    "description": str,
    "metadata": bool,
    "type": str,
    "keywords": str,
    "group": str,
}
# The update feed (the servicerequestupdates extension).
UPDATE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "update_id": int,
    "service_request_id": str,
    "status": str,
    "updated_datetime": str,
    "description": str,
    "media_url": str,
}


def open311_app(services: Services) -> FastAPI:
    """The app (api/app.py includes the Open311 router)."""
    return create_app(services=services)


@pytest.fixture
def o311(services: Services) -> Iterator[TestClient]:
    with TestClient(open311_app(services)) as client:
        yield client


def served(services: Services):  # noqa: ANN201 - a context manager
    """The app on a real uvicorn server on a free port, in a thread; its base URL."""
    return in_process(open311_app(services))


def caught_up(services: Services) -> None:
    position = services.app.recorder.max_notification_id() or 0
    assert services.updater.wait_for(position, 10), "the views did not catch up"


def key(world: World, who: str) -> dict[str, str]:
    """A POST's api_key field."""
    return {"api_key": world.tokens[who]}


def bearer(world: World, who: str | None) -> dict[str, str]:
    """The header a GET sends its key in (never the URL: URLs are logged)."""
    return world.headers(who) if who else {}


# ----- a world with needs at several steps -----------------------------------------------


def seed(world: World) -> dict[str, str]:
    """Needs: one reported, one in progress, one resolved, one redone (open
    again), one closed after evaluation, one rejected."""
    app, a = world.services.app, world.actors
    pc = world.parties["property_company"]

    def register(who: str = "grid_worker", **extra: Any) -> UUID:
        source = "self_report" if who.startswith("resident") else "household_visit"
        fields = {"title": "电梯停运", "description": "电梯自周一起停运", "category": "facilities"}
        return app.register_need(a[who], compound_id=world.compound_id, source=source, **{**fields, **extra}).id

    def to_progress(need: UUID) -> UUID:
        app.accept_need(a["staff"], need, priority="normal")
        app.assign_need(a["staff"], need, party_id=pc)
        app.acknowledge_need(a["property_company"], need)
        return need

    reported = register(category="environment")
    progress = to_progress(register())
    resolved = to_progress(register())
    app.resolve_need(a["property_company"], resolved, outcome="已修复")
    redone = to_progress(register("resident"))
    app.resolve_need(a["property_company"], redone, outcome="已修复")
    app.evaluate_need(a["resident"], redone, evaluation="unsatisfied", comment="又坏了", resolved=False)
    closed = to_progress(register("resident"))
    app.resolve_need(a["property_company"], closed, outcome="已修复")
    app.evaluate_need(a["resident"], closed, evaluation="satisfied", resolved=True)
    rejected = register()
    app.reject_need(a["staff"], rejected, reason="不属于小区事务")
    caught_up(world.services)
    return {
        name: str(need)
        for name, need in {
            "reported": reported, "progress": progress, "resolved": resolved,
            "redone": redone, "closed": closed, "rejected": rejected,
        }.items()
    }


# ----- checking the specification's shapes --------------------------------------------------


def check_fields(item: dict[str, Any], fields: dict[str, Any], where: str) -> None:
    assert set(item) <= set(fields), f"{where}: fields not in the specification: {set(item) - set(fields)}"
    for name, value in item.items():
        assert value is not None, f"{where}: {name} is null (absent fields are left out)"
        assert isinstance(value, fields[name]), f"{where}: {name} is {type(value).__name__}"
        if isinstance(fields[name], type) and fields[name] is int:
            assert not isinstance(value, bool), f"{where}: {name}"


def check_request(item: dict[str, Any]) -> None:
    check_fields(item, REQUEST_FIELDS, "request")
    assert REQUIRED_REQUEST_FIELDS <= set(item), item
    assert item["status"] in ("open", "closed")
    for name in DATETIME_FIELDS & set(item):
        assert re.match(W3C_UTC, item[name]), (name, item[name])
    m.ServiceRequest.model_validate(item)


def xml_items(text: bytes | str, root: str, item: str) -> list[dict[str, str]]:
    """The items of an XML answer, each as {element: text}; checks the root."""
    data = text.encode() if isinstance(text, str) else text
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), data[:60]
    tree = ET.fromstring(data)
    assert tree.tag == root, tree.tag
    found = []
    for element in tree:
        assert element.tag == item, element.tag
        found.append({child.tag: child.text or "" for child in element})
    return found


def json_error(response: httpx.Response | Any, code: int) -> str:
    assert response.status_code == code, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    m.Errors.model_validate(body)
    assert isinstance(body, list) and body[0]["code"] == code and set(body[0]) == {"code", "description"}
    return body[0]["description"]  # type: ignore[no-any-return]


def xml_error(response: httpx.Response | Any, code: int) -> str:
    assert response.status_code == code, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("text/xml")
    [error] = xml_items(response.content, "errors", "error")
    assert set(error) == {"code", "description"} and error["code"] == str(code)
    return error["description"]


# ----- a real client against a real server ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_services_requests_and_one_request(services: Services, fmt: str) -> None:
    world = build_world(services)
    needs = seed(world)
    with served(services) as base:
        client = GeoReport(f"{base}{BASE}", jurisdiction=str(world.compound_id), output_format=fmt)

        listed = client.get_service_list()
        assert [s["service_code"] for s in listed][:2] == ["property_service", "facilities"]
        if fmt == "json":
            for service in listed:
                check_fields(service, SERVICE_FIELDS, "service")
                assert service["metadata"] is False
            m.Services.model_validate(listed)
        else:
            assert all(s["metadata"] == "false" for s in listed)
        facilities = next(s for s in listed if s["service_code"] == "facilities")
        assert facilities["service_name"] == "设施设备"

        definition = client.get_service_definition("facilities")
        assert definition["service_code"] == "facilities"
        if fmt == "json":
            m.ServiceDefinition.model_validate(definition)

        requests = client.get_service_requests()
        assert {r["service_request_id"] for r in requests} == set(needs.values())
        by_id = {r["service_request_id"]: r for r in requests}
        if fmt == "json":
            for request in requests:
                check_request(request)
            m.ServiceRequests.model_validate(requests)
        status = {name: by_id[need]["status"] for name, need in needs.items()}
        assert status == {
            "reported": "open", "progress": "open", "resolved": "closed",
            "redone": "open", "closed": "closed", "rejected": "closed",
        }
        progress = by_id[needs["progress"]]
        assert progress["agency_responsible"] == "property_company 甲"
        assert progress["service_name"] == "设施设备"
        assert progress["address"].startswith("幸福里小区")
        assert "expected_datetime" in progress and "expected_datetime" not in by_id[needs["closed"]]

        closed_only = client.get_service_requests(status="closed", service_code="facilities")
        closed_only = closed_only if isinstance(closed_only, list) else [closed_only]
        assert {r["service_request_id"] for r in closed_only} == {
            needs["resolved"], needs["closed"], needs["rejected"]
        }

        one = client.get_service_request(needs["progress"])
        assert one["service_request_id"] == needs["progress"]
        assert one["status"] == "open"
        if fmt == "json":
            check_request(one)

        # And the XML parses with the standard library, element names as the specification's.
        if fmt == "xml":
            answer = httpx.get(f"{base}{BASE}/requests.xml")
            items = xml_items(answer.content, "service_requests", "request")
            assert len(items) == len(needs)
            for item in items:
                assert set(item) <= set(REQUEST_FIELDS)
                assert REQUIRED_REQUEST_FIELDS <= set(item)


# ----- reporting a need --------------------------------------------------------------------------


def test_a_posted_request_becomes_a_need(services: Services) -> None:
    world = build_world(services)
    caught_up(services)
    with served(services) as base:
        form = {
            **key(world, "staff"),
            "jurisdiction_id": str(world.compound_id),
            "service_code": "safety",
            "description": "1号楼消防通道被堵\n三轮车和纸箱堆满了通道",
            "address_string": "1号楼 东侧消防通道",
            "lat": "39.9", "long": "116.4",
            "first_name": "市民", "email": "someone@example.org",
        }
        answer = httpx.post(f"{base}{BASE}/requests.json", data=form)
        assert answer.status_code == 200, answer.text
        m.RequestsCreated.model_validate(answer.json())
        [created] = answer.json()
        assert set(created) <= {"service_request_id", "token", "service_notice", "account_id"}
        need = services.views.need(created["service_request_id"])
        assert need is not None, "readable at once"
        assert need["source"] == "hotline"
        assert need["title"] == "1号楼消防通道被堵"
        assert need["description"] == form["description"]
        assert need["category"] == "safety"
        assert need["location"] == "1号楼 东侧消防通道"
        building = services.views.case("compound", str(world.compound_id))["buildings"][0]
        assert need["building_id"] == building["id"]

        # In XML, by a resident (their own report), with the key as a bearer token.
        headers = {"Authorization": f"Bearer {world.tokens['resident']}"}
        answer = httpx.post(
            f"{base}{BASE}/requests.xml",
            data={"service_code": "environment", "description": "垃圾桶满了" * 30},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        [created] = xml_items(answer.content, "service_requests", "request")
        need = services.views.need(created["service_request_id"])
        assert need["source"] == "self_report" and need["compound_id"] == str(world.compound_id)
        assert len(need["title"]) == 80 and need["title"].endswith("…")

        # The token is the request's id.
        token = httpx.get(f"{base}{BASE}/tokens/{created['service_request_id']}.json", headers=headers)
        assert token.json() == [{"service_request_id": created["service_request_id"], "token": created["service_request_id"]}]
        m.TokenRequests.model_validate(token.json())
        [token_xml] = xml_items(
            httpx.get(f"{base}{BASE}/tokens/{created['service_request_id']}.xml").content,
            "service_requests", "request",
        )
        assert token_xml["service_request_id"] == created["service_request_id"]

        # A property company's report is its party's request of the compound.
        answer = httpx.post(f"{base}{BASE}/requests.json", data={
            **key(world, "property_company"), "service_code": "other", "description": "借用活动室",
            "jurisdiction_id": str(world.compound_id),
        })
        need = services.views.need(answer.json()[0]["service_request_id"])
        assert need["source"] == "party_request" and need["toward"] == "compound"


def test_reporting_errors_are_in_the_specifications_format(o311: TestClient, world: World) -> None:
    url = f"{BASE}/requests"
    compound = str(world.compound_id)
    fields = {"service_code": "safety", "description": "楼道灯坏了", "jurisdiction_id": compound}
    assert "api_key" in json_error(o311.post(f"{url}.json", data=fields), 401)
    assert xml_error(o311.post(f"{url}.xml", data=fields), 401)
    json_error(o311.post(f"{url}.json", data={**fields, "api_key": "linli_" + "x" * 43}), 401)
    assert "may not need register" in json_error(o311.post(f"{url}.json", data={**fields, **key(world, "supervisor")}), 403)
    assert "may not need register" in xml_error(o311.post(f"{url}.xml", data={**fields, **key(world, "admin")}), 403)
    staff = {**fields, **key(world, "staff")}
    assert "service_code" in json_error(o311.post(f"{url}.json", data={**staff, "service_code": ""}), 400)
    json_error(o311.post(f"{url}.json", data={**staff, "service_code": "pothole"}), 404)
    assert "description" in json_error(o311.post(f"{url}.json", data={**staff, "description": " "}), 400)
    json_error(o311.post(f"{url}.json", data={**staff, "jurisdiction_id": str(world.other_compound_id)}), 404)
    json_error(o311.post(f"{url}.json", data={**staff, "jurisdiction_id": "nowhere"}), 404)
    json_error(o311.post(f"{url}.json", data={**staff, "description": "x" * 6000}), 400)
    # Staff of every compound name the compound; staff of one need not.
    del staff["jurisdiction_id"]
    assert o311.post(f"{url}.json", data=staff).status_code == 200
    json_error(o311.post(f"{url}.json", data={**staff, **key(world, "supervisor")}), 403)
    assert len(needs_titled(world, "楼道灯坏了")) == 1  # the refused reports wrote nothing


def needs_titled(world: World, title: str) -> list[dict[str, Any]]:
    rows, _ = world.services.views.needs(now=datetime.now(UTC), limit=100)
    return [r for r in rows if r["title"] == title]


# ----- reading: visibility, filters, errors ------------------------------------------------------


def test_a_key_reads_what_its_credential_reads(o311: TestClient, world: World) -> None:
    needs = seed(world)
    url = f"{BASE}/requests.json"

    def ids(who: str | None, **params: str) -> set[str]:
        answer = o311.get(url, params=params, headers=bearer(world, who))
        assert answer.status_code == 200, answer.text
        for item in answer.json():
            check_request(item)
        return {r["service_request_id"] for r in answer.json()}

    everything = set(needs.values())
    assert ids(None) == everything  # the public face of every need
    assert ids("staff") == everything
    assert ids("supervisor") == everything
    assert ids("resident") == {needs["redone"], needs["closed"]}  # their own reports
    assert ids("resident2") == set()
    assert ids("other_staff") == set()
    assert ids("property_company") == {needs["progress"], needs["resolved"], needs["redone"], needs["closed"]}
    assert ids("admin") == everything  # reads no needs in Linli: what anyone reads

    # By the bearer header too.
    answer = o311.get(url, headers=world.headers("resident"))
    assert {r["service_request_id"] for r in answer.json()} == {needs["redone"], needs["closed"]}

    # With a key the texts the credential reads; without, none.
    [mine] = o311.get(url, params={"service_request_id": needs["closed"]}, headers=bearer(world, "resident")).json()
    assert mine["description"] == "电梯自周一起停运"
    assert "已修复" in mine["status_notes"]
    [public] = o311.get(url, params={"service_request_id": needs["closed"]}).json()
    assert "description" not in public and public["status_notes"] == "已归档 (Closed)"
    [rejected] = o311.get(url, params={"service_request_id": needs["rejected"]}, headers=bearer(world, "staff")).json()
    assert "不属于小区事务" in rejected["status_notes"]

    # One request the credential may not see is not found, as in Linli's API.
    json_error(o311.get(f"{BASE}/requests/{needs['progress']}.json", headers=bearer(world, "resident")), 404)
    xml_error(o311.get(f"{BASE}/requests/{needs['progress']}.xml", headers=bearer(world, "resident2")), 404)
    assert o311.get(f"{BASE}/requests/{needs['progress']}.json").status_code == 200
    json_error(o311.get(f"{BASE}/tokens/{needs['progress']}.json", headers=bearer(world, "resident")), 404)
    # A list of ids: those the caller may see.
    listed = ids("resident", service_request_id=f"{needs['progress']},{needs['closed']},not-an-id")
    assert listed == {needs["closed"]}
    # A bad key is refused, never read as no key.
    json_error(o311.get(url, headers={"Authorization": "Bearer linli_forged"}), 401)
    # A key in the URL is refused (URLs are logged), valid or not.
    assert "Authorization" in json_error(o311.get(url, params=key(world, "staff")), 400)
    xml_error(o311.get(f"{BASE}/requests.xml", params={"api_key": "linli_forged"}), 400)
    json_error(o311.post(url, params=key(world, "staff"), data={"service_code": "other", "description": "x"}), 400)
    xml_error(o311.get(f"{BASE}/requests.xml", headers={"Authorization": "Bearer linli_forged"}), 401)


def test_the_filters(o311: TestClient, world: World) -> None:
    needs = seed(world)
    url = f"{BASE}/requests.json"

    def ids(**params: str) -> set[str]:
        answer = o311.get(url, params=params)
        assert answer.status_code == 200, answer.text
        return {r["service_request_id"] for r in answer.json()}

    everything = set(needs.values())
    assert ids(status="open") == {needs[n] for n in ("reported", "progress", "redone")}
    assert ids(status="open,closed") == everything
    assert ids(service_code="environment") == {needs["reported"]}
    assert ids(service_code="environment,facilities") == everything
    assert ids(jurisdiction_id=str(world.compound_id)) == everything
    assert ids(jurisdiction_id=str(world.other_compound_id)) == set()
    now = datetime.now(UTC)
    hour = timedelta(hours=1)
    z = "%Y-%m-%dT%H:%M:%SZ"
    assert ids(start_date=(now - hour).strftime(z), end_date=(now + hour).strftime(z)) == everything
    assert ids(start_date=(now + hour).strftime(z)) == set()
    assert ids(end_date=(now - hour).strftime(z)) == set()
    assert ids(start_date=(now - hour).astimezone().isoformat()) == everything  # an offset
    # The ids override the other parameters, as the specification says.
    assert ids(service_request_id=needs["reported"], status="closed") == {needs["reported"]}

    json_error(o311.get(url, params={"status": "pending"}), 400)
    json_error(o311.get(url, params={"service_code": "pothole"}), 400)
    json_error(o311.get(url, params={"start_date": "yesterday"}), 400)
    json_error(o311.get(url, params={"start_date": "2026-11-02T02:00:00"}), 400)  # no zone
    json_error(o311.get(url, params={"start_date": "2026-11-03T00:00:00Z", "end_date": "2026-11-02T00:00:00Z"}), 400)
    json_error(o311.get(url, params={"jurisdiction_id": "00000000-0000-0000-0000-000000000001"}), 404)
    xml_error(o311.get(f"{BASE}/requests.xml", params={"jurisdiction_id": "nowhere"}), 404)
    json_error(o311.get(f"{BASE}/services.json", params={"jurisdiction_id": "nowhere"}), 404)
    json_error(o311.get(f"{BASE}/requests/{UUID(int=7)}.json"), 404)
    json_error(o311.get(f"{BASE}/requests/not-a-need.json"), 404)
    xml_error(o311.get(f"{BASE}/services/pothole.xml"), 404)
    json_error(o311.get(f"{BASE}/tokens/nothing.json"), 404)


def test_discovery_and_service_definition(o311: TestClient, world: World) -> None:
    answer = o311.get(f"{BASE}/discovery.json")
    assert answer.status_code == 200
    discovery = m.Discovery.model_validate(answer.json())
    [endpoint] = discovery.endpoints
    assert endpoint.specification == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.url.endswith("/open311/v2")
    assert set(endpoint.formats) == {"application/json", "text/xml"}
    tree = ET.fromstring(o311.get(f"{BASE}/discovery.xml").content)
    assert tree.tag == "discovery"
    assert [f.text for f in tree.find("endpoints/endpoint/formats")] == ["application/json", "text/xml"]  # type: ignore[union-attr]
    assert tree.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"

    answer = o311.get(f"{BASE}/services/facilities.json", params={"jurisdiction_id": str(world.compound_id)})
    assert answer.json() == {"service_code": "facilities", "attributes": []}
    tree = ET.fromstring(o311.get(f"{BASE}/services/facilities.xml").content)
    assert tree.tag == "service_definition" and tree.findtext("service_code") == "facilities"
    [service] = [
        s for s in xml_items(o311.get(f"{BASE}/services.xml").content, "services", "service")
        if s["service_code"] == "safety"
    ]
    assert service == {
        "service_code": "safety", "service_name": "安全隐患", "description": "安全隐患 (Safety)",
        "metadata": "false", "type": "realtime", "keywords": "safety", "group": "诉求",
    }


# ----- the update feed ---------------------------------------------------------------------------


def test_the_update_feed_follows_every_event(o311: TestClient, world: World) -> None:
    needs = seed(world)
    url = f"{BASE}/servicerequestupdates.json"
    answer = o311.get(url)
    assert answer.status_code == 200, answer.text
    feed = answer.json()
    m.RequestUpdates.model_validate(feed)
    for update in feed:
        check_fields(update, UPDATE_FIELDS, "update")
        assert re.match(W3C_UTC, update["updated_datetime"])
    ids = [u["update_id"] for u in feed]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    redone = [u for u in feed if u["service_request_id"] == needs["redone"]]
    # registered, accepted, assigned, acknowledged, resolved, evaluated (redo).
    assert [u["status"] for u in redone] == ["open", "open", "open", "open", "closed", "open"]
    assert redone[2]["description"] == "已派单：property_company 甲 (assigned to property_company 甲)"
    history = world.services.views.history(needs["redone"])
    assert [u["update_id"] for u in redone] == [e["position"] for e in history if e["case_type"] == "need"]
    assert len(feed) == sum(
        1 for n in needs.values() for e in world.services.views.history(n) if e["case_type"] == "need"
    )

    # Paging on: after the last update seen, only the newer ones.
    middle = ids[len(ids) // 2]
    later = o311.get(url, params={"after": str(middle)}).json()
    assert [u["update_id"] for u in later] == [i for i in ids if i > middle]
    world.services.app.add_need_note(world.actors["property_company"], UUID(needs["progress"]), text="已联系厂家")
    caught_up(world.services)
    [new] = o311.get(url, params={"after": str(ids[-1])}).json()
    assert new["service_request_id"] == needs["progress"] and new["status"] == "open"
    assert new["description"] == "办理进展已更新 (progress noted)"
    # With a key, the trail's own words, as Linli's history shows that credential.
    [keyed] = o311.get(url, params={"after": str(ids[-1])}, headers=bearer(world, "property_company")).json()
    assert "已联系厂家" in keyed["description"]
    assert o311.get(url, params={"after": str(ids[-1])}, headers=bearer(world, "resident")).json() == []

    xml = xml_items(o311.get(f"{BASE}/servicerequestupdates.xml").content, "service_requests_updates", "request_update")
    assert [int(u["update_id"]) for u in xml] == [*ids, new["update_id"]]
    now = datetime.now(UTC)
    assert o311.get(url, params={"start_date": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}).json() == []
    assert o311.get(url, params={"jurisdiction_id": str(world.other_compound_id)}).json() == []
    json_error(o311.get(url, params={"after": "-1"}), 400)


# ----- privacy -----------------------------------------------------------------------------------

SECRETS = {
    "person": "隐私张三丰PRIVNAME",
    "household": "HHPRIV7731",
    "owner": "OWNERPRIV5521",
    "title": "TITLEPRIV1122漏水",
    "description": "DESCPRIV3344楼上漏水",
    "location": "LOCPRIV9911三单元",
    "attachment": "https://example.org/ATTACHPRIV1357.jpg",
    "assign_reason": "ASSIGNPRIV6677",
    "note": "NOTEPRIV5566",
    "supervision": "SUPERPRIV4455",
    "outcome": "OUTCOMEPRIV7788",
    "comment": "COMMENTPRIV9900",
    "comment2": "COMMENTPRIV9901",
    "reject_reason": "REASONPRIV2233",
    "posted": "POSTPRIV2468",
    "posted_address": "ADDRPRIV1212",
}


def test_no_answer_without_a_key_holds_anything_personal(o311: TestClient, world: World) -> None:
    services, app, a = world.services, world.services.app, world.actors
    compound = world.compound_id
    caught_up(services)
    building = UUID(services.views.case("compound", str(compound))["buildings"][0]["id"])
    owner = services.people.register(SECRETS["owner"], created_by="test")
    household, _ = app.add_household(
        REGISTRAR, compound, building_id=building, number=SECRETS["household"],
        exclusive_area=Decimal("80"), owner_id=owner.id,
    )
    person = services.people.register(SECRETS["person"], created_by="test")
    issued = services.credentials.issue(
        person_id=person.id, role=Role.RESIDENT, compound_ids=[compound], household_id=household
    )
    resident = issued.actor
    pc = world.parties["property_company"]

    mine = app.register_need(
        resident, compound_id=compound, source="self_report", title=SECRETS["title"],
        description=SECRETS["description"], location=SECRETS["location"], household_id=household,
        attachments=[SECRETS["attachment"]], category="facilities",
    ).id
    app.accept_need(a["staff"], mine, priority="normal")
    app.assign_need(a["staff"], mine, party_id=pc, reason=SECRETS["assign_reason"])
    app.acknowledge_need(a["property_company"], mine)
    app.add_need_note(a["property_company"], mine, text=SECRETS["note"], attachments=[SECRETS["attachment"]])
    app.supervise_need(a["supervisor"], mine, text=SECRETS["supervision"])
    app.resolve_need(a["property_company"], mine, outcome=SECRETS["outcome"])
    app.evaluate_need(resident, mine, evaluation="unsatisfied", comment=SECRETS["comment"], resolved=False)
    app.acknowledge_need(a["property_company"], mine)
    app.resolve_need(a["property_company"], mine, outcome=SECRETS["outcome"])
    app.evaluate_need(resident, mine, evaluation="satisfied", comment=SECRETS["comment2"], resolved=True)
    visited = app.register_need(
        a["grid_worker"], compound_id=compound, source="household_visit", title=SECRETS["title"],
        description=SECRETS["description"], household_id=household,
    ).id
    app.reject_need(a["staff"], visited, reason=SECRETS["reject_reason"])
    posted = o311.post(f"{BASE}/requests.json", data={
        **key(world, "staff"), "service_code": "safety", "description": SECRETS["posted"],
        "address_string": f"1号楼 {SECRETS['posted_address']}",
    })
    assert posted.status_code == 200, posted.text
    posted_id = posted.json()[0]["service_request_id"]
    caught_up(services)

    forbidden = {**SECRETS, "person_id": person.id, "household_id": str(household),
                 "reporter": a["grid_worker"].id, "token": issued.token}
    # With the resident's own key the texts are there: the secrets are reachable.
    keyed = o311.get(f"{BASE}/requests/{mine}.json", headers={"Authorization": f"Bearer {issued.token}"}).text
    assert SECRETS["description"] in keyed and SECRETS["location"] in keyed

    ids = [str(mine), str(visited), posted_id]
    paths = ["discovery", "services", "services/facilities", "requests", "servicerequestupdates"]
    paths += [f"requests/{i}" for i in ids] + [f"tokens/{i}" for i in ids]
    queries: list[dict[str, str]] = [
        {}, {"jurisdiction_id": str(compound)}, {"service_request_id": ",".join(ids)},
        {"status": "closed"}, {"status": "open"},
    ]
    answers = 0
    for path in paths:
        for fmt in ("json", "xml"):
            for query in queries:
                answer = o311.get(f"{BASE}/{path}.{fmt}", params=query)
                assert answer.status_code == 200, (path, fmt, query, answer.text)
                answers += 1
                text = answer.content.decode("utf-8")
                leaked = [name for name, value in forbidden.items() if value in text]
                assert leaked == [], f"{path}.{fmt} {query} shows {leaked}"
                if fmt == "xml":
                    ET.fromstring(answer.content)
    assert answers == len(paths) * 2 * len(queries)
    # What the public does see of them: category, status, dates, party, building.
    [public] = o311.get(f"{BASE}/requests/{mine}.json").json()
    assert set(public) == {
        "service_request_id", "status", "status_notes", "service_name", "service_code",
        "agency_responsible", "requested_datetime", "updated_datetime", "address",
    }
    assert public["address"] == "幸福里小区 1号楼" and public["status"] == "closed"
