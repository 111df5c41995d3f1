"""The web console at ``/console``: server-rendered pages over the same
application commands, view queries and visibility rules as the HTTP API.

Every page calls the API routers' own functions (``api.routers.*``): the
console is another way to read their answers, not a second set of rules. A
page therefore shows exactly what the signed-in token may see through the
API, and a command fails with the API's own message.

Sign-in checks the bearer token through the same credentials lookup as the
API and starts a server-side session (``infrastructure.console_sessions``):
the HttpOnly, SameSite=Strict cookie scoped to ``/console`` (Secure when
served over https) holds only the session's random id, and the database only
its hash. A session ends at sign-out, when its credential is revoked, or
after ``LINLI_CONSOLE_SESSION_IDLE_MINUTES`` without a request. Every form
POST carries a CSRF token, HMAC(session id, a fixed label): bound to the
session and useless without its cookie. The token never appears in a cookie,
a URL, a page or a log line.

Language: Simplified Chinese by default; ``?lang=en`` switches to English and
is remembered in a cookie.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import jinja2
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.routing import Route
from api import schemas as s
from api.console import charts
from api.deps import SESSION_COOKIE, ServicesDep, public
from api.errors import RETRY_AFTER_SECONDS, ViewsBehind
from api.routers import audit as audit_api
from api.routers import commitments as commitments_api
from api.routers import compounds as compounds_api
from api.routers import consultations as consultations_api
from api.routers import needs as needs_api
from api.routers import stats as stats_api
from api.routers import visits as visits_api
from application.access import PERMISSIONS, authorize
from application.base import StaleVersion
from application.labels import label
from domain.actor import PARTY_ROLES, Actor
from domain.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    InvalidValue,
    NotFound,
    NotPermitted,
)
from domain.need import CATEGORIES, EVALUATIONS, PRIORITIES, NeedStatus
from infrastructure.console_sessions import MAX_SESSION_ID_LENGTH, ConsoleSessions
from infrastructure.store import Services

log = logging.getLogger(__name__)

router = APIRouter(route_class=Route, prefix="/console", include_in_schema=False)

HERE = Path(__file__).parent
STATIC_FILES = {"console.css": "text/css; charset=utf-8"}

# SESSION_COOKIE ("linli_console", the session id) lives in api.deps, which
# also scopes idempotency keys by it.
PRE_COOKIE = "linli_console_pre"  # the sign-in form's own CSRF value
LANG_COOKIE = "linli_lang"
COOKIE_PATH = "/console"
LANGS = ("zh", "en")
PAGE_SIZE = 25
MAX_TOKEN_LENGTH = 200
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

# ----- words ------------------------------------------------------------------------

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "app_name": "邻里 · 小区微治理工作台",
        "home": "首页",
        "needs": "诉求",
        "disputes": "争议审计",
        "commitments": "服务清单",
        "figures": "统计",
        "visits": "入户走访",
        "sign_in": "登录",
        "sign_out": "退出",
        "token": "访问令牌",
        "token_hint": (
            "请输入管理员为您签发的访问令牌。"
            "登录后浏览器只保存一个会话标识（不含令牌）；"
            "关闭浏览器、退出或长时间未操作后需重新登录。"
        ),
        "sign_in_failed": "登录失败",
        "signed_in_as": "当前用户",
        "csrf_failed": "表单已过期或并非来自本工作台，请刷新页面后重试。",
        "welcome": "欢迎使用邻里工作台",
        "your_compounds": "您可查看的小区",
        "all_compounds": "全部小区",
        "nothing_to_see": "您的角色在工作台中没有可查看的页面。",
        "filter": "筛选",
        "reset": "清除",
        "any": "全部",
        "yes": "是",
        "no": "否",
        "compound": "小区",
        "status": "状态",
        "category": "类别",
        "party": "责任主体",
        "overdue": "超时",
        "export_csv": "导出 CSV",
        "next_page": "下一页",
        "first_page": "回到第一页",
        "title": "标题",
        "priority": "优先级",
        "reported_at": "登记时间",
        "respond_due": "响应时限",
        "resolve_due": "办结时限",
        "redo": "重办",
        "redos": "重办次数",
        "no_needs": "没有符合条件的诉求。",
        "case": "诉求详情",
        "current_state": "当前状态",
        "deadlines": "时限",
        "description": "描述",
        "source": "来源",
        "location": "位置",
        "reporter": "登记人",
        "assigned_party": "责任方",
        "accepted_at": "受理时间",
        "assigned_at": "派单时间",
        "responded_at": "响应时间",
        "resolved_at": "办结时间",
        "evaluated_at": "评价时间",
        "closed_at": "归档时间",
        "within_limit": "在时限内",
        "late": "超时",
        "outcome": "办理结果",
        "evaluation": "评价",
        "comment": "评价意见",
        "extensions": "延期次数",
        "supervision_notices": "督办次数",
        "consultation": "协商议事",
        "commitment_item": "服务清单条目",
        "item_no": "第 {n} 项",
        "item_number": "清单条目编号",
        "timeline": "办理轨迹",
        "time": "时间",
        "actor": "操作人",
        "role": "角色",
        "event": "事项",
        "reason": "理由",
        "linked": "关联",
        "history_csv": "导出办理轨迹 CSV",
        "actions": "办理操作",
        "accept": "受理",
        "assign": "派单",
        "acknowledge": "响应（确认接单）",
        "resolve": "办结",
        "evaluate": "记录评价",
        "optional": "可选",
        "keep_category": "保持原类别",
        "assign_reason": "派单说明（改派时必填）",
        "cite_commitment": "依据服务清单（可选）",
        "none": "无",
        "done": "已记录：{what}",
        "topic": "议题",
        "method": "议事方式",
        "motion": "表决事项",
        "matter": "事项类别",
        "meets_at": "会议时间",
        "place": "地点",
        "invited": "邀请参加",
        "vote_result": "表决结果",
        "participation": "参与表决",
        "approval": "赞成",
        "area": "按专有面积",
        "owners": "按业主人数",
        "rule": "规则",
        "reached": "已达到",
        "not_reached": "未达到",
        "counts": "票数",
        "resolution": "决议",
        "published_at": "公示时间",
        "action_items": "行动事项",
        "due_on": "完成期限",
        "completed": "已完成",
        "open": "未完成",
        "opinions": "各方意见",
        "needs_in": "涉及诉求",
        "not_visible": "（无权查看）",
        "consultation_page": "协商议事",
        "provider": "服务提供方",
        "in_effect_version": "生效版本",
        "pending_version": "待确认版本",
        "awaiting": "待确认方",
        "items": "条目",
        "in_effect_items": "现行服务清单",
        "standard": "服务标准",
        "frequency": "频次",
        "time_limit": "响应时限",
        "versions": "各版本对照",
        "version_n": "第 {n} 版",
        "added": "新增",
        "changed": "调整",
        "removed": "删除",
        "fulfilment": "履约情况",
        "inspections_met": "检查达标",
        "inspections_not_met": "检查未达标",
        "needs_assigned": "派单数",
        "needs_resolved": "已办结",
        "needs_resolved_within_limit": "按时办结",
        "needs_overdue": "超时未办",
        "fulfilment_rate": "履约率",
        "totals": "合计",
        "no_commitments": "暂无服务清单。",
        "response_rate": "响应率",
        "resolution_rate": "解决率",
        "satisfaction_rate": "满意率",
        "per_month": "按月统计",
        "per_party": "按责任主体统计",
        "month": "月份",
        "accepted": "受理数",
        "overdue_open": "超时未办",
        "median_respond": "响应中位时长（小时）",
        "median_resolve": "办结中位时长（小时）",
        "month_from": "起始月份",
        "month_to": "截止月份",
        "unassigned": "未派单",
        "figures_note": "诉求按受理月份（本地时间）和当前责任方归类；比率 = 分子 / 分母。",
        "coverage": "走访覆盖率",
        "building": "楼栋",
        "households": "户数",
        "visited": "已走访",
        "not_visited": "未走访住户",
        "no_compound": "没有可查看的小区。",
        "dispute_none": "没有经过协商议事的诉求。",
        "error": "出错了",
        "back": "返回",
        "times_in": "时间均为 {zone} 时间",
        "sign_in_needed": "请先登录。",
    },
    "en": {
        "app_name": "Linli · Compound governance console",
        "home": "Home",
        "needs": "Needs",
        "disputes": "Disputes",
        "commitments": "Commitments",
        "figures": "Figures",
        "visits": "Visits",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "token": "Access token",
        "token_hint": (
            "Enter the access token your administrator issued. The browser keeps only "
            "a session id (never the token); the session ends when you sign out, close "
            "the browser or stay idle for a while."
        ),
        "sign_in_failed": "Sign-in failed",
        "signed_in_as": "Signed in as",
        "csrf_failed": (
            "The form expired or did not come from this console; reload the page and try again."
        ),
        "welcome": "Welcome to the Linli console",
        "your_compounds": "Compounds you can see",
        "all_compounds": "All compounds",
        "nothing_to_see": "Your role has no page to see in the console.",
        "filter": "Filter",
        "reset": "Reset",
        "any": "Any",
        "yes": "Yes",
        "no": "No",
        "compound": "Compound",
        "status": "Status",
        "category": "Category",
        "party": "Party",
        "overdue": "Overdue",
        "export_csv": "Export CSV",
        "next_page": "Next page",
        "first_page": "First page",
        "title": "Title",
        "priority": "Priority",
        "reported_at": "Reported",
        "respond_due": "Respond by",
        "resolve_due": "Resolve by",
        "redo": "Redo",
        "redos": "Redos",
        "no_needs": "No needs match.",
        "case": "Case",
        "current_state": "Current state",
        "deadlines": "Deadlines",
        "description": "Description",
        "source": "Source",
        "location": "Location",
        "reporter": "Reported by",
        "assigned_party": "Assigned party",
        "accepted_at": "Accepted",
        "assigned_at": "Assigned",
        "responded_at": "Responded",
        "resolved_at": "Resolved",
        "evaluated_at": "Evaluated",
        "closed_at": "Closed",
        "within_limit": "within the limit",
        "late": "late",
        "outcome": "Outcome",
        "evaluation": "Evaluation",
        "comment": "Comment",
        "extensions": "Extensions",
        "supervision_notices": "Supervision notices",
        "consultation": "Consultation",
        "commitment_item": "Service-list item",
        "item_no": "item {n}",
        "item_number": "Item number",
        "timeline": "Timeline",
        "time": "Time",
        "actor": "Actor",
        "role": "Role",
        "event": "Event",
        "reason": "Reason",
        "linked": "Linked",
        "history_csv": "Export timeline CSV",
        "actions": "Actions",
        "accept": "Accept",
        "assign": "Assign",
        "acknowledge": "Acknowledge",
        "resolve": "Resolve",
        "evaluate": "Record evaluation",
        "optional": "optional",
        "keep_category": "keep the category",
        "assign_reason": "Reason (required when reassigning)",
        "cite_commitment": "Under a service list (optional)",
        "none": "none",
        "done": "Recorded: {what}",
        "topic": "Topic",
        "method": "Method",
        "motion": "Motion",
        "matter": "Matter",
        "meets_at": "Meets at",
        "place": "Place",
        "invited": "Invited",
        "vote_result": "Vote result",
        "participation": "Participation",
        "approval": "For",
        "area": "by exclusive area",
        "owners": "by owners",
        "rule": "Rule",
        "reached": "reached",
        "not_reached": "not reached",
        "counts": "Votes",
        "resolution": "Resolution",
        "published_at": "Published",
        "action_items": "Action items",
        "due_on": "Due",
        "completed": "done",
        "open": "open",
        "opinions": "Opinions",
        "needs_in": "Needs",
        "not_visible": "(not visible to you)",
        "consultation_page": "Consultation",
        "provider": "Provider",
        "in_effect_version": "Version in effect",
        "pending_version": "Pending version",
        "awaiting": "Awaiting",
        "items": "Items",
        "in_effect_items": "The list in effect",
        "standard": "Standard",
        "frequency": "Frequency",
        "time_limit": "Time limit",
        "versions": "Versions side by side",
        "version_n": "version {n}",
        "added": "added",
        "changed": "changed",
        "removed": "removed",
        "fulfilment": "Fulfilment",
        "inspections_met": "Inspections met",
        "inspections_not_met": "Inspections not met",
        "needs_assigned": "Needs assigned",
        "needs_resolved": "Resolved",
        "needs_resolved_within_limit": "Resolved in time",
        "needs_overdue": "Overdue",
        "fulfilment_rate": "Fulfilment rate",
        "totals": "Totals",
        "no_commitments": "No service lists yet.",
        "response_rate": "Response rate",
        "resolution_rate": "Resolution rate",
        "satisfaction_rate": "Satisfaction rate",
        "per_month": "Per month",
        "per_party": "Per party",
        "month": "Month",
        "accepted": "Accepted",
        "overdue_open": "Overdue open",
        "median_respond": "Median hours to respond",
        "median_resolve": "Median hours to resolve",
        "month_from": "From month",
        "month_to": "To month",
        "unassigned": "unassigned",
        "figures_note": (
            "A need counts in the month (local time) it was accepted and for the party it is "
            "assigned to now; each rate is numerator / denominator."
        ),
        "coverage": "Visit coverage",
        "building": "Building",
        "households": "Households",
        "visited": "Visited",
        "not_visited": "Households not visited",
        "no_compound": "No compound to show.",
        "dispute_none": "No need has gone through a consultation.",
        "error": "Something went wrong",
        "back": "Back",
        "times_in": "Times are in {zone}",
        "sign_in_needed": "Please sign in first.",
    },
}

# The console's sections, and the action a role needs to see each.
SECTIONS = (
    ("needs", "/console/needs", "need.read"),
    ("disputes", "/console/disputes", "audit.read"),
    ("commitments", "/console/commitments", "commitment.read"),
    ("figures", "/console/figures", "stats.read"),
    ("visits", "/console/visits", "visit.read"),
)
NEED_COMMANDS = ("accept", "assign", "acknowledge", "resolve", "evaluate")

# ----- templates --------------------------------------------------------------------

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _ratio(value: dict[str, Any] | None) -> str:
    if not value:
        return "—"
    return f"{value['numerator']}/{value['denominator']} ({_pct(value['rate'])})"


_templates.filters["pct"] = _pct
_templates.filters["ratio"] = _ratio

# ----- the session ------------------------------------------------------------------


def _csrf_for(session_id: str) -> str:
    """The session's CSRF token: as secret as its id, which only the cookie holds."""
    return hmac.new(session_id.encode(), b"linli-console-csrf", hashlib.sha256).hexdigest()


def _sessions(services: Services) -> ConsoleSessions:
    return ConsoleSessions(services.views)


def _idle(services: Services) -> timedelta:
    return timedelta(minutes=services.settings.console_session_idle_minutes)


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


@dataclass
class Console:
    """One request to the console: who asks, in which language, and what for."""

    request: Request
    services: Services
    lang: str
    actor: Actor | None
    csrf: str | None
    session_id: str | None = None  # the cookie's, whether or not it is still a live session
    denied: str | None = None  # the API's 403 message when the role may not take the action
    page_path: str | None = None  # the GET page a language switch returns to
    cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def actor_name(self) -> str:
        """Who is signed in, by the registry's display name (their id if they have none)."""
        if self.actor is None:
            return ""
        person = self.services.people.get(self.actor.id)
        return person.display_name if person is not None else self.actor.id

    # words
    def t(self, key: str, **values: Any) -> str:
        text = TEXT[self.lang].get(key) or TEXT["zh"].get(key) or key
        return text.format(**values) if values else text

    def label(self, kind: str, code: Any) -> str:
        return label(kind, code, self.lang)

    def when(self, text: str | None, *, date_only: bool = False) -> str:
        if not text:
            return "—"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
        local = moment.astimezone(ZoneInfo(self.services.settings.timezone))
        return local.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")

    def may(self, action: str) -> bool:
        return self.actor is not None and self.actor.role in PERMISSIONS.get(action, ())

    @property
    def sections(self) -> list[tuple[str, str]]:
        return [(self.t(key), path) for key, path, action in SECTIONS if self.may(action)]

    @property
    def timezone(self) -> str:
        return self.services.settings.timezone

    @property
    def lang_url(self) -> str:
        other = "en" if self.lang == "zh" else "zh"
        path = self.page_path or self.request.url.path
        params = [
            (k, v)
            for k, v in self.request.query_params.multi_items()
            if k not in ("lang", "done", "after")
        ]
        if self.page_path is not None:
            params = []
        return f"{path}?{urlencode([*params, ('lang', other)])}"

    def url(self, path: str, params: Iterable[tuple[str, Any]]) -> str:
        pairs = [(k, str(v)) for k, v in params if v is not None and v != ""]
        return f"{path}?{urlencode(pairs)}" if pairs else path

    def csrf_ok(self, form: dict[str, str]) -> bool:
        return _same(self.csrf, form.get("csrf"))

    def set_cookie(self, name: str, value: str, **options: Any) -> None:
        self.cookies.append((name, value, options))

    # responses
    def finish(self, response: Response) -> Response:
        secure = self.request.url.scheme == "https"
        asked = self.request.query_params.get("lang")
        if asked in LANGS and self.request.cookies.get(LANG_COOKIE) != asked:
            response.set_cookie(
                LANG_COOKIE,
                asked,
                max_age=365 * 24 * 3600,
                path=COOKIE_PATH,
                httponly=True,
                samesite="strict",
                secure=secure,
            )
        for name, value, options in self.cookies:
            if value == "":
                response.delete_cookie(
                    name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure
                )
            else:
                response.set_cookie(
                    name,
                    value,
                    path=COOKIE_PATH,
                    httponly=True,
                    samesite="strict",
                    secure=secure,
                    **options,
                )
        response.headers["Content-Security-Policy"] = CSP
        return response

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = _templates.get_template(template).render(
            c=self, t=self.t, L=self.label, when=self.when, may=self.may, **context
        )
        response = HTMLResponse(html, status_code=status)
        if status == 503:  # as the API answers: the database or the views will be back
            response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return self.finish(response)

    def error(self, status: int, message: str) -> Response:
        return self.render("error.html", status=status, message=message, status_code=status)

    def redirect(self, location: str) -> Response:
        return self.finish(RedirectResponse(location, status_code=303))

    def to_sign_in(self) -> Response:
        request = self.request
        target = request.url.path
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        elif request.method != "GET":
            target = self.page_path or "/console"
        return self.redirect(self.url("/console/sign-in", [("next", target)]))


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in LANGS else "zh"  # type: ignore[return-value]


def console_session(action: str) -> Callable[..., Console]:
    """The console's counterpart of ``api.deps.requires``: the caller comes from
    the session cookie (``infrastructure.console_sessions``) instead of the
    Authorization header, over the same credentials table, and a role that
    may not take ``action`` gets the API's 403 message. Carries
    ``linli_action`` like ``requires`` and ``public``."""
    if action != "public" and action not in PERMISSIONS:
        raise KeyError(f"no permission named {action!r}")

    def session(request: Request, services: ServicesDep) -> Console:
        session_id = request.cookies.get(SESSION_COOKIE) or None
        if session_id is not None and len(session_id) > MAX_SESSION_ID_LENGTH:
            session_id = None
        actor = None
        if session_id is not None:
            actor = _sessions(services).actor(session_id, _idle(services))
        console = Console(
            request=request,
            services=services,
            lang=_lang(request),
            actor=actor,
            csrf=_csrf_for(session_id) if actor is not None and session_id else None,
            session_id=session_id,
        )
        if actor is not None and action != "public":
            try:
                authorize(actor, action)
            except NotPermitted as refused:
                console.denied = refused.message
        return console

    session.linli_action = action  # type: ignore[attr-defined]
    return session


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form body, read without python-multipart; the last value of a name wins."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    body = await request.body()
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100))
    except (UnicodeDecodeError, ValueError):
        return {}


Form = Annotated[dict[str, str], Depends(form_fields)]


def _failure(error: Exception) -> tuple[int, str] | None:
    """The API's status and detail text for an error, as ``api.errors`` maps it."""
    if isinstance(error, IllegalTransition | Conflict):
        return 409, error.message
    if isinstance(error, InvalidValue):
        return 422, error.message
    if isinstance(error, NotPermitted):
        return 403, error.message
    if isinstance(error, NotFound):
        return 404, error.message
    if isinstance(error, DomainError):
        return 422, error.message
    if isinstance(error, StaleVersion):
        return 412, str(error)
    if isinstance(error, ViewsBehind):
        return 503, str(error)
    if isinstance(error, ValidationError):
        return 422, _validation_text(error)
    if isinstance(error, IntegrityError):
        return 409, "the case changed while this command ran; reload and try again"
    if isinstance(error, OperationalError | InterfaceError):
        log.warning("database unavailable: %s", type(error).__name__)
        return 503, "the database is unavailable; try again shortly"
    return None


def _validation_text(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
    )


def page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """A console page: signed-in and permitted callers only; errors become a page
    with the API's status and message."""

    @functools.wraps(handler)
    def guarded(*args: Any, **kwargs: Any) -> Response:
        console: Console = kwargs["console"]
        if console.actor is None:
            return console.to_sign_in()
        if console.denied:
            return console.error(403, console.denied)
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            failure = _failure(error)
            if failure is None:
                raise
            return console.error(*failure)

    return guarded


# ----- reading the query string -------------------------------------------------------


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


MonthText = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class NeedFilters(_Query):
    compound_id: UUID | None = None
    status: list[needs_api.StatusCode] | None = None  # type: ignore[valid-type]
    category: list[s.Category] | None = None  # type: ignore[valid-type]
    party_id: UUID | None = None
    overdue: bool | None = None
    cursor: int | None = Field(default=None, ge=0, le=2**63 - 1)


class CompoundFilter(_Query):
    compound_id: UUID | None = None


class DisputeFilters(CompoundFilter):
    cursor: int | None = Field(default=None, ge=0, le=2**63 - 1)


class FigureFilters(_Query):
    compound_id: UUID | None = None
    party_id: UUID | None = None
    month_from: MonthText | None = None
    month_to: MonthText | None = None


class Waiting(_Query):
    after: int | None = Field(default=None, ge=0)


def _query(request: Request, model: type[BaseModel], lists: tuple[str, ...] = ()) -> Any:
    """The query string as ``model``: blank values are absent, ``lists`` repeat."""
    params = request.query_params
    data: dict[str, Any] = {}
    for name in model.model_fields:
        if name in lists:
            values = [v for v in params.getlist(name) if v != ""]
            if values:
                data[name] = values
        elif params.get(name, "") != "":
            data[name] = params[name]
    return model.model_validate(data)


def _after(request: Request) -> int | None:
    try:
        return _query(request, Waiting).after  # type: ignore[no-any-return]
    except ValidationError:
        return None


def _body(model: type[BaseModel], form: dict[str, str], names: tuple[str, ...]) -> Any:
    """A command body validated by the API's own schema (blank fields are absent)."""
    return model.model_validate({k: form[k] for k in names if form.get(k, "") != ""})


_VERSION_TEXT = re.compile(r"[0-9]{1,9}")


def _version(form: dict[str, str]) -> int | None:
    """The form's ``version`` (the one the page showed): absent or blank is none.

    ASCII digits only: ``str.isdigit`` is also true for "²" or "١", which
    ``int`` refuses or reads as another number."""
    text = form.get("version", "")
    if text == "":
        return None
    if not _VERSION_TEXT.fullmatch(text):
        raise InvalidValue("version", "must be the case's version number, 1 to 9 digits 0-9")
    return int(text)


# ----- shared look-ups ----------------------------------------------------------------


def _compounds(console: Console) -> list[dict[str, Any]]:
    return compounds_api.list_compounds(console.services, console.actor, after=None)["items"]  # type: ignore[arg-type]


def _parties(console: Console) -> dict[str, dict[str, Any]]:
    listed = compounds_api.list_parties(
        console.services, console.actor, compound_id=None, after=None
    )  # type: ignore[arg-type]
    return {p["id"]: p for p in listed["items"]}


def _party_name(parties: dict[str, dict[str, Any]], party_id: str | None) -> str:
    if not party_id:
        return "—"
    party = parties.get(party_id)
    return party["name"] if party else party_id[:8]


# ----- sign-in and static files ---------------------------------------------------------


def _next(target: str | None) -> str:
    """Only a path inside the console: never an address elsewhere."""
    if (
        not target
        or not target.startswith("/console")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return "/console"
    return target


def _sign_in_page(console: Console, *, status: int = 200, error: str | None = None) -> Response:
    pre = secrets.token_urlsafe(24)
    console.set_cookie(PRE_COOKIE, pre, max_age=3600)
    target = _next(console.request.query_params.get("next"))
    return console.render("sign_in.html", status=status, error=error, pre=pre, next_path=target)


@router.get("/sign-in")
def sign_in_form(console: Annotated[Console, Depends(console_session("public"))]) -> Response:
    return _sign_in_page(console)


@router.post("/sign-in")
def sign_in(
    console: Annotated[Console, Depends(console_session("public"))], form: Form
) -> Response:
    console.page_path = "/console/sign-in"
    if not _same(console.request.cookies.get(PRE_COOKIE), form.get("csrf")):
        return _sign_in_page(console, status=403, error=console.t("csrf_failed"))
    token = form.get("token", "").strip()
    session_id = None
    if token and len(token) <= MAX_TOKEN_LENGTH:
        services = console.services
        if services.credentials.authenticate(token) is not None:
            sessions = _sessions(services)
            sessions.sweep(_idle(services))
            # None when the credential was revoked since the line above.
            session_id = sessions.start(token)
    if session_id is None:
        # The API's own words for a bad bearer token.
        return _sign_in_page(console, status=401, error="invalid or revoked token")
    if console.session_id is not None:  # signing in again: the old session goes
        _sessions(console.services).end(console.session_id)
    console.set_cookie(SESSION_COOKIE, session_id)
    console.set_cookie(PRE_COOKIE, "")
    return console.redirect(_next(form.get("next")))


@router.post("/sign-out")
def sign_out(
    console: Annotated[Console, Depends(console_session("public"))], form: Form
) -> Response:
    if console.actor is not None and not console.csrf_ok(form):
        return console.error(403, console.t("csrf_failed"))
    if console.session_id is not None:
        _sessions(console.services).end(console.session_id)
    console.set_cookie(SESSION_COOKIE, "")
    return console.redirect("/console/sign-in")


@router.get("/static/{name}", dependencies=[Depends(public)])
def static_file(name: str) -> Response:
    if name not in STATIC_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        (HERE / "static" / name).read_bytes(),
        media_type=STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=3600"},
    )


# ----- home -----------------------------------------------------------------------------


@router.get("")
@page
def home(console: Annotated[Console, Depends(console_session("compound.read"))]) -> Response:
    return console.render("home.html", compounds=_compounds(console))


# ----- needs ----------------------------------------------------------------------------


def _list_needs(console: Console, filters: NeedFilters, *, csv: bool) -> Any:
    return needs_api.list_needs(
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        compound_id=filters.compound_id,
        status=filters.status,
        category=filters.category,
        party_id=filters.party_id,
        overdue=filters.overdue,
        cursor=None if csv else filters.cursor,
        limit=PAGE_SIZE,
        after=None,
        format="csv" if csv else "json",
    )


def _filter_params(filters: NeedFilters) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = [("compound_id", filters.compound_id)]
    params += [("status", v) for v in filters.status or []]
    params += [("category", v) for v in filters.category or []]
    params += [("party_id", filters.party_id)]
    if filters.overdue is not None:
        params.append(("overdue", "true" if filters.overdue else "false"))
    return params


@router.get("/needs")
@page
def needs_page(console: Annotated[Console, Depends(console_session("need.read"))]) -> Response:
    filters = _query(console.request, NeedFilters, lists=("status", "category"))
    result = _list_needs(console, filters, csv=False)
    base = _filter_params(filters)
    return console.render(
        "needs.html",
        filters=filters,
        needs=result.items,
        next_url=console.url("/console/needs", [*base, ("cursor", result.next_cursor)])
        if result.next_cursor is not None
        else None,
        first_url=console.url("/console/needs", base) if filters.cursor is not None else None,
        csv_url=console.url("/console/needs.csv", base),
        compounds=_compounds(console),
        parties=_parties(console),
        statuses=[status.value for status in NeedStatus],
        categories=CATEGORIES,
    )


@router.get("/needs.csv")
@page
def needs_csv(console: Annotated[Console, Depends(console_session("need.read"))]) -> Response:
    filters = _query(console.request, NeedFilters, lists=("status", "category"))
    return console.finish(_list_needs(console, filters, csv=True))


def _need_page(
    console: Console,
    need_id: UUID,
    *,
    after: int | None = None,
    done: str | None = None,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    services, actor = console.services, console.actor
    assert actor is not None
    console.page_path = f"/console/needs/{need_id}"
    need = needs_api.get_need(need_id, services, actor, after)
    events = services.views.history(str(need_id))  # seen: get_need checked the caller
    parties = _parties(console)
    consultation = None
    if need["consultation_id"] and console.may("consultation.read"):
        try:
            consultation = consultations_api.get_consultation(
                UUID(need["consultation_id"]), services, actor, after=None
            )
        except NotFound:
            consultation = None
    commitment = None
    if need["commitment_id"] and console.may("commitment.read"):
        try:
            commitment = commitments_api.get_commitment(
                UUID(need["commitment_id"]), services, actor, after=None
            )
        except NotFound:
            commitment = None
    commands = [
        name
        for name in NEED_COMMANDS
        if name in need["allowed_commands"] and console.may(f"need.{name}")
    ]
    handlers = {
        p["id"]: p
        for p in parties.values()
        if p["compound_id"] == need["compound_id"] and p["kind"] in PARTY_ROLES
    }
    citable: list[dict[str, Any]] = []
    if "assign" in commands and console.may("commitment.read"):
        citable = commitments_api.list_commitments(
            services,
            actor,
            compound_id=UUID(need["compound_id"]),
            status=["in_effect"],
            party_id=None,
            cursor=None,
            limit=200,
            after=None,
            format="json",
        ).items
    return console.render(
        "need.html",
        status=status,
        need=need,
        reporter=services.people.names([need["reporter_id"]]).get(need["reporter_id"]),
        events=events,
        parties=parties,
        party_name=lambda pid: _party_name(parties, pid),
        consultation=consultation,
        commitment=commitment,
        commands=commands,
        handlers=handlers,
        citable=citable,
        priorities=PRIORITIES,
        categories=CATEGORIES,
        evaluations=EVALUATIONS,
        done=done if done in NEED_COMMANDS else None,
        error=error,
        form=form or {},
    )


@router.get("/needs/{need_id}")
@page
def need_page(
    need_id: UUID, console: Annotated[Console, Depends(console_session("need.read"))]
) -> Response:
    return _need_page(
        console,
        need_id,
        after=_after(console.request),
        done=console.request.query_params.get("done"),
    )


@router.get("/needs/{need_id}/history.csv")
@page
def need_history_csv(
    need_id: UUID, console: Annotated[Console, Depends(console_session("need.read"))]
) -> Response:
    return console.finish(
        needs_api.need_history(need_id, console.services, console.actor, after=None, format="csv")  # type: ignore[arg-type]
    )


def need_command(name: str) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """A command posted from the case page: CSRF-checked, then the API router's
    own function; afterwards back to the case page, which waits for the views to
    show the change. A refusal shows the case page with the API's message."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Response:
            console: Console = kwargs["console"]
            form: dict[str, str] = kwargs["form"]
            need_id: UUID = kwargs["need_id"]
            console.page_path = f"/console/needs/{need_id}"
            if console.actor is None:
                return console.to_sign_in()
            if not console.csrf_ok(form):
                return console.error(403, console.t("csrf_failed"))
            try:
                if console.denied:
                    raise NotPermitted(console.denied)
                recorded = handler(*args, **kwargs)
            except Exception as error:
                failure = _failure(error)
                if failure is None:
                    raise
                status, message = failure
                try:
                    return _need_page(console, need_id, status=status, error=message, form=form)
                except Exception as unseen:
                    if _failure(unseen) is None:
                        raise
                    return console.error(status, message)
            target = console.url(
                f"/console/needs/{need_id}", [("after", recorded.position), ("done", name)]
            )
            return console.redirect(target)

        return run

    return decorate


@router.post("/needs/{need_id}/accept")
@need_command("accept")
def accept(
    need_id: UUID,
    console: Annotated[Console, Depends(console_session("need.accept"))],
    form: Form,
) -> s.Recorded:
    body = _body(s.NeedAccept, form, ("priority", "category"))
    return needs_api.accept_need(
        need_id=need_id,
        body=body,
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=_version(form),
    )


@router.post("/needs/{need_id}/assign")
@need_command("assign")
def assign(
    need_id: UUID,
    console: Annotated[Console, Depends(console_session("need.assign"))],
    form: Form,
) -> s.Recorded:
    fields = dict(form)
    cited = fields.pop("commitment", "")
    if cited:
        fields["commitment_id"] = cited
    body = _body(
        s.NeedAssign, fields, ("party_id", "reason", "commitment_id", "commitment_item_no")
    )
    return needs_api.assign_need(
        need_id=need_id,
        body=body,
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=_version(form),
    )


@router.post("/needs/{need_id}/acknowledge")
@need_command("acknowledge")
def acknowledge(
    need_id: UUID,
    console: Annotated[Console, Depends(console_session("need.acknowledge"))],
    form: Form,
) -> s.Recorded:
    return needs_api.acknowledge_need(
        need_id=need_id,
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=_version(form),
    )


@router.post("/needs/{need_id}/resolve")
@need_command("resolve")
def resolve(
    need_id: UUID,
    console: Annotated[Console, Depends(console_session("need.resolve"))],
    form: Form,
) -> s.Recorded:
    body = _body(s.NeedResolve, form, ("outcome",))
    return needs_api.resolve_need(
        need_id=need_id,
        body=body,
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=_version(form),
    )


@router.post("/needs/{need_id}/evaluate")
@need_command("evaluate")
def evaluate(
    need_id: UUID,
    console: Annotated[Console, Depends(console_session("need.evaluate"))],
    form: Form,
) -> s.Recorded:
    body = _body(s.NeedEvaluate, form, ("evaluation", "comment"))
    return needs_api.evaluate_need(
        need_id=need_id,
        body=body,
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=_version(form),
    )


# ----- disputes and consultations ----------------------------------------------------------


def _disputes(
    console: Console, compound_id: UUID | None, *, csv: bool, cursor: int | None = None
) -> Any:
    return audit_api.disputes(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=compound_id,
        reported_from=None,
        reported_to=None,
        cursor=cursor,
        limit=PAGE_SIZE,
        after=None,
        format="csv" if csv else "json",
    )


@router.get("/disputes")
@page
def disputes_page(
    console: Annotated[Console, Depends(console_session("audit.read"))],
) -> Response:
    filters = _query(console.request, DisputeFilters)
    chosen = filters.compound_id
    result = _disputes(console, chosen, csv=False, cursor=filters.cursor)
    base = [("compound_id", chosen)]
    return console.render(
        "disputes.html",
        rows=result["items"],
        compounds=_compounds(console),
        compound_id=str(chosen) if chosen else "",
        csv_url=console.url("/console/disputes.csv", base),
        next_url=console.url("/console/disputes", [*base, ("cursor", result["next_cursor"])])
        if result.get("next_cursor") is not None
        else None,
        first_url=console.url("/console/disputes", base) if filters.cursor is not None else None,
    )


@router.get("/disputes.csv")
@page
def disputes_csv(
    console: Annotated[Console, Depends(console_session("audit.read"))],
) -> Response:
    chosen = _query(console.request, CompoundFilter).compound_id
    return console.finish(_disputes(console, chosen, csv=True))


@router.get("/consultations/{consultation_id}")
@page
def consultation_page(
    consultation_id: UUID,
    console: Annotated[Console, Depends(console_session("consultation.read"))],
) -> Response:
    services, actor = console.services, console.actor
    assert actor is not None
    consultation = consultations_api.get_consultation(
        consultation_id, services, actor, after=_after(console.request)
    )
    events = services.views.history(str(consultation_id))  # seen: checked just above
    needs = []
    for need_id in consultation["need_ids"]:
        try:
            row = needs_api.visible_need(services, actor, UUID(need_id))
        except NotFound:
            needs.append({"id": need_id, "visible": False})
        else:
            needs.append(
                {"id": need_id, "visible": True, "title": row["title"], "status": row["status"]}
            )
    parties = _parties(console)
    return console.render(
        "consultation.html",
        consultation=consultation,
        events=events,
        needs=needs,
        party_name=lambda pid: _party_name(parties, pid),
    )


# ----- commitments ---------------------------------------------------------------------------


@router.get("/commitments")
@page
def commitments_page(
    console: Annotated[Console, Depends(console_session("commitment.read"))],
) -> Response:
    chosen = _query(console.request, CompoundFilter).compound_id
    listed = commitments_api.list_commitments(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=chosen,
        status=None,
        party_id=None,
        cursor=None,
        limit=200,
        after=None,
        format="json",
    )
    parties = _parties(console)
    return console.render(
        "commitments.html",
        rows=listed.items,
        compounds=_compounds(console),
        compound_id=str(chosen) if chosen else "",
        party_name=lambda pid: _party_name(parties, pid),
    )


@router.get("/commitments/{commitment_id}")
@page
def commitment_page(
    commitment_id: UUID,
    console: Annotated[Console, Depends(console_session("commitment.read"))],
) -> Response:
    services, actor = console.services, console.actor
    assert actor is not None
    row = commitments_api.get_commitment(
        commitment_id, services, actor, after=_after(console.request)
    )
    versions = [
        commitments_api.commitment_version(commitment_id, n, services, actor, after=None)
        for n in range(1, len(row["versions"]) + 1)
    ]
    numbers = sorted({item["number"] for v in versions for item in v["items"]})
    grid = []
    for number in numbers:
        cells = []
        for v in versions:
            item = next((i for i in v["items"] if i["number"] == number), None)
            mark = None
            if v["based_on"] is not None:
                if number in v["removed"]:
                    mark = "removed"
                elif any(i["number"] == number for i in v["added"]):
                    mark = "added"
                elif any(i["number"] == number for i in v["changed"]):
                    mark = "changed"
            cells.append({"item": item, "mark": mark})
        grid.append({"number": number, "cells": cells})
    figures = commitments_api.commitment_fulfilment(
        commitment_id, services, actor, after=None, format="json"
    )
    chart = charts.bar_chart(
        console.t("fulfilment_rate"),
        [f"{i['number']}. {i['title'] or ''}" for i in figures["items"]],
        [
            charts.Series(
                console.t("fulfilment_rate"), [i["fulfilment_rate"] for i in figures["items"]]
            )
        ],
    )
    parties = _parties(console)
    return console.render(
        "commitment.html",
        row=row,
        versions=versions,
        grid=grid,
        figures=figures,
        chart=chart,
        party_name=lambda pid: _party_name(parties, pid),
    )


# ----- figures and visits ------------------------------------------------------------------


@router.get("/figures")
@page
def figures_page(
    console: Annotated[Console, Depends(console_session("stats.read"))],
) -> Response:
    filters = _query(console.request, FigureFilters)
    figures = stats_api.stats(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=filters.compound_id,
        party_id=filters.party_id,
        month_from=filters.month_from,
        month_to=filters.month_to,
        after=None,
    )
    parties = _parties(console)

    def party_label(party_id: str) -> str:
        return (
            console.t("unassigned") if party_id == "unassigned" else _party_name(parties, party_id)
        )

    def rates(rows: list[dict[str, Any]]) -> list[charts.Series]:
        return [
            charts.Series(console.t(name), [r[name]["rate"] for r in rows])
            for name in ("response_rate", "resolution_rate", "satisfaction_rate")
        ]

    months = figures["month"]
    per_party = figures["party"]
    month_chart = charts.column_chart(
        f"{console.t('per_month')} · {console.t('response_rate')} / "
        f"{console.t('resolution_rate')} / {console.t('satisfaction_rate')}",
        [r["month"] for r in months],
        rates(months),
    )
    party_chart = charts.bar_chart(
        console.t("per_party"), [party_label(r["party_id"]) for r in per_party], rates(per_party)
    )
    return console.render(
        "figures.html",
        filters=filters,
        figures=figures,
        months=months,
        per_party=per_party,
        month_chart=month_chart,
        party_chart=party_chart,
        party_label=party_label,
        compounds=_compounds(console),
        parties=parties,
    )


@router.get("/visits")
@page
def visits_page(
    console: Annotated[Console, Depends(console_session("visit.read"))],
) -> Response:
    filters = _query(console.request, FigureFilters)
    compounds = _compounds(console)
    chosen = filters.compound_id or (UUID(compounds[0]["id"]) if compounds else None)
    if chosen is None:
        return console.render("visits.html", compounds=[], coverage=None, filters=filters)
    zone = ZoneInfo(console.services.settings.timezone)
    today = datetime.now(UTC).astimezone(zone).date()
    month_to = filters.month_to or filters.month_from or today.strftime("%Y-%m")
    if filters.month_from:
        month_from = filters.month_from
    else:
        year, month = int(month_to[:4]), int(month_to[5:])
        month -= 2
        while month < 1:
            month += 12
            year -= 1
        month_from = f"{year:04d}-{month:02d}"
    coverage = visits_api.visit_coverage(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=chosen,
        month_from=month_from,
        month_to=month_to,
        after=None,
    )
    buildings: dict[str, dict[str, Any]] = {}
    for row in coverage["items"]:
        entry = buildings.setdefault(row["building_id"], {"name": row["building"], "months": {}})
        entry["months"][row["month"]] = row
    shown_months = coverage["months"][-6:]
    chart = charts.bar_chart(
        console.t("coverage"),
        [b["name"] for b in buildings.values()],
        [
            charts.Series(
                month,
                [
                    b["months"][month]["coverage"]["rate"] if month in b["months"] else None
                    for b in buildings.values()
                ],
            )
            for month in shown_months
        ],
    )
    return console.render(
        "visits.html",
        compounds=compounds,
        compound_id=str(chosen),
        coverage=coverage,
        buildings=list(buildings.values()),
        months=coverage["months"],
        month_from=month_from,
        month_to=month_to,
        chart=chart,
        filters=filters,
    )
