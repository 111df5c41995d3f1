"""Open311 GeoReport v2 under ``/open311/v2/`` (DESIGN 4), in JSON and XML.

Each resource is two routes, ``….json`` and ``….xml``, answering the
specification's shapes (http://wiki.open311.org/GeoReport_v2): JSON arrays
of objects (an object for discovery and a service definition), XML with the
specification's root and element names, errors as
``[{"code": 404, "description": "…"}]`` / ``<errors><error>…`` with the
matching HTTP status. The routes are left out of the OpenAPI document: the
specification is their contract, and their form-encoded POST, their XML and
their error format are not the ``{"detail": …}`` JSON the document (and the
tests that read it) promise for every other route. ``api/open311_schemas.py``
models the JSON answers.

Who calls: anyone may read (the public face of each need, as the notice
board would show it); a bearer token (``Authorization: Bearer <key>``),
or ``api_key`` among a POST's form fields, reads what that credential reads through Linli's own API; reporting a
need (POST requests) takes a credential whose role may register needs. A
key that is not valid is refused (401), never read as no key; a key in the
URL is refused (400): URLs are logged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError

from api import schemas as s
from api.deps import ServicesDep, get_services
from api.routing import Route
from application import open311 as o
from application.access import PERMISSIONS
from domain.actor import Actor
from domain.errors import Conflict, IllegalTransition, InvalidValue, NotFound, NotPermitted
from domain.need import CATEGORIES
from infrastructure.store import Services

PREFIX = "/open311/v2"
FORMATS = ("json", "xml")
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# In XML, the element of each member of a list field.
_MEMBERS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}


# ----- answers in the specification's formats ----------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(parent: ET.Element, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if value is None:
            continue
        element = ET.SubElement(parent, name)
        if isinstance(value, list):
            for member in value:
                child = ET.SubElement(element, _MEMBERS.get(name, "item"))
                if isinstance(member, dict):
                    _fill(child, member)
                else:
                    child.text = _text(member)
        elif isinstance(value, dict):
            _fill(element, value)
        else:
            element.text = _text(value)


def xml_document(root: str, item: str | None, content: Any) -> bytes:
    """``content`` (a list of objects under ``<root><item>``, or one object
    as ``<root>``) as an XML document, declared UTF-8."""
    top = ET.Element(root)
    if item is None:
        _fill(top, content)
    else:
        for fields in content:
            _fill(ET.SubElement(top, item), fields)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(top, encoding="utf-8")


def answer(fmt: str, root: str, item: str | None, content: Any, status: int = 200) -> Response:
    if fmt == "xml":
        body = xml_document(root, item, content)
    else:
        body = orjson.dumps(content)
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt])


def error_answer(fmt: str, code: int, description: str) -> Response:
    return answer(fmt, "errors", "error", [{"code": code, "description": description}], status=code)


class Open311Route(Route):
    """Answers the errors of its route, its dependencies' too, in the
    specification's error format and in the route's format: the app's
    handlers would answer ``{"detail": …}``."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        fmt = "xml" if self.path.endswith(".xml") else "json"

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except o.Open311Error as error:
                headers = {"WWW-Authenticate": "Bearer"} if error.code == 401 else None
                refused = error_answer(fmt, error.code, error.description)
                refused.headers.update(headers or {})
                return refused
            except NotFound as error:
                return error_answer(fmt, 404, error.message)
            except NotPermitted as error:
                return error_answer(fmt, 403, error.message)
            except InvalidValue as error:
                return error_answer(fmt, 400, error.message)
            except (IllegalTransition, Conflict) as error:
                return error_answer(fmt, 409, error.message)

        return handle


router = APIRouter(route_class=Open311Route, prefix=PREFIX, tags=["open311"], include_in_schema=False)


# ----- who calls ---------------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    """A POST's fields: form-encoded as the specification sends them (or a
    JSON object of the same fields); read once, kept for the endpoint."""
    kept = getattr(request.state, "open311_form", None)
    if kept is not None:
        return kept  # type: ignore[no-any-return]
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, str] = {}
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise o.Open311Error(400, "the request body must be UTF-8") from None
        if kind == "application/json":
            try:
                loaded = json.loads(text)
            except ValueError:
                raise o.Open311Error(400, "the JSON body could not be read") from None
            if not isinstance(loaded, dict):
                raise o.Open311Error(400, "the JSON body must be an object of fields")
            fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items() if v is not None}
        elif kind in ("application/x-www-form-urlencoded", ""):
            fields = dict(parse_qsl(text, keep_blank_values=True))
        else:
            raise o.Open311Error(
                400, "send the fields form-encoded (application/x-www-form-urlencoded); "
                "media go by media_url"
            )
    request.state.open311_form = fields
    return fields


async def _key_actor(request: Request, form: dict[str, str] | None) -> Actor | None:
    """The credential of ``api_key`` (a POST's field) or of the bearer token; None without one.

    Not a key in the URL: servers and proxies log URLs (uvicorn's access log
    does), and Linli never lets a token reach a log. Such a request is
    refused, so that a client learns it at once."""
    if "api_key" in request.query_params:
        raise o.Open311Error(
            400,
            "api_key must not be sent in the URL, where logs keep it: send it as the header "
            "'Authorization: Bearer <key>', or in a POST's form fields",
        )
    token = (form or {}).get("api_key")
    if not token:
        scheme, bearer = get_authorization_scheme_param(request.headers.get("authorization"))
        if bearer and scheme.lower() == "bearer":
            token = bearer
    if not token:
        return None
    services: Services = request.app.state.services
    max_age = services.settings.auth_cache_seconds
    actor = services.credentials.recent(token, max_age)
    if actor is None:
        actor = await run_in_threadpool(services.credentials.authenticate_remembering, token, max_age)
    if actor is None:
        raise o.Open311Error(401, "invalid or revoked api_key")
    return actor


async def reader(request: Request) -> Actor | None:
    """Anyone reads; a valid key reads what its credential may."""
    return await _key_actor(request, None)


reader.linli_action = "public"  # type: ignore[attr-defined]


async def reporter(request: Request) -> Actor:
    """Reporting a need takes a credential whose role may register needs."""
    actor = await _key_actor(request, await _form(request))
    if actor is None:
        raise o.Open311Error(401, "api_key was not provided: reporting a need takes a Linli credential")
    if actor.role not in PERMISSIONS["need.register"]:
        raise o.Open311Error(403, f"role '{actor.role}' may not need register")
    return actor


reporter.linli_action = "need.register"  # type: ignore[attr-defined]


# ----- the resources -------------------------------------------------------------------------


def _one(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value.strip() if value is not None else None


def _discovery(fmt: str) -> Callable[..., Response]:
    def discovery(request: Request, _: Actor | None = Depends(reader)) -> Response:
        base = str(request.base_url).rstrip("/") + PREFIX
        content = {
            "changeset": o.CHANGESET,
            "contact": "社区工作人员 (community staff of the compound)",
            "key_service": "a Linli credential (linli token create): Authorization: Bearer <key>, or api_key in a POST",
            "endpoints": [
                {
                    "specification": o.SPECIFICATION,
                    "url": base,
                    "changeset": o.CHANGESET,
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        }
        return answer(fmt, "discovery", None, content)

    return discovery


def _services(fmt: str) -> Callable[..., Response]:
    def services(request: Request, svc: ServicesDep, actor: Actor | None = Depends(reader)) -> Response:
        o.check_jurisdiction(svc.views, _one(request, "jurisdiction_id"), actor)
        return answer(fmt, "services", "service", o.services())

    return services


def _service_definition(fmt: str) -> Callable[..., Response]:
    def service_definition(
        service_code: str, request: Request, svc: ServicesDep, actor: Actor | None = Depends(reader)
    ) -> Response:
        o.check_jurisdiction(svc.views, _one(request, "jurisdiction_id"), actor)
        return answer(fmt, "service_definition", None, o.service_definition(service_code))

    return service_definition


def _requests(fmt: str) -> Callable[..., Response]:
    def requests(request: Request, svc: ServicesDep, actor: Actor | None = Depends(reader)) -> Response:
        query = o.RequestQuery(
            service_request_ids=o.comma_list("service_request_id", _one(request, "service_request_id")),
            service_codes=o.comma_list("service_code", _one(request, "service_code"), CATEGORIES),
            start=o.parse_w3c("start_date", _one(request, "start_date")),
            end=o.parse_w3c("end_date", _one(request, "end_date")),
            statuses=o.comma_list("status", _one(request, "status"), o.OPEN311_STATUSES),
            compound_id=o.check_jurisdiction(svc.views, _one(request, "jurisdiction_id"), actor),
        )
        if query.start and query.end and query.start > query.end:
            raise o.Open311Error(400, "start_date must not be after end_date")
        found = o.service_requests(svc.views, actor, query, datetime.now(UTC))
        return answer(fmt, "service_requests", "request", found)

    return requests


def _request(fmt: str) -> Callable[..., Response]:
    def one_request(
        service_request_id: str, request: Request, svc: ServicesDep, actor: Actor | None = Depends(reader)
    ) -> Response:
        o.check_jurisdiction(svc.views, _one(request, "jurisdiction_id"), actor)
        found = o.the_request(svc.views, actor, service_request_id)
        return answer(fmt, "service_requests", "request", [found])

    return one_request


def _token(fmt: str) -> Callable[..., Response]:
    def token(token: str, svc: ServicesDep, actor: Actor | None = Depends(reader)) -> Response:
        return answer(fmt, "service_requests", "request", [o.token_request(svc.views, actor, token)])

    return token


def _report(fmt: str) -> Callable[..., Awaitable[Response]]:
    async def report(
        request: Request, svc: Services = Depends(get_services), actor: Actor = Depends(reporter)
    ) -> Response:
        form = await _form(request)
        recorded = await run_in_threadpool(_register, svc, actor, form)
        content = [{"service_request_id": str(recorded.id), "service_notice": o.SERVICE_NOTICE}]
        return answer(fmt, "service_requests", "request", content)

    return report


def _register(svc: Services, actor: Actor, form: dict[str, str]) -> Any:
    """A need from a POST's fields: Open311's names mapped to Linli's."""
    code = form.get("service_code", "").strip()
    if not code:
        raise o.Open311Error(400, "service_code was not provided")
    if code not in CATEGORIES:
        raise o.Open311Error(404, f"service_code {code!r} not found; GET services lists them")
    description = form.get("description", "").strip()
    if not description:
        raise o.Open311Error(400, "description was not provided")
    jurisdiction = form.get("jurisdiction_id", "").strip()
    if not jurisdiction and actor.compound_ids is not None and len(actor.compound_ids) == 1:
        jurisdiction = str(next(iter(actor.compound_ids)))  # the one compound the credential covers
    if not jurisdiction:
        raise o.Open311Error(400, "jurisdiction_id was not provided (the compound's id)")
    compound_id = o.check_jurisdiction(svc.views, jurisdiction, actor)
    address = form.get("address_string", "").strip() or None
    if address is None and form.get("lat") and form.get("long"):
        address = f"{form['lat'].strip()},{form['long'].strip()}"
    media = form.get("media_url", "").strip()
    source, toward = o.source_for(actor)
    try:
        fields = s.NeedRegister(
            compound_id=compound_id,
            source=source,
            title=o.title_of(description),
            description=description,
            category=code,
            building_id=o.building_named(svc.views, compound_id, address) if compound_id else None,
            location=address[:200] if address else None,
            attachments=[media] if media else [],
            toward=toward,
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise o.Open311Error(400, f"{where}: {first.get('msg', 'invalid')}") from None
    recorded = svc.app.register_need(actor, **fields.model_dump())
    # Read-your-writes: the request can be read as soon as its id is answered.
    svc.updater.wait_for(recorded.position, svc.settings.view_wait_timeout)
    return recorded


def _updates(fmt: str) -> Callable[..., Response]:
    def updates(request: Request, svc: ServicesDep, actor: Actor | None = Depends(reader)) -> Response:
        after_text = _one(request, "after") or "0"
        if not after_text.isdigit() or len(after_text) > 18:
            raise o.Open311Error(400, "after must be an update_id (a whole number)")
        query = o.UpdateQuery(
            start=o.parse_w3c("start_date", _one(request, "start_date")),
            end=o.parse_w3c("end_date", _one(request, "end_date")),
            compound_id=o.check_jurisdiction(svc.views, _one(request, "jurisdiction_id"), actor),
            after=int(after_text),
        )
        found = o.updates(svc.views, actor, query, datetime.now(UTC))
        return answer(fmt, "service_requests_updates", "request_update", found)

    return updates


for _fmt in FORMATS:
    router.add_api_route(f"/discovery.{_fmt}", _discovery(_fmt), methods=["GET"])
    router.add_api_route(f"/services.{_fmt}", _services(_fmt), methods=["GET"])
    router.add_api_route(f"/services/{{service_code}}.{_fmt}", _service_definition(_fmt), methods=["GET"])
    router.add_api_route(f"/requests.{_fmt}", _requests(_fmt), methods=["GET"])
    router.add_api_route(f"/requests.{_fmt}", _report(_fmt), methods=["POST"])
    router.add_api_route(f"/requests/{{service_request_id}}.{_fmt}", _request(_fmt), methods=["GET"])
    router.add_api_route(f"/tokens/{{token}}.{_fmt}", _token(_fmt), methods=["GET"])
    router.add_api_route(f"/servicerequestupdates.{_fmt}", _updates(_fmt), methods=["GET"])
