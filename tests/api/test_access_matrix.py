"""The access matrix: every route × every member of the test world × their
own compound's object / the other compound's object / another resident's
need, each cell checked through HTTP.

``ROWS`` declares, once for each route, the roles that may call it and what
it acts on. Every cell's expected answer follows from that row and from the
visibility tables (``NEED_SEEN_BY``, ``covers``), by one rule:

* no or a forged token: 401 (public routes: ``public_status``, 200 unless said);
* a role the row does not list: 403, whatever the object;
* an object the member may not see: 404 when it is named in the path, as if
  it did not exist; 422 naming ``compound_id`` when it is named in the body;
  missing from the answer when a list is filtered to it;
* otherwise the call gets through: 200 for a query, and a list shows exactly
  what the member may see; for a command a 2xx, or a rule's 409/412/422, or
  the 403 of a case rule the row names (``case_403``).

The console's pages (``/console``: a session cookie instead of a bearer
token) are in the same table: there, no session is a 303 to the sign-in
page, a form also carries the session's CSRF token, and a command that gets
through answers 303 back to the case page (or the API's 409/422 on it).

Routes are walked from the app, so a route without a row fails
(``test_every_route_has_a_row``), as does a row whose route is gone or whose
action differs from the route's. Queries run against objects made once and
never changed; each command against objects made for it in the state its row
names, so that cells do not disturb each other. The whole matrix runs on
SQLite; a sample of routes on PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import create_app
from domain.actor import Actor, Role
from infrastructure.store import Services, build_services
from infrastructure.transparency_log import write_new_key
from tests.conftest import settings_for
from tests.world import REGISTRAR, World, build_world

# ----- the routes of the app ----------------------------------------------------------


def api_routes(app: Any) -> Iterator[APIRoute]:
    """Every APIRoute of the app, also those of included routers.

    FastAPI >= 0.16x keeps an included router as one ``_IncludedRouter`` entry
    in ``app.routes``; ``iter_route_contexts`` expands them."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: app.routes is flat
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.original_route


def route_actions(dependant: Any) -> set[str]:
    found = set()
    for dep in dependant.dependencies:
        action = getattr(dep.call, "linli_action", None)
        if action:
            found.add(action)
        found |= route_actions(dep)
    return found


def app_route_actions(app: Any | None = None) -> dict[str, set[str]]:
    """'METHOD /path' -> the actions its dependencies declare."""
    return {
        f"{method} {route.path}": route_actions(route.dependant)
        for route in api_routes(app or create_app())
        for method in route.methods
    }


# ----- who is who -----------------------------------------------------------------------

R = Role
ALL = frozenset(Role)
READERS = ALL - {R.ADMIN}
COORDINATORS = frozenset({R.COMMUNITY_STAFF, R.PARTY_BRANCH})
PARTY_STAFF = frozenset(
    {R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.PROPERTY_COMPANY, R.CO_BUILDING_UNIT}
)
CONVENERS = frozenset({R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.COMMUNITY_STAFF})
AUDITORS = frozenset(
    {R.SUPERVISOR, R.COMMUNITY_STAFF, R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.GRID_WORKER}
)
DRAFTERS = frozenset({R.PARTY_BRANCH, R.OWNERS_COMMITTEE})
OVERSEERS = frozenset({R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.COMMUNITY_STAFF})
# Admins issue credentials and nothing else (DESIGN section 1).
REGISTRARS = frozenset({R.COMMUNITY_STAFF})
# A property company's or co-building unit's staff register needs toward the compound.
REPORTERS = frozenset(
    {
        R.RESIDENT, R.GRID_WORKER, R.COMMUNITY_STAFF, R.PARTY_BRANCH, R.OWNERS_COMMITTEE,
        R.PROPERTY_COMPANY, R.CO_BUILDING_UNIT,
    }
)
# The raising party's staff evaluate and withdraw the needs it raised toward the compound.
RAISERS = frozenset({R.PROPERTY_COMPANY, R.CO_BUILDING_UNIT})
FOR_THE_REPORTER = frozenset({R.RESIDENT, R.COMMUNITY_STAFF, R.GRID_WORKER, *RAISERS})
# Community staff handle the compound's side of a need toward it: they may
# acknowledge and resolve, and a case rule refuses them any other need.
HANDLERS = frozenset({*PARTY_STAFF, R.COMMUNITY_STAFF})
NOT_HANDLERS = frozenset({"owners_committee", "staff", "other_staff"})
# Raisers are refused, by a case rule, the evaluation of needs they did not raise.
NOT_THE_REPORTERS = frozenset({"property_company", "co_building_unit", "other_property"})

# The members of the test world, in the order their cells run: those who see
# least first, so that a command that succeeds for a coordinator (an
# assignment, say) cannot change what a member after it may see.
MEMBERS = (
    "resident",
    "resident2",
    "property_company",
    "co_building_unit",
    "other_property",
    "other_staff",
    "admin",
    "grid_worker",
    "owners_committee",
    "party_branch",
    "staff",
    "supervisor",
)
ANONYMOUS = "anonymous"  # no token
FORGED = "forged"  # a token nobody issued

HOME, AWAY = "home", "away"  # the world's compound and the other one
AWAY_MEMBERS = {"other_staff", "other_property"}
EVERYWHERE = {"supervisor", "admin"}


def covers(member: str, compound: str) -> bool:
    if member in EVERYWHERE:
        return True
    return compound == own_compound(member)


def own_compound(member: str) -> str:
    return AWAY if member in AWAY_MEMBERS else HOME


def other_compound(member: str) -> str:
    return HOME if member in AWAY_MEMBERS else AWAY


# ----- the needs and who sees them ----------------------------------------------------------

# Each need's compound, who reports it, and the party it goes to once assigned.
NEEDS = {
    "N_res": (HOME, "resident", "party_branch"),  # reported by the resident
    "N_res2": (HOME, "resident2", "party_branch"),  # by the other resident
    "N_hh": (HOME, "grid_worker", "party_branch"),  # collected from the resident's household
    "N_pc": (HOME, "grid_worker", "property_company"),
    "N_cbu": (HOME, "grid_worker", "co_building_unit"),
    "N_all": (HOME, "grid_worker", "party_branch"),
    "N_o": (AWAY, "other_staff", "away_branch"),
    "N_opc": (AWAY, "other_staff", "other_property"),
    # raised by the co-building unit toward the compound (DESIGN 2.5), handled by the party branch
    "N_raised": (HOME, "co_building_unit", "party_branch"),
}
HOME_WIDE = {"grid_worker", "staff", "party_branch", "owners_committee", "supervisor"}
AWAY_WIDE = {"other_staff", "supervisor"}
NEED_SEEN_BY = {
    "N_res": HOME_WIDE | {"resident"},
    "N_res2": HOME_WIDE | {"resident2"},
    "N_hh": HOME_WIDE | {"resident"},
    "N_pc": HOME_WIDE | {"property_company"},  # once assigned to it
    "N_cbu": HOME_WIDE | {"co_building_unit"},  # once assigned to it
    "N_all": HOME_WIDE,
    "N_o": AWAY_WIDE,
    "N_opc": AWAY_WIDE | {"other_property"},  # once assigned to it
    "N_raised": HOME_WIDE | {"co_building_unit"},  # the raising party sees it from the start
}
SEEN_ONCE_ASSIGNED = {
    "N_pc": "property_company",
    "N_cbu": "co_building_unit",
    "N_opc": "other_property",
}
UNASSIGNED_STATES = {"reported", "accepted"}

OWN_NEED = {
    "resident": "N_res",
    "resident2": "N_res2",
    "property_company": "N_pc",
    "co_building_unit": "N_cbu",
    "other_property": "N_opc",
    "other_staff": "N_o",
}  # everyone else: N_all


def need_seen(member: str, need: str, state: str) -> bool:
    seen = set(NEED_SEEN_BY[need])
    if state in UNASSIGNED_STATES and need in SEEN_ONCE_ASSIGNED:
        seen.discard(SEEN_ONCE_ASSIGNED[need])
    return member in seen


# ----- the table ---------------------------------------------------------------------------

NEED, COMPOUND, COMMITMENT, CONSULTATION = "need", "compound", "commitment", "consultation"
OFFER = "offer"
WEBHOOK = "webhook"
ASSESSMENT = "assessment"
IN_BODY, IN_QUERY = "in_body", "in_query"  # a compound named in the body / in the query


@dataclass(frozen=True)
class Row:
    action: str  # as the route declares it: requires(action), or "public"
    roles: frozenset[Role] | None  # who may call it; None: anyone, without a token
    target: str | None = None  # what it acts on: one of the constants above
    state: str | None = None  # commands: the state the object is put in first
    body: Callable[[Ctx], Any] | None = None
    query: Callable[[Ctx], dict[str, Any]] | None = None
    shows: str | None = None  # queries: the kind of object the answer lists
    outside: int = 404  # the answer for an object out of sight
    case_403: frozenset[str] = frozenset()  # members a case rule refuses with 403
    public_status: int = 200  # public routes: what everyone gets
    forged_status: int | None = None  # public routes that refuse a forged token (Open311: 401)


@dataclass
class Ctx:
    """What a cell acts on: ``obj`` (a key of ``ids``) in ``compound``."""

    ids: dict[str, str]
    member: str
    obj: str | None
    compound: str

    def at(self, prefix: str) -> str:
        """The object ``prefix`` of the cell's compound."""
        return self.ids[f"{prefix}_{self.compound}"]


def _how_obtained(c: Ctx) -> dict[str, str]:
    """Staff and grid workers record an evaluation on the reporter's behalf, saying how."""
    return {} if c.member.startswith("resident") else {"obtained_by": "phone"}


def _soon(days: int = 30) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def _later() -> str:
    return (datetime.now(UTC) + timedelta(days=3)).isoformat()


def _item(number: int) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"服务{number}",
        "standard": "标准",
        "frequency": "每日",
        "time_limit": "24h",
    }


def _offer_fields() -> dict[str, Any]:
    return {
        "category": "education",
        "title": "四点半课堂",
        "description": "放学后作业辅导",
        "capacity": 20,
        "starts_on": date.today().isoformat(),
    }


def _reason(_: Ctx) -> dict[str, Any]:
    return {"reason": "矩阵测试"}


def _need_body(c: Ctx) -> dict[str, Any]:
    source = "self_report" if c.member.startswith("resident") else "household_visit"
    if MEMBER_ROLES.get(c.member) in RAISERS:
        source = "party_request"  # their needs are toward the compound
    return {
        "compound_id": c.at("compound"),
        "source": source,
        "title": "楼道灯坏了",
        "description": "三楼",
    }


# fmt: off
def _open311_report(c: Ctx) -> dict[str, Any]:
    """An Open311 report (its fields, as JSON: the matrix posts JSON bodies)."""
    return {"service_code": "facilities", "description": "楼道灯坏了", "jurisdiction_id": c.at("compound")}


WEBHOOKERS = frozenset({R.COMMUNITY_STAFF, R.ADMIN})
HOOK_URL = "http://127.0.0.1:9/hook"  # nothing listens: deliveries fail, which is fine here


ROWS: dict[str, Row] = {
    # operations
    "GET /healthz": Row("public", None),
    "GET /readyz": Row("public", None),
    "GET /metrics": Row("public", None),
    "GET /docs": Row("public", None),
    "GET /redoc": Row("public", None),
    "GET /docs/assets/{name}": Row("public", None),
    # compounds and parties
    "POST /compounds": Row("compound.register", REGISTRARS, body=lambda c: {"name": f"新小区{uuid.uuid4().hex[:6]}"}),
    "POST /compounds/{compound_id}/buildings": Row("compound.change", REGISTRARS, COMPOUND, body=lambda c: {"name": f"楼{uuid.uuid4().hex[:6]}"}),
    "POST /compounds/{compound_id}/households": Row("compound.change", REGISTRARS, COMPOUND, body=lambda c: {"building_id": c.at("building"), "number": uuid.uuid4().hex[:6], "exclusive_area": "88.5"}),
    "GET /compounds": Row("compound.read", ALL, shows=COMPOUND),
    "GET /compounds/{compound_id}": Row("compound.read", ALL, COMPOUND),
    "POST /parties": Row("party.register", REGISTRARS, IN_BODY, outside=422, body=lambda c: {"compound_id": c.at("compound"), "kind": "co_building_unit", "name": "志愿队"}),
    "GET /parties": Row("party.read", ALL, IN_QUERY, shows="party", outside=200),
    # needs
    "POST /needs": Row("need.register", REPORTERS, IN_BODY, outside=422, body=_need_body),
    "POST /needs/{need_id}/accept": Row("need.accept", COORDINATORS, NEED, "reported", body=lambda c: {"priority": "normal"}),
    "POST /needs/{need_id}/assign": Row("need.assign", COORDINATORS, NEED, "accepted", body=lambda c: {"party_id": c.at("party_branch")}),
    # The owners' committee sees every need but acts on those assigned to it only.
    "POST /needs/{need_id}/acknowledge": Row("need.acknowledge", HANDLERS, NEED, "assigned", case_403=NOT_HANDLERS),
    "POST /needs/{need_id}/notes": Row("need.add_note", frozenset({R.GRID_WORKER, R.COMMUNITY_STAFF, *PARTY_STAFF}), NEED, "in_progress", body=lambda c: {"text": "已联系电工"}, case_403=frozenset({"owners_committee"})),
    "POST /needs/{need_id}/extend": Row("need.extend", COORDINATORS, NEED, "in_progress", body=lambda c: {"reason": "配件未到", "working_days": 2}),
    "POST /needs/{need_id}/resolve": Row("need.resolve", HANDLERS, NEED, "in_progress", body=lambda c: {"outcome": "已更换灯泡"}, case_403=NOT_HANDLERS),
    "POST /needs/{need_id}/evaluate": Row("need.evaluate", FOR_THE_REPORTER, NEED, "resolved", body=lambda c: {"evaluation": "satisfied", **_how_obtained(c)}, case_403=NOT_THE_REPORTERS),
    # The provider that resolved a closed need evaluates the compound's side (双向评价).
    "POST /needs/{need_id}/evaluate-compound": Row("need.evaluate_compound", RAISERS, NEED, "closed", body=lambda c: {"coordination": "satisfied", "cooperation": "basically_satisfied"}),
    "POST /needs/{need_id}/close": Row("need.close", frozenset({R.COMMUNITY_STAFF}), NEED, "resolved", body=_reason),
    "POST /needs/{need_id}/reject": Row("need.reject", COORDINATORS, NEED, "reported", body=_reason),
    "POST /needs/{need_id}/merge": Row("need.merge", COORDINATORS, NEED, "reported", body=lambda c: {"into_need_id": c.at("into"), "reason": "重复"}),
    "POST /needs/{need_id}/transfer": Row("need.transfer", COORDINATORS, NEED, "accepted", body=lambda c: {"to_body": "区住建局", "reason": "不属本小区"}),
    "POST /needs/{need_id}/withdraw": Row("need.withdraw", FOR_THE_REPORTER, NEED, "reported", body=_reason),
    "POST /needs/{need_id}/supervise": Row("need.supervise", frozenset({R.SUPERVISOR}), NEED, "in_progress", body=lambda c: {"text": "请加快办理"}),
    "POST /needs/{need_id}/exclusions": Row("need.exclude", frozenset({R.SUPERVISOR}), NEED, "assigned", body=lambda c: {"party_id": c.ids[f"party_{c.obj}"], "reason": "复核认定不合理"}),
    "POST /needs/{need_id}/exclusions/{party_id}/revoke": Row("need.exclude", frozenset({R.SUPERVISOR}), NEED, "excluded", body=lambda c: {"reason": "复核后恢复"}),
    "POST /needs/{need_id}/escalate": Row("need.escalate", CONVENERS, NEED, "in_progress", body=lambda c: {"consultation_id": c.at("consultation")}),
    "GET /needs": Row("need.read", READERS, IN_QUERY, shows=NEED, outside=200, query=lambda c: {"limit": 200}),
    "GET /needs/{need_id}": Row("need.read", READERS, NEED),
    "GET /needs/{need_id}/history": Row("need.read", READERS, NEED),
    # service commitments
    "POST /commitments": Row("commitment.draft", DRAFTERS, IN_BODY, outside=422, body=lambda c: {"compound_id": c.at("compound"), "provider_party_id": c.at("provider"), "title": "服务清单", "items": [_item(1)]}),
    "POST /commitments/{commitment_id}/opinions": Row("commitment.opinion", REPORTERS - RAISERS, COMMITMENT, "draft", body=lambda c: {"text": "建议增加夜间巡逻"}),
    # A co-building unit is not this list's provider: only the provider's staff confirm.
    "POST /commitments/{commitment_id}/confirm": Row("commitment.confirm", PARTY_STAFF, COMMITMENT, "draft", body=lambda c: {"list_version": 1}, case_403=frozenset({"co_building_unit"})),
    "POST /commitments/{commitment_id}/amend": Row("commitment.amend", DRAFTERS, COMMITMENT, "in_effect", body=lambda c: {"reason": "增加项目", "add": [_item(2)]}),
    "POST /commitments/{commitment_id}/inspections": Row("commitment.inspect", OVERSEERS, COMMITMENT, "in_effect", body=lambda c: {"item_no": 1, "result": "met", "note": "抽查合格"}),
    "POST /commitments/{commitment_id}/suspend": Row("commitment.suspend", OVERSEERS, COMMITMENT, "in_effect", body=_reason),
    "POST /commitments/{commitment_id}/resume": Row("commitment.resume", OVERSEERS, COMMITMENT, "suspended", body=_reason),
    "POST /commitments/{commitment_id}/terminate": Row("commitment.terminate", OVERSEERS, COMMITMENT, "in_effect", body=_reason),
    "GET /commitments": Row("commitment.read", READERS, IN_QUERY, shows=COMMITMENT, outside=200),
    "GET /commitments/fulfilment": Row("commitment.read", READERS, IN_QUERY, shows=COMMITMENT, outside=200, query=lambda c: {"party_id": c.at("provider")}),
    "GET /commitments/{commitment_id}": Row("commitment.read", READERS, COMMITMENT),
    "GET /commitments/{commitment_id}/history": Row("commitment.read", READERS, COMMITMENT),
    "GET /commitments/{commitment_id}/versions/{list_version}": Row("commitment.read", READERS, COMMITMENT),
    "GET /commitments/{commitment_id}/fulfilment": Row("commitment.read", READERS, COMMITMENT),
    # consultations
    "POST /consultations": Row("consultation.propose", CONVENERS, IN_BODY, outside=422, body=lambda c: {"compound_id": c.at("compound"), "topic": "停车位划分"}),
    "POST /consultations/{consultation_id}/convene": Row("consultation.convene", CONVENERS, CONSULTATION, "proposed", body=lambda c: {"meets_at": _later(), "place": "社区党群服务中心", "method": "consensus"}),
    "POST /consultations/{consultation_id}/opinions": Row("consultation.record_opinion", frozenset({*PARTY_STAFF, R.COMMUNITY_STAFF, R.GRID_WORKER, R.RESIDENT}), CONSULTATION, "convened", body=lambda c: {"text": "同意方案"}),
    "POST /consultations/{consultation_id}/votes": Row("consultation.vote", frozenset({R.RESIDENT, *CONVENERS}), CONSULTATION, "voting", body=lambda c: {"choice": "for"}),
    "POST /consultations/{consultation_id}/close-vote": Row("consultation.close_vote", CONVENERS, CONSULTATION, "voting"),
    "POST /consultations/{consultation_id}/resolution": Row("consultation.record_resolution", CONVENERS, CONSULTATION, "convened", body=lambda c: {"text": "物业七日内修复"}),
    "POST /consultations/{consultation_id}/publish": Row("consultation.publish", CONVENERS, CONSULTATION, "agreed", body=lambda c: {"note": "张贴于公告栏"}),
    "POST /consultations/{consultation_id}/actions": Row("consultation.add_actions", CONVENERS, CONSULTATION, "published", body=lambda c: {"items": [{"title": "维修", "party_id": c.at("provider"), "due_on": _soon()}]}),
    # The items are the property company's: another party's staff may not complete them.
    "POST /consultations/{consultation_id}/actions/{number}/complete": Row("consultation.complete_action", frozenset({*PARTY_STAFF, R.COMMUNITY_STAFF}), CONSULTATION, "with_action", case_403=frozenset({"owners_committee", "co_building_unit"})),
    "POST /consultations/{consultation_id}/cancel": Row("consultation.cancel", CONVENERS, CONSULTATION, "proposed", body=_reason),
    "GET /consultations": Row("consultation.read", READERS, IN_QUERY, shows=CONSULTATION, outside=200),
    "GET /consultations/{consultation_id}": Row("consultation.read", READERS, CONSULTATION),
    "GET /consultations/{consultation_id}/history": Row("consultation.read", READERS, CONSULTATION),
    # offers (服务项目) of co-building units; everyone reads those of their compounds
    "POST /offers": Row("offer.publish", frozenset({R.CO_BUILDING_UNIT}), IN_BODY, outside=422, body=lambda c: {"compound_id": c.at("compound"), **_offer_fields()}),
    "POST /offers/{offer_id}/change": Row("offer.change", frozenset({R.CO_BUILDING_UNIT}), OFFER, "published", body=lambda c: {"capacity": 25}),
    "POST /offers/{offer_id}/withdraw": Row("offer.withdraw", frozenset({R.CO_BUILDING_UNIT}), OFFER, "published", body=_reason),
    "GET /offers": Row("offer.read", READERS, IN_QUERY, shows=OFFER, outside=200),
    "GET /offers/{offer_id}": Row("offer.read", READERS, OFFER),
    "GET /offers/{offer_id}/history": Row("offer.read", READERS, OFFER),
    # the public notice board (公示栏) and its link; the monthly report (rows added
    # for the routes of the board and report change, which shares this file)
    "GET /board/static/board.css": Row("public", None),
    "GET /board/{token}": Row("public", None, public_status=404),  # no such link
    "GET /board/{token}/data": Row("public", None, public_status=404),
    "GET /compounds/{compound_id}/board-link": Row("board.link", COORDINATORS, COMPOUND),
    "POST /compounds/{compound_id}/board-link": Row("board.link", COORDINATORS, COMPOUND),
    "GET /reports/monthly": Row("stats.read", AUDITORS, IN_QUERY),  # another compound: 404
    # household visits
    "POST /visits": Row("visit.record", frozenset({R.GRID_WORKER, R.COMMUNITY_STAFF}), IN_BODY, outside=422, body=lambda c: {"compound_id": c.at("compound"), "household_id": c.at("household")}),
    "GET /visits": Row("visit.read", AUDITORS, IN_QUERY, shows="visit", outside=200),
    "GET /visits/coverage": Row("visit.read", AUDITORS, IN_QUERY),
    # audit
    "GET /stats": Row("stats.read", AUDITORS, IN_QUERY, shows=COMPOUND, outside=200),
    "POST /assessments": Row("assessment.close", frozenset({R.SUPERVISOR}), IN_BODY, outside=422, body=lambda c: {"compound_id": c.at("compound"), "month": "2026-11"}),
    "GET /assessments": Row("assessment.read", AUDITORS, IN_QUERY),
    "GET /assessments/{assessment_id}": Row("assessment.read", AUDITORS, ASSESSMENT),
    "GET /audit/disputes": Row("audit.read", AUDITORS, IN_QUERY, shows="dispute", outside=200),
    # the Merkle tree over the log: checkpoints and proofs (issue 26)
    "POST /audit/checkpoints": Row("audit.checkpoint", frozenset({R.SUPERVISOR})),
    "GET /audit/checkpoints": Row("audit.read", AUDITORS),
    "GET /audit/proofs/inclusion": Row(
        "audit.read", AUDITORS, NEED, query=lambda c: {"need_id": c.ids[c.obj]}
    ),
    "GET /audit/proofs/consistency": Row("audit.read", AUDITORS, query=lambda c: {"from": 1}),
    # the console: pages over the same actions, signed in with a session cookie
    "GET /console/sign-in": Row("public", None),
    "POST /console/sign-in": Row("public", None, public_status=403),  # a form without its CSRF value
    "POST /console/sign-out": Row("public", None, public_status=303),
    "GET /console/static/{name}": Row("public", None),
    "GET /console/{rest:path}": Row("compound.read", None, public_status=404),  # no such page, signed in or not
    "GET /console": Row("compound.read", ALL),
    "GET /console/needs": Row("need.read", READERS, IN_QUERY, shows=NEED, outside=200),
    "GET /console/needs.csv": Row("need.read", READERS, IN_QUERY, shows=NEED, outside=200),
    "GET /console/needs/{need_id}": Row("need.read", READERS, NEED),
    "GET /console/needs/{need_id}/history.csv": Row("need.read", READERS, NEED),
    "POST /console/needs/{need_id}/accept": Row("need.accept", COORDINATORS, NEED, "reported", body=lambda c: {"priority": "normal"}),
    "POST /console/needs/{need_id}/assign": Row("need.assign", COORDINATORS, NEED, "accepted", body=lambda c: {"party_id": c.at("party_branch")}),
    "POST /console/needs/{need_id}/acknowledge": Row("need.acknowledge", HANDLERS, NEED, "assigned", case_403=NOT_HANDLERS),
    "POST /console/needs/{need_id}/resolve": Row("need.resolve", HANDLERS, NEED, "in_progress", body=lambda c: {"outcome": "已更换灯泡"}, case_403=NOT_HANDLERS),
    "POST /console/needs/{need_id}/evaluate": Row("need.evaluate", FOR_THE_REPORTER, NEED, "resolved", body=lambda c: {"evaluation": "satisfied", **_how_obtained(c)}, case_403=NOT_THE_REPORTERS),
    "POST /console/needs/{need_id}/supervise": Row("need.supervise", frozenset({R.SUPERVISOR}), NEED, "in_progress", body=lambda c: {"text": "请加快办理"}),
    "GET /console/needs/new": Row("need.register", REPORTERS),
    "POST /console/needs": Row("need.register", REPORTERS, IN_BODY, outside=422, body=_need_body),
    "GET /console/consultations": Row("consultation.read", READERS, IN_QUERY, shows=CONSULTATION, outside=200),
    "GET /console/offers": Row("offer.read", READERS, IN_QUERY, shows=OFFER, outside=200),
    "GET /console/disputes": Row("audit.read", AUDITORS, IN_QUERY, shows="dispute", outside=200),
    "GET /console/disputes.csv": Row("audit.read", AUDITORS, IN_QUERY, shows="dispute", outside=200),
    "GET /console/consultations/{consultation_id}": Row("consultation.read", READERS, CONSULTATION),
    "GET /console/commitments": Row("commitment.read", READERS, IN_QUERY, shows=COMMITMENT, outside=200),
    "GET /console/commitments/{commitment_id}": Row("commitment.read", READERS, COMMITMENT),
    "GET /console/figures": Row("stats.read", AUDITORS, IN_QUERY, outside=200),
    "GET /console/visits": Row("visit.read", AUDITORS, IN_QUERY),
    # Open311 GeoReport v2 (api/routers/open311.py): anyone reads the needs'
    # public face, a key what its credential reads; a forged key is refused.
    # The path parameters stay unreplaced here: no such code, request or token.
    **{
        f"GET /open311/v2/{path}.{fmt}": Row("public", None, public_status=status, forged_status=401)
        for fmt in ("json", "xml")
        for path, status in (
            ("discovery", 200), ("services", 200), ("services/{service_code}", 404),
            ("requests", 200), ("requests/{service_request_id}", 404),
            ("tokens/{token}", 404), ("servicerequestupdates", 200),
        )
    },
    **{
        f"POST /open311/v2/requests.{fmt}": Row("need.register", REPORTERS, body=_open311_report)
        for fmt in ("json", "xml")
    },
    # outbound webhooks (issue 25): community staff for their compounds, administrators
    "POST /webhooks": Row("webhook.manage", WEBHOOKERS, IN_BODY, outside=422, body=lambda c: {"url": HOOK_URL, "event_types": ["Need.*"], "compound_ids": [c.at("compound")]}),
    "GET /webhooks": Row("webhook.read", WEBHOOKERS, None, shows=WEBHOOK, outside=200),
    "GET /webhooks/{webhook_id}": Row("webhook.read", WEBHOOKERS, WEBHOOK),
    "GET /webhooks/{webhook_id}/deliveries": Row("webhook.read", WEBHOOKERS, WEBHOOK),
    "POST /webhooks/{webhook_id}/pause": Row("webhook.manage", WEBHOOKERS, WEBHOOK),
    "POST /webhooks/{webhook_id}/resume": Row("webhook.manage", WEBHOOKERS, WEBHOOK),
    "POST /webhooks/{webhook_id}/replay": Row("webhook.manage", WEBHOOKERS, WEBHOOK, body=lambda c: {"from_position": 1}),
}
# fmt: on

# The routes run again on PostgreSQL, one of each kind.
POSTGRES_SAMPLE = (
    "POST /needs",
    "POST /needs/{need_id}/accept",
    "GET /needs",
    "GET /needs/{need_id}",
    "GET /compounds/{compound_id}",
    "POST /commitments/{commitment_id}/confirm",
    "GET /consultations/{consultation_id}",
    "GET /stats",
    "GET /console/needs/{need_id}",
    "POST /console/needs/{need_id}/acknowledge",
    "POST /console/needs",
    "GET /console/consultations",
    "GET /offers",
    "GET /offers/{offer_id}",
    "POST /needs/{need_id}/evaluate-compound",
)


def is_console(key: str) -> bool:
    return key.split(" ", 1)[1].startswith("/console")


# ----- the world and its objects -------------------------------------------------------------


@dataclass
class Env:
    services: Services
    world: World
    client: TestClient
    ids: dict[str, str] = field(default_factory=dict)  # "<thing>_<compound>" and objects
    actors: dict[str, Actor] = field(default_factory=dict)
    party_ids: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # console cookie, CSRF

    def compound(self, key: str) -> UUID:
        return self.world.compound_id if key == HOME else self.world.other_compound_id


def _prepare(services: Services, client: TestClient, *, reads: bool) -> Env:
    world = build_world(services)
    app = services.app
    env = Env(services, world, client)
    away = world.other_compound_id
    away_branch = app.register_party(REGISTRAR, compound_id=away, kind="party_branch", name="光明苑党支部").id
    away_committee = app.register_party(
        REGISTRAR, compound_id=away, kind="owners_committee", name="光明苑业委会"
    ).id
    away_unit = app.register_party(
        REGISTRAR, compound_id=away, kind="co_building_unit", name="光明苑志愿队"
    ).id
    env.actors = {
        **world.actors,
        "away_unit": Actor("away-unit", R.CO_BUILDING_UNIT, frozenset({away}), party_id=away_unit),
        "away_branch": Actor("away-branch", R.PARTY_BRANCH, frozenset({away}), party_id=away_branch),
        "away_committee": Actor(
            "away-committee", R.OWNERS_COMMITTEE, frozenset({away}), party_id=away_committee
        ),
    }
    parties = {
        **world.parties,
        "other_property": world.other_property_company,
        "away_branch": away_branch,
    }
    env.party_ids = {k: str(v) for k, v in parties.items()}
    # Each need's own party, which the exclusions' rows name.
    env.ids.update({f"party_{n}": env.party_ids[party] for n, (_, _, party) in NEEDS.items()})
    building, _ = app.add_building(REGISTRAR, away, name="A栋")
    household, _ = app.add_household(
        REGISTRAR, away, building_id=building, number="A101", exclusive_area=Decimal("70")
    )
    env.ids.update(
        {
            "compound_home": str(world.compound_id),
            "compound_away": str(away),
            "party_branch_home": str(world.parties["party_branch"]),
            "party_branch_away": str(away_branch),
            "provider_home": str(world.parties["property_company"]),
            "provider_away": str(world.other_property_company),
            "household_home": str(world.households[0]),
            "household_away": str(household),
            "building_home": str(next(iter(app.repository.get(world.compound_id).buildings))),
            "building_away": str(building),
        }
    )
    if reads:
        env.ids.update(_read_objects(env))
    env.sessions = {member: _sign_in(client, world.tokens[member]) for member in MEMBERS}
    env.sessions[FORGED] = (f"linli_console=linli_{'x' * 43}", "x")
    return env


def _sign_in(client: TestClient, token: str) -> tuple[str, str]:
    """Sign in to the console as a browser does: the session cookie and its CSRF value."""
    client.cookies.clear()
    form = client.get("/console/sign-in", follow_redirects=False)
    pre = form.cookies["linli_console_pre"]
    signed_in = client.post(
        "/console/sign-in",
        data={"csrf": pre, "token": token, "next": "/console"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text[:300]
    cookie = f"linli_console={signed_in.cookies['linli_console']}"
    client.cookies.clear()
    home = client.get("/console", headers={"Cookie": cookie}, follow_redirects=False)
    match = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert match, home.text[:300]
    return cookie, match.group(1)


def _staff(env: Env, compound: str) -> Actor:
    return env.actors["staff" if compound == HOME else "other_staff"]


def _need(env: Env, name: str, state: str) -> str:
    compound, reporter, party = NEEDS[name]
    app, actors = env.services.app, env.actors
    if state == "excluded":  # assigned, and left out of its party's assessment
        need_id = _need(env, name, "assigned")
        app.exclude_need_from_assessment(
            actors["supervisor"], UUID(need_id), party_id=UUID(env.party_ids[party]), reason="复核"
        )
        return need_id
    fields: dict[str, Any] = {}
    if name == "N_hh":
        fields["household_id"] = env.world.households[0]
    source = "self_report" if reporter.startswith("resident") else "household_visit"
    if MEMBER_ROLES.get(reporter) in RAISERS:
        source = "party_request"
    need = app.register_need(
        actors[reporter],
        compound_id=env.compound(compound),
        source=source,
        title=f"{name} 诉求",
        description="矩阵",
        **fields,
    ).id
    steps = ["reported", "accepted", "assigned", "in_progress", "resolved", "closed"]
    staff = _staff(env, compound)
    for step in steps[1 : steps.index(state) + 1]:
        if step == "accepted":
            app.accept_need(staff, need, priority="normal")
        elif step == "assigned":
            app.assign_need(staff, need, party_id=UUID(env.party_ids[party]))
        elif step == "in_progress":
            app.acknowledge_need(actors[party], need)
        elif step == "resolved":
            app.resolve_need(actors[party], need, outcome="已办结")
        elif step == "closed":  # evaluated by staff, on the reporter's behalf unless their own
            how = {} if actors[reporter] == staff else {"obtained_by": "phone"}
            app.evaluate_need(staff, need, evaluation="satisfied", **how)
    return str(need)


def _offer(env: Env, compound: str, state: str = "published") -> str:
    unit = env.actors["co_building_unit" if compound == HOME else "away_unit"]
    offer = env.services.app.publish_offer(
        unit, compound_id=env.compound(compound), **{**_offer_fields(), "title": "为老服务"}
    ).id
    if state == "withdrawn":
        env.services.app.withdraw_offer(unit, offer, reason="结束")
    return str(offer)


def _commitment(env: Env, compound: str, state: str) -> str:
    app, actors = env.services.app, env.actors
    branch = actors["party_branch" if compound == HOME else "away_branch"]
    committee = actors["owners_committee" if compound == HOME else "away_committee"]
    provider = actors["property_company" if compound == HOME else "other_property"]
    cid = app.draft_commitment(
        branch,
        compound_id=env.compound(compound),
        provider_party_id=provider.party_id,
        title="物业服务清单",
        items=[_item(1)],
    ).id
    if state in ("in_effect", "suspended"):
        for who in (branch, committee, provider):
            app.confirm_commitment(who, cid, list_version=1)
    if state == "suspended":
        app.suspend_commitment(branch, cid, reason="整改")
    return str(cid)


def _consultation(
    env: Env, compound: str, state: str, need_ids: list[UUID] | None = None
) -> str:
    app = env.services.app
    staff = _staff(env, compound)
    cid = app.propose_consultation(
        staff, compound_id=env.compound(compound), topic="停车位划分", need_ids=need_ids or []
    ).id
    meets_at = datetime.now(UTC) + timedelta(days=3)
    if state == "voting":
        app.convene_consultation(
            staff, cid, meets_at=meets_at, place="会议室", method="vote",
            motion="划分停车位", matter="ordinary",
        )
    elif state in ("convened", "agreed", "published", "with_action"):
        app.convene_consultation(staff, cid, meets_at=meets_at, place="会议室", method="consensus")
    if state in ("agreed", "published", "with_action"):
        app.record_consultation_resolution(staff, cid, text="物业七日内修复")
    if state in ("published", "with_action"):
        app.publish_consultation_resolution(staff, cid)
    if state == "with_action":
        provider = UUID(env.ids[f"provider_{compound}"])
        due = date.today() + timedelta(days=30)
        # Two items, so that the first one done does not close the consultation.
        app.add_consultation_actions(
            staff, cid, items=[("维修", provider, due), ("验收", provider, due)]
        )
    return str(cid)


def _webhook(env: Env, compound: str) -> str:
    """A subscription of the compound's staff to its needs' events."""
    subscription, _ = env.services.webhooks.create(
        _staff(env, compound), url=HOOK_URL, event_types=["Need.*"], compound_ids=[env.compound(compound)]
    )
    return str(subscription.id)


def _read_objects(env: Env) -> dict[str, str]:
    """The objects the queries look at: needs of each visibility class, a
    list, a consultation, a visit and a disputed need in each compound."""
    app = env.services.app
    ids: dict[str, str] = {}
    for name in NEEDS:
        ids[name] = _need(env, name, "in_progress" if name in SEEN_ONCE_ASSIGNED else "reported")
    for compound in (HOME, AWAY):
        ids[f"C_{compound}"] = _commitment(env, compound, "in_effect")
        ids[f"K_{compound}"] = _consultation(env, compound, "proposed")
        visit, _ = app.record_visit(
            _staff(env, compound),
            compound_id=env.compound(compound),
            household_id=UUID(env.ids[f"household_{compound}"]),
        )
        ids[f"V_{compound}"] = str(visit.id)
        ids[f"O_{compound}"] = _offer(env, compound)
        ids[f"W_{compound}"] = _webhook(env, compound)
        disputed = _need(env, "N_all" if compound == HOME else "N_o", "in_progress")
        ids[f"D_{compound}"] = disputed
        ids[f"A_{compound}"] = str(
            app.close_assessment(
                env.actors["supervisor"], compound_id=env.compound(compound), month="2026-10"
            ).id
        )
        _consultation(env, compound, "proposed", need_ids=[UUID(disputed)])
    return ids


def _command_objects(env: Env, row: Row) -> dict[str, str]:
    """Fresh objects for one command route, in the row's state."""
    ids: dict[str, str] = {}
    if row.target == NEED:
        for name in NEEDS:
            if name != "N_hh":
                ids[name] = _need(env, name, row.state or "reported")
        for compound in (HOME, AWAY):
            ids[f"into_{compound}"] = _need(env, "N_all" if compound == HOME else "N_o", "reported")
            ids[f"consultation_{compound}"] = _consultation(env, compound, "proposed")
    elif row.target == COMMITMENT:
        for compound in (HOME, AWAY):
            ids[f"C_{compound}"] = _commitment(env, compound, row.state or "draft")
    elif row.target == CONSULTATION:
        for compound in (HOME, AWAY):
            ids[f"K_{compound}"] = _consultation(env, compound, row.state or "proposed")
    elif row.target == OFFER:
        for compound in (HOME, AWAY):
            ids[f"O_{compound}"] = _offer(env, compound, row.state or "published")
    elif row.target == WEBHOOK:
        for compound in (HOME, AWAY):
            ids[f"W_{compound}"] = _webhook(env, compound)
    return ids


# ----- the cells --------------------------------------------------------------------------------

OK = "gets through"
CASE_403 = "a case rule's 403"


@dataclass
class Cell:
    member: str
    target: str  # "own", "other", "neighbour" or "-"
    obj: str | None  # the need acted on (need routes)
    compound: str
    expected: int | str


def _seen(row: Row, member: str, obj: str | None, compound: str) -> bool:
    if row.target == NEED:
        assert obj is not None
        # Queries look at the needs made once, the assigned ones in progress.
        return need_seen(member, obj, row.state or "in_progress")
    if row.target in (COMMITMENT, CONSULTATION, ASSESSMENT, OFFER):
        return covers(member, compound) and member != "admin"
    if row.target == WEBHOOK:  # administrators manage every compound's subscriptions
        return covers(member, compound)
    if row.target in (COMPOUND, IN_BODY, IN_QUERY):
        return covers(member, compound)
    return True


def cells(row: Row, console: bool) -> Iterator[Cell]:
    """Every cell of a route's row, with its expected answer."""
    if row.roles is None:
        for member in (ANONYMOUS, FORGED, *MEMBERS):
            forged = member == FORGED and row.forged_status is not None
            yield Cell(member, "-", None, HOME, row.forged_status if forged else row.public_status)  # type: ignore[arg-type]
        return
    no_session = 303 if console else 401
    yield Cell(ANONYMOUS, "-", "N_all", HOME, no_session)
    yield Cell(FORGED, "-", "N_all", HOME, no_session)
    for member in MEMBERS:
        if row.target == NEED:
            targets = [
                ("own", OWN_NEED.get(member, "N_all"), own_compound(member)),
                ("other", "N_all" if member in AWAY_MEMBERS else "N_o", other_compound(member)),
                ("neighbour", "N_res2" if member == "resident" else "N_res", HOME),
            ]
        elif row.target is None:
            targets = [("-", None, own_compound(member))]
        else:
            targets = [("own", None, own_compound(member)), ("other", None, other_compound(member))]
        for target, obj, compound in targets:
            expected: int | str
            if MEMBER_ROLES[member] not in row.roles:
                expected = 403
            elif not _seen(row, member, obj, compound):
                expected = row.outside
            elif member in row.case_403:
                expected = CASE_403
            else:
                expected = OK
            yield Cell(member, target, obj, compound, expected)


MEMBER_ROLES: dict[str, Role] = {
    "resident": R.RESIDENT,
    "resident2": R.RESIDENT,
    "grid_worker": R.GRID_WORKER,
    "staff": R.COMMUNITY_STAFF,
    "other_staff": R.COMMUNITY_STAFF,
    "supervisor": R.SUPERVISOR,
    "admin": R.ADMIN,
    "party_branch": R.PARTY_BRANCH,
    "owners_committee": R.OWNERS_COMMITTEE,
    "property_company": R.PROPERTY_COMPANY,
    "co_building_unit": R.CO_BUILDING_UNIT,
    "other_property": R.PROPERTY_COMPANY,
}


def _path(template: str, row: Row, ids: dict[str, str], cell: Cell) -> str:
    path = template
    if row.target == NEED:
        path = path.replace("{need_id}", ids[cell.obj])  # type: ignore[index]
        path = path.replace("{party_id}", ids[f"party_{cell.obj}"])
    elif row.target == COMMITMENT:
        path = path.replace("{commitment_id}", ids[f"C_{cell.compound}"])
    elif row.target == CONSULTATION:
        path = path.replace("{consultation_id}", ids[f"K_{cell.compound}"])
    elif row.target == COMPOUND:
        path = path.replace("{compound_id}", ids[f"compound_{cell.compound}"])
    elif row.target == ASSESSMENT:
        path = path.replace("{assessment_id}", ids[f"A_{cell.compound}"])
    elif row.target == OFFER:
        path = path.replace("{offer_id}", ids[f"O_{cell.compound}"])
    elif row.target == WEBHOOK:
        path = path.replace("{webhook_id}", ids[f"W_{cell.compound}"])
    asset = "swagger-ui.css" if template.startswith("/docs/") else "console.css"
    return (
        path.replace("{list_version}", "1")
        .replace("{number}", "1")
        .replace("{name}", asset)
        .replace("{rest:path}", "no-such-page")
    )


def _shown_objects(env: Env, kind: str) -> dict[str, tuple[str, Callable[[str], bool]]]:
    """id -> (compound, who sees it) of the objects of ``kind`` a list may show."""
    ids = env.ids

    def in_compound(compound: str) -> Callable[[str], bool]:
        return lambda member: covers(member, compound) and member != "admin"

    if kind == NEED:
        return {
            ids[n]: (NEEDS[n][0], lambda m, n=n: need_seen(m, n, "in_progress")) for n in NEEDS
        }
    if kind == COMPOUND:
        return {
            ids[f"compound_{c}"]: (c, lambda m, c=c: covers(m, c)) for c in (HOME, AWAY)
        }
    if kind == "party":
        found = {str(p): (HOME, lambda m: covers(m, HOME)) for p in env.world.parties.values()}
        found[str(env.world.other_property_company)] = (AWAY, lambda m: covers(m, AWAY))
        return found
    if kind == WEBHOOK:
        return {ids[f"W_{c}"]: (c, lambda m, c=c: covers(m, c)) for c in (HOME, AWAY)}
    prefix = {COMMITMENT: "C", CONSULTATION: "K", "visit": "V", "dispute": "D", OFFER: "O"}[kind]
    return {ids[f"{prefix}_{c}"]: (c, in_compound(c)) for c in (HOME, AWAY)}


def _refused_by_role(member: str, row: Row, response: Any) -> bool:
    """The role check's own 403 (the API's message, also on a console page)."""
    message = f"role '{MEMBER_ROLES[member]}' may not {row.action.replace('.', ' ')}"
    return message in response.text or message.replace("'", "&#39;") in response.text


def _request(env: Env, method: str, path: str, row: Row, cell: Cell, console: bool, ctx: Ctx) -> Any:
    params: dict[str, Any] = {}
    if row.target == IN_QUERY:
        params["compound_id"] = ctx.at("compound")
    if row.query:
        params.update(row.query(ctx))
    body = row.body(ctx) if row.body else None
    env.client.cookies.clear()
    if not console:
        headers: dict[str, str] = {}
        if cell.member == FORGED:
            headers["Authorization"] = "Bearer linli_" + "x" * 43
        elif cell.member != ANONYMOUS:
            headers = env.world.headers(cell.member)
        return env.client.request(method, path, json=body, params=params, headers=headers)
    headers, form = {}, dict(body or {})
    if cell.member != ANONYMOUS:
        cookie, csrf = env.sessions[cell.member]
        headers["Cookie"] = cookie
        form["csrf"] = csrf
    if method == "GET":
        return env.client.get(path, params=params, headers=headers, follow_redirects=False)
    return env.client.post(path, data=form, params=params, headers=headers, follow_redirects=False)


def run_route(env: Env, key: str) -> list[str]:
    """Run every cell of one route; the cells whose answer was not the expected one."""
    method, template = key.split(" ", 1)
    row, console = ROWS[key], is_console(key)
    ids = dict(env.ids)
    if method == "POST":
        ids.update(_command_objects(env, row))
    else:
        position = env.services.app.recorder.max_notification_id() or 0
        assert env.services.updater.wait_for(position, 10), "the views did not catch up"
    failures: list[str] = []
    successes = 0
    for cell in cells(row, console):
        ctx = Ctx(ids, cell.member, cell.obj, cell.compound)
        path = _path(template, row, ids, cell)
        response = _request(env, method, path, row, cell, console, ctx)
        status = response.status_code
        where = f"{cell.member:>16} {cell.target:>9} {cell.obj or cell.compound:>6}: {method} {path}"
        said = response.text[:200].replace("\n", " ")
        if status >= 500:
            failures.append(f"{where} -> {status} {said}")
            continue
        if isinstance(cell.expected, int):
            if status != cell.expected:
                failures.append(f"{where} -> {status}, expected {cell.expected}: {said}")
            elif status == 403 and row.roles is not None and not _refused_by_role(cell.member, row, response):
                failures.append(f"{where} -> 403, but not the role check's: {said}")
            elif status == 303 and row.roles is not None:
                if not response.headers["location"].startswith("/console/sign-in"):
                    failures.append(f"{where} -> 303 to {response.headers['location']}")
            elif status == 422 and row.target == IN_BODY:
                if console:  # the form again, its compound marked, the API's words beneath
                    named = 'id="error-detail">compound_id' in response.text and re.search(
                        r'name="compound_id"[^>]*aria-invalid="true"', response.text
                    )
                else:
                    locs = [e.get("loc") for e in response.json()["detail"]]
                    # (a subscription names its compounds as a list: compound_ids)
                    named = ["body", "compound_id"] in locs or ["body", "compound_ids"] in locs
                if not named:
                    failures.append(f"{where} -> 422 not naming compound_id: {said}")
            elif status == 200 and row.shows and method == "GET":
                failures += _check_listing(env, row, cell, response, where)
            continue
        if cell.expected == CASE_403:
            if status != 403 or _refused_by_role(cell.member, row, response):
                failures.append(f"{where} -> {status}, expected a case rule's 403: {said}")
            continue
        # The call gets through the role and visibility checks.
        if method == "GET":
            if status != 200:
                failures.append(f"{where} -> {status}, expected 200: {said}")
            elif row.shows:
                failures += _check_listing(env, row, cell, response, where)
            continue
        done = 303 if console else None
        if not (200 <= status < 300 or status in (409, 412, 422, done)):
            failures.append(f"{where} -> {status}, expected it to get through: {said}")
        elif console and status == 303 and "done=" not in response.headers["location"]:
            failures.append(f"{where} -> 303 to {response.headers['location']}")
        elif 200 <= status < 300 or status == done:
            successes += 1
    if method == "POST" and row.roles is not None and not failures and successes == 0:
        failures.append(f"{key}: no member got through; the row's body or state is wrong")
    return failures


def _check_listing(env: Env, row: Row, cell: Cell, response: Any, where: str) -> list[str]:
    """A list shows the objects of the queried compound the member may see, and no others."""
    queried = cell.compound if row.target == IN_QUERY else None
    wrong = []
    for object_id, (compound, sees) in _shown_objects(env, row.shows).items():  # type: ignore[arg-type]
        expected = sees(cell.member) and queried in (None, compound)
        if (object_id in response.text) != expected:
            found = "lists" if object_id in response.text else "misses"
            wrong.append(f"{where} -> {found} {row.shows} {object_id} ({compound})")
    return wrong


# ----- fixtures -------------------------------------------------------------------------------


def _make_env(store: str, request: pytest.FixtureRequest, tmp: Path, *, reads: bool) -> Iterator[Env]:
    # No evaluation window, so that staff may close a resolved need at once.
    # A checkpoint key, so that a supervisor's checkpoint gets through.
    key = tmp / "checkpoint.pem"
    write_new_key(key)
    settings = settings_for(
        store, request, tmp, projection_poll_interval=0.02, evaluation_window_days=0,
        checkpoint_key_file=key,
    )
    services = build_services(settings)
    services.updater.start()
    try:
        with TestClient(create_app(services=services)) as client:
            yield _prepare(services, client, reads=reads)
    finally:
        services.close()


@pytest.fixture(scope="module")
def reads_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """Objects for the queries, never changed."""
    yield from _make_env("sqlite", request, tmp_path_factory.mktemp("reads"), reads=True)


@pytest.fixture(scope="module")
def commands_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from _make_env("sqlite", request, tmp_path_factory.mktemp("commands"), reads=False)


@pytest.fixture(scope="module")
def postgres_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from _make_env("postgres", request, tmp_path_factory.mktemp("matrix-pg"), reads=True)


# ----- the tests --------------------------------------------------------------------------------


def test_the_route_walk_finds_every_operation_of_the_schema() -> None:
    """Guards the walk itself: it sees at least what the OpenAPI schema lists."""
    paths = create_app().openapi()["paths"]
    operations = {f"{m.upper()} {p}" for p, ops in paths.items() for m in ops}
    walked = set(app_route_actions())
    assert operations <= walked
    assert any(is_console(key) for key in walked - operations)  # and the hidden console


def test_the_walk_finds_a_route_without_a_permission() -> None:
    app = create_app()
    unguarded = APIRouter(prefix="/nested")

    @unguarded.get("/open")
    def open_route() -> dict[str, str]:
        return {}

    @unguarded.get("/guarded", dependencies=[Depends(lambda: None)])
    def also_open() -> dict[str, str]:
        return {}

    app.include_router(unguarded)
    found = app_route_actions(app)
    assert found["GET /nested/open"] == set()
    assert found["GET /nested/guarded"] == set()


def test_every_route_has_a_row() -> None:
    """A new route fails here until its row says who may call it; so does a
    route whose dependencies declare no permission at all."""
    routes = app_route_actions()
    unguarded = sorted(key for key, actions in routes.items() if not actions)
    assert unguarded == [], "routes with no permission dependency"
    missing = sorted(set(routes) - set(ROWS))
    assert missing == [], "routes without a row in ROWS"
    stale = sorted(set(ROWS) - set(routes))
    assert stale == [], "rows whose route is gone"
    differing = {
        key: (sorted(actions), ROWS[key].action)
        for key, actions in routes.items()
        if actions != {ROWS[key].action}
    }
    assert differing == {}, "routes whose declared action differs from their row"


@pytest.mark.parametrize("key", sorted(ROWS))
def test_access(reads_env: Env, commands_env: Env, key: str) -> None:
    if key not in app_route_actions():
        pytest.fail(f"{key} has a row but no route (see test_every_route_has_a_row)")
    env = commands_env if key.startswith("POST") else reads_env
    failures = run_route(env, key)
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("key", POSTGRES_SAMPLE)
def test_access_on_postgres(postgres_env: Env, key: str) -> None:
    failures = run_route(postgres_env, key)
    assert failures == [], "\n".join(failures)
