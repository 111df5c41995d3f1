"""What every console page shares: the request object (``Console``), the
session dependency, the templates, CSRF, reading forms and query strings, and
the one way to run a page or a command and show what went wrong.

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
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.console.problems import Problem, expired_form, problem_of
from api.console.words import TEXT
from api.deps import SESSION_COOKIE, ServicesDep
from api.errors import RETRY_AFTER_SECONDS
from api.routers import compounds as compounds_api
from api.routing import Route
from application.access import PERMISSIONS, authorize
from application.labels import label
from domain.actor import Actor
from domain.errors import InvalidValue, NotPermitted
from infrastructure.console_sessions import MAX_SESSION_ID_LENGTH, ConsoleSessions
from infrastructure.store import Services

HERE = Path(__file__).parent

# SESSION_COOKIE ("linli_console", the session id) lives in api.deps, which
# also scopes idempotency keys by it.
PRE_COOKIE = "linli_console_pre"  # the sign-in form's own CSRF value
LANG_COOKIE = "linli_lang"
COOKIE_PATH = "/console"
LANGS = ("zh", "en")
PAGE_SIZE = 25
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

# The console's sections, and the action a role needs to see each.
SECTIONS = (
    ("needs", "/console/needs", "need.read"),
    ("consultations", "/console/consultations", "consultation.read"),
    ("offers", "/console/offers", "offer.read"),
    ("disputes", "/console/disputes", "audit.read"),
    ("commitments", "/console/commitments", "commitment.read"),
    ("figures", "/console/figures", "stats.read"),
    ("visits", "/console/visits", "visit.read"),
)


def page_router() -> APIRouter:
    """A router for one group of pages; ``api.console.router`` gathers them."""
    return APIRouter(route_class=Route, prefix="/console", include_in_schema=False)


# ----- templates --------------------------------------------------------------------

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def ratio(value: dict[str, Any] | None) -> str:
    if not value:
        return "—"
    return f"{value['numerator']}/{value['denominator']} ({pct(value['rate'])})"


templates.filters["pct"] = pct
templates.filters["ratio"] = ratio

# ----- the session ------------------------------------------------------------------


def csrf_for(session_id: str) -> str:
    """The session's CSRF token: as secret as its id, which only the cookie holds."""
    return hmac.new(session_id.encode(), b"linli-console-csrf", hashlib.sha256).hexdigest()


def sessions(services: Services) -> ConsoleSessions:
    return ConsoleSessions(services.views)


def idle(services: Services) -> timedelta:
    return timedelta(minutes=services.settings.console_session_idle_minutes)


def same(a: str | None, b: str | None) -> bool:
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
    denied: NotPermitted | None = None  # the API's 403 when the role may not take the action
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

    def status_title(self, status: int) -> str:
        key = f"status_{status}"
        return self.t(key) if key in TEXT[self.lang] else self.t("error")

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
        return same(self.csrf, form.get("csrf"))

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
        html = templates.get_template(template).render(
            c=self, t=self.t, L=self.label, when=self.when, may=self.may, **context
        )
        response = HTMLResponse(html, status_code=status)
        if status == 503:  # as the API answers: the database or the views will be back
            response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return self.finish(response)

    def problem(self, error: Exception) -> Problem | None:
        """What the API would answer for ``error`` (None: a 500), and what to do."""
        return problem_of(error, self.timezone)

    def expired_form(self) -> Problem:
        return expired_form(TEXT["zh"]["csrf_failed"], TEXT["en"]["csrf_failed"])

    def fail(self, problem: Problem) -> Response:
        """The error page: the problem on its own."""
        return self.render("error.html", status=problem.status, problem=problem)

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
            actor = sessions(services).actor(session_id, idle(services))
        console = Console(
            request=request,
            services=services,
            lang=_lang(request),
            actor=actor,
            csrf=csrf_for(session_id) if actor is not None and session_id else None,
            session_id=session_id,
        )
        if actor is not None and action != "public":
            try:
                authorize(actor, action)
            except NotPermitted as refused:
                console.denied = refused
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

# ----- running a page or a command ------------------------------------------------------


def respond(
    console: Console,
    work: Callable[[], Response],
    shown: Callable[[Problem], Response] | None = None,
) -> Response:
    """The one way the console runs something: ``work``'s answer, or, when it
    raises what the API answers with a 4xx or 503, the problem shown by
    ``shown`` (a page with the problem on it, e.g. the form again) or, when
    that cannot be shown either, on the error page."""
    try:
        return work()
    except Exception as error:
        problem = console.problem(error)
        if problem is None:
            raise
    if shown is not None:
        try:
            return shown(problem)
        except Exception as unseen:
            if console.problem(unseen) is None:
                raise
    return console.fail(problem)


def page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """A console page: signed-in and permitted callers only; errors become a page
    with the API's status and message."""

    @functools.wraps(handler)
    def guarded(*args: Any, **kwargs: Any) -> Response:
        console: Console = kwargs["console"]
        if console.actor is None:
            return console.to_sign_in()
        if console.denied:
            return console.fail(console.problem(console.denied))  # type: ignore[arg-type]
        behind = getattr(console.request.state, "views_not_reached", None)
        if behind is not None:  # ?after= waited for on the event loop (api.deps)
            return console.fail(console.problem(behind))  # type: ignore[arg-type]
        return respond(console, lambda: handler(*args, **kwargs))

    return guarded


def command(
    name: str,
    back: Callable[[dict[str, Any]], str],
    again: Callable[[Console, dict[str, Any], Problem, dict[str, str]], Response],
    then: Callable[[Any], str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """A command posted from a page: CSRF-checked, then the API router's own
    function (the handler, which returns the API's ``Recorded``); afterwards
    back to the page at ``back(kwargs)``, which waits for the views to show the
    change and says it was ``name``. A refusal shows ``again``: the page with
    the problem and the form as it was sent. With ``then``, afterwards to the
    page at ``then(recorded)`` instead (e.g. the case a registration made)."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Response:
            console: Console = kwargs["console"]
            form: dict[str, str] = kwargs["form"]
            path = back(kwargs)
            console.page_path = path
            if console.actor is None:
                return console.to_sign_in()
            if not console.csrf_ok(form):
                return console.fail(console.expired_form())

            def work() -> Response:
                if console.denied:
                    raise console.denied
                recorded = handler(*args, **kwargs)
                target = then(recorded) if then is not None else path
                return console.redirect(
                    console.url(target, [("after", recorded.position), ("done", name)])
                )

            return respond(
                console, work, lambda problem: again(console, kwargs, problem, form)
            )

        return run

    return decorate


# ----- reading the query string and forms --------------------------------------------------


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


MonthText = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Cursor = Annotated[int, Field(ge=0, le=2**63 - 1)]


class CompoundFilter(Query):
    compound_id: UUID | None = None


class FigureFilters(Query):
    compound_id: UUID | None = None
    party_id: UUID | None = None
    month_from: MonthText | None = None
    month_to: MonthText | None = None


class Waiting(Query):
    after: int | None = Field(default=None, ge=0)


def query(request: Request, model: type[BaseModel], lists: tuple[str, ...] = ()) -> Any:
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


def after(request: Request) -> int | None:
    try:
        return query(request, Waiting).after  # type: ignore[no-any-return]
    except ValidationError:
        return None


def body(model: type[BaseModel], form: dict[str, str], names: tuple[str, ...]) -> Any:
    """A command body validated by the API's own schema: blank fields are absent,
    and so are ``names`` the schema does not have."""
    return model.model_validate(
        {k: form[k] for k in names if k in model.model_fields and form.get(k, "") != ""}
    )


def id_in_path(name: str, text: str | UUID) -> UUID:
    """An id from the address: a mangled link is a 422 page, not FastAPI's JSON."""
    if isinstance(text, UUID):
        return text
    try:
        return UUID(text)
    except ValueError:
        raise InvalidValue(name, "must be a valid UUID in the address") from None


_VERSION_TEXT = re.compile(r"[0-9]{1,9}")


def version(form: dict[str, str]) -> int | None:
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


def listing(result: Any) -> tuple[list[dict[str, Any]], int | None]:
    """A list route's answer (``s.Page`` or its dict) as its items and next cursor."""
    if isinstance(result, dict):
        return result["items"], result.get("next_cursor")
    return result.items, result.next_cursor


def compounds(console: Console) -> list[dict[str, Any]]:
    return compounds_api.list_compounds(console.services, console.actor, after=None)["items"]  # type: ignore[arg-type]


def parties(console: Console) -> dict[str, dict[str, Any]]:
    listed = compounds_api.list_parties(
        console.services, console.actor, compound_id=None, after=None
    )  # type: ignore[arg-type]
    return {p["id"]: p for p in listed["items"]}


@dataclass(frozen=True)
class Places:
    """Buildings and households by id, as people name them (``1号楼``, ``1号楼 302``)."""

    buildings: dict[str, str]
    households: dict[str, str]
    building_of: dict[str, str]  # household id -> its building's id

    def building(self, building_id: str | None, household_id: str | None = None) -> str:
        if not building_id and household_id:
            building_id = self.building_of.get(household_id)
        return self.buildings.get(building_id or "", "—")

    def household(self, household_id: str | None) -> str:
        return self.households.get(household_id or "", "—")


def places(known: list[dict[str, Any]]) -> Places:
    """The buildings and households of ``known`` compounds (``compounds(console)``)."""
    buildings: dict[str, str] = {}
    households: dict[str, str] = {}
    building_of: dict[str, str] = {}
    for compound in known:
        for building in compound.get("buildings", ()):
            buildings[building["id"]] = building["name"]
        for household in compound.get("households", ()):
            building_name = buildings.get(household["building_id"], "")
            households[household["id"]] = f"{building_name} {household['number']}".strip()
            building_of[household["id"]] = household["building_id"]
    return Places(buildings, households, building_of)


def party_name(known: dict[str, dict[str, Any]], party_id: str | None) -> str:
    if not party_id:
        return "—"
    party = known.get(party_id)
    return party["name"] if party else party_id[:8]
