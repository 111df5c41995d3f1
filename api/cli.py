"""The ``linli`` command line: serve, tokens, projections."""

from __future__ import annotations

import argparse
import json
from difflib import unified_diff
import logging
import os
import shutil
import signal
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.actor import PARTY_ROLES, ROLE_LABELS_ZH, Actor, Role
from domain.errors import DomainError, InvalidValue
from infrastructure.people import UnknownPerson
from infrastructure.settings import Settings
from infrastructure.store import DatabaseUnreachable, Services, check_database, where
from infrastructure.store import build_services as _build_services

console = Console(soft_wrap=True)  # one message a line, however long
errors = Console(soft_wrap=True, stderr=True)

# Settings whose values a refusal never repeats.
SECRET_SETTINGS = frozenset({"postgres_password"})


class ConfigurationError(Exception):
    """A setting or the database it names cannot be used: one line says which and why."""


def load_settings() -> Settings:
    """The settings from the environment, or ``ConfigurationError`` naming each
    ``LINLI_`` variable that breaks a rule, and the rule."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        return Settings()
    except ValidationError as error:
        problems = [_problem(e) for e in error.errors(include_url=False)]
        raise ConfigurationError("; ".join(problems)) from None
    except SettingsError as error:  # a value that is not the JSON a dict or list setting takes
        field = str(error).split('"')[1] if '"' in str(error) else ""
        name = f"LINLI_{field.upper()}" if field else "a LINLI_ setting"
        raise ConfigurationError(f"{name}: not valid JSON (e.g. {_example(field)})") from None


def _problem(error: Any) -> str:
    field = str(error["loc"][0]) if error.get("loc") else ""
    name = f"LINLI_{field.upper()}"
    rule = str(error.get("msg", "invalid"))
    rule = rule.removeprefix("Value error, ").replace("Input should be", "must be")
    value = os.environ.get(name)
    if value is None:
        value = next((v for k, v in os.environ.items() if k.upper() == name), None)
    shown = "" if value is None or field in SECRET_SETTINGS else f"={value[:80]}"
    return f"{name}{shown}: {rule}"


def _example(field: str) -> str:
    if field.endswith("_limits"):
        return '{"urgent": "2h", "normal": "1wd", "low": "3wd"}'
    return "a JSON value"


def build_services(settings: Settings) -> Services:
    """The services for ``settings``, or ``ConfigurationError`` saying which
    database cannot be used, where it is, and why."""
    from eventsourcing.persistence import PersistenceError

    check_database(settings)
    try:
        return _build_services(settings)
    except DatabaseUnreachable:
        raise
    except (PersistenceError, OSError) as error:
        text = " ".join(str(error).split())[:300]
        raise DatabaseUnreachable(f"{where(settings)}: {type(error).__name__}: {text}") from None
    except Exception as error:
        import psycopg

        if isinstance(error, psycopg.Error):
            text = " ".join(str(error).split())[:300]
            raise DatabaseUnreachable(f"{where(settings)}: {text}") from None
        raise

DEMO_ISSUER = "demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) case management")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API (and the projections)")
    serve.add_argument("--demo", action="store_true", help="seed demo data if empty; print tokens")
    serve.add_argument("--host", help="bind address (default LINLI_HOST)")
    serve.add_argument("--port", type=int, help="port (default LINLI_PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes; with more than one, this process keeps the views up to date",
    )

    token = commands.add_parser("token", help="issue, list and revoke bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser(
        "create", help="issue a token (printed once) to a new or a registered person"
    )
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--name",
        "--actor",
        dest="name",
        help="register a new person with this display name and issue the token to them",
    )
    who.add_argument(
        "--person", help="a registered person's id (a second credential, e.g. a new phone)"
    )
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--compound", action="append", default=[], type=UUID, help="repeatable")
    create.add_argument(
        "--all-compounds", action="store_true", help="supervisor, staff or admin of every compound"
    )
    create.add_argument("--household", type=UUID, help="a resident's household")
    create.add_argument("--party", type=UUID, help="the party a party's staff acts for")
    _listing(token_commands, "list", "every credential: id, person, role, scope, created, revoked")
    revoke = token_commands.add_parser("revoke", help="revoke a token")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--token", help="the token itself")
    which.add_argument("--id", dest="token_id", help="the token id printed at creation")

    people = commands.add_parser("people", help="the persons who act")
    people_commands = people.add_subparsers(dest="people_command", required=True)
    _listing(people_commands, "list", "every person")
    erase = people_commands.add_parser(
        "erase",
        help="erase a person's personal data (PIPL Art. 47): their name, owner key and what "
        "they wrote read as [已删除] from then on; the log and its proofs stay intact",
    )
    erase.add_argument("person_id", help="the person's id (linli people list)")
    erase.add_argument("--reason", required=True, help="why, as recorded with the erasure")
    erase.add_argument(
        "--by", required=True, help="the person id of the administrator who erases (recorded)"
    )
    erase.add_argument(
        "--wait",
        type=float,
        default=10.0,
        help="seconds to wait for the views to be drawn again without the data (default 10)",
    )
    for noun, what in (
        ("compounds", "compounds"),
        ("parties", "parties (property companies, committees, branches, co-building units)"),
    ):
        listed = commands.add_parser(noun, help=what)
        _listing(listed.add_subparsers(dest=f"{noun}_command", required=True), "list", what)
    households = commands.add_parser("households", help="households, and importing them")
    household_commands = households.add_subparsers(dest="households_command", required=True)
    _listing(household_commands, "list", "households with their building, area and owner")
    load = household_commands.add_parser(
        "import",
        help="add a compound's households from a CSV file (all or nothing; a re-run changes nothing)",
    )
    load.add_argument(
        "file",
        type=Path,
        help="UTF-8 CSV with a header: building, unit, exclusive_area, owner_name, owner_key "
        "(or 楼栋, 房号, 专有面积, 业主姓名, 业主标识)",
    )
    load.add_argument("--compound", required=True, type=UUID, help="the compound")
    load.add_argument(
        "--by",
        required=True,
        help="the person id of the community staff member who imports (recorded on each event)",
    )

    assessments = commands.add_parser("assessments", help="monthly assessments (月度考评)")
    assessment_commands = assessments.add_subparsers(dest="assessments_command", required=True)
    verify = assessment_commands.add_parser(
        "verify",
        help="recompute a closed month's figures from the events up to its position; "
        "exit 0 only if they are the recorded ones",
    )
    verify.add_argument("assessment_id", type=UUID, help="the assessment's id")

    audit = commands.add_parser(
        "audit", help="the Merkle tree over the log and its signed checkpoints (RFC 9162)"
    )
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_verify = audit_commands.add_parser(
        "verify",
        help="recompute the tree from the stored events; report the first event altered, "
        "removed, inserted or moved, and every checkpoint that does not match or whose "
        "signature is forged (exit 0: all good, 1: a problem, 2: bad usage)",
    )
    audit_verify.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="checkpoints kept outside Linli (the JSON of GET /audit/checkpoints, or one "
        "checkpoint of it); repeatable",
    )
    audit_verify.add_argument(
        "--public-key",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a trusted public key (PEM, or base64 of its 32 bytes); repeatable. The "
        "configured key's and a checkpoint file's are trusted too",
    )
    keygen = audit_commands.add_parser(
        "keygen", help="write a new Ed25519 signing key for checkpoints (PEM, mode 0600)"
    )
    keygen.add_argument("--out", required=True, type=Path, metavar="FILE", help="a new file")
    audit_commands.add_parser(
        "checkpoint", help="bring the tree up to date and sign a checkpoint now"
    )
    audit_commands.add_parser(
        "rebuild", help="hash every stored event again into the tree's leaves (checkpoints stay)"
    )

    projections = commands.add_parser("projections", help="the read side")
    projection_commands = projections.add_subparsers(dest="projection_command", required=True)
    projection_commands.add_parser("run", help="keep the views up to date (for separate deployment)")
    projection_commands.add_parser("status", help="each view's position and lag")
    rebuild = projection_commands.add_parser(
        "rebuild", help="rebuild the views from the events, beside the live ones, then swap"
    )
    rebuild.add_argument("name", nargs="?", default="views", choices=["views"], help="the view set")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return _run(args)
    except (ConfigurationError, DatabaseUnreachable) as error:
        # One line, no traceback: what an operator needs to fix the setting.
        errors.print(f"linli: {escape(str(error))}", highlight=False, markup=True)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "audit" and args.audit_command == "keygen":
        return _keygen(args.out)
    extra: list[dict[str, Any]] = []
    trusted: list[Any] = []
    if args.command == "audit" and args.audit_command == "verify":
        read = _read_audit_files(args.checkpoint, args.public_key)
        if isinstance(read, int):
            return read
        extra, trusted = read
    settings = load_settings()
    if args.command == "serve":
        return _serve(settings, args)
    services = build_services(settings)
    try:
        if args.command == "token":
            return _token(services, args)
        if args.command == "projections":
            return _projections(services, args)
        if args.command == "households" and args.households_command == "import":
            return _import_households(services, args)
        if args.command == "people" and args.people_command == "erase":
            return _erase_person(services, args)
        if args.command == "assessments":
            return _verify_assessment(services, args.assessment_id)
        if args.command == "audit":
            return _audit(services, args.audit_command, extra, trusted)
        return _list(services, args)
    finally:
        services.close()


def _listing(commands: Any, name: str, what: str) -> None:
    listed = commands.add_parser(name, help=f"list {what}")
    listed.add_argument("--compound", type=UUID, help="only those of this compound")
    listed.add_argument("--json", action="store_true", help="as JSON instead of a table")


def _detail(error: InvalidValue) -> str:
    """An InvalidValue's message without its field, which the caller names as an option."""
    return error.message.removeprefix(f"{error.field}: ")


def _refuse(message: str) -> int:
    """One line naming what is wrong, exit status 2."""
    console.print(f"[red]{escape(message)}[/red]", highlight=False)
    return 2


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.metrics import MULTIPROCESS_DIR

    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    if args.port is not None:
        if not 1 <= args.port <= 65535:
            raise ConfigurationError(f"--port={args.port}: must be from 1 to 65535")
        settings = settings.model_copy(update={"port": args.port})
    if args.workers < 1:
        raise ConfigurationError(f"--workers={args.workers}: must be at least 1")
    # The database first: a wrong one is one line here, not a traceback from
    # the server's start-up.
    check_database(settings)
    if args.demo:
        services = build_services(settings)
        try:
            _demo(services)
        finally:
            services.close()
    if args.workers <= 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
        return 0
    # Several workers: one projection runner, here, and none in the workers.
    updater_services = build_services(settings) if settings.run_projections else None
    if updater_services is not None:
        updater_services.updater.catch_up()
        updater_services.updater.start()
        updater_services.transparency.start()  # the Merkle tree, periodic checkpoints
    os.environ["LINLI_RUN_PROJECTIONS"] = "false"
    os.environ["LINLI_HOST"] = settings.host
    os.environ["LINLI_PORT"] = str(settings.port)
    # The workers' metrics, in files a scrape of any worker sums (api/metrics.py).
    # Uvicorn spawns each worker as a fresh interpreter with this environment,
    # so prometheus_client sees the directory when a worker first imports it.
    metrics_dir = tempfile.mkdtemp(prefix="linli-metrics-")
    os.environ[MULTIPROCESS_DIR] = metrics_dir
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=args.workers,
            log_level="warning",
        )
    finally:
        if updater_services is not None:
            updater_services.close()
        os.environ.pop(MULTIPROCESS_DIR, None)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _demo(services: Services) -> None:
    from application.demo import DEMO_PEOPLE, seed

    people = _demo_people(services)
    services.updater.catch_up()
    compounds = services.views.cases("compound", None)[0]
    if not compounds:
        seed(services.app, people)
        services.updater.catch_up()
        compounds = services.views.cases("compound", None)[0]
    compound = compounds[0]
    compound_id = UUID(compound["id"])
    parties = {p["kind"]: UUID(p["id"]) for p in services.views.cases("party", [compound["id"]])[0]}
    household = UUID(compound["households"][0]["id"])
    services.credentials.revoke_issued_by(DEMO_ISSUER)
    # One line a token, never cut or folded to the terminal's width, so it can be copied.
    console.print(f"Demo tokens for {compound['name']} (valid until the next start):")
    for role in Role:
        token = services.credentials.issue(
            person_id=people[role],
            role=role,
            compound_ids=None if role in (Role.ADMIN, Role.SUPERVISOR) else [compound_id],
            household_id=household if role == Role.RESIDENT else None,
            party_id=parties.get(role.value) if role in PARTY_ROLES else None,
            issued_by=DEMO_ISSUER,
        )
        console.print(f"  {role.value:<17} {DEMO_PEOPLE[role]:　<5} {token.token}", highlight=False)
    console.print(f"Compound id: {compound_id}")
    console.print(
        f"Console (zh-CN; ?lang=en): http://{services.settings.host}:{services.settings.port}/console"
    )
    console.print(
        "Try: curl -H 'Authorization: Bearer TOKEN' http://"
        f"{services.settings.host}:{services.settings.port}/needs"
    )


def _demo_people(services: Services) -> dict[Role, str]:
    """The demo's persons, registered at the first demo start and found again after."""
    from application.demo import DEMO_PEOPLE

    known = {p.display_name: p.id for p in services.people.all(created_by=DEMO_ISSUER)}
    return {
        role: known.get(name) or services.people.register(name, created_by=DEMO_ISSUER).id
        for role, name in DEMO_PEOPLE.items()
    }


def _token(services: Services, args: argparse.Namespace) -> int:
    if args.token_command == "create":
        return _issue(services, args)
    if args.token_command == "list":
        return _list(services, args)
    try:
        count = services.credentials.revoke(token=args.token, token_id=args.token_id)
    except ValueError as error:
        return _refuse(str(error))
    if not count:
        which = "that token" if args.token is not None else f"the token with id {args.token_id}"
        console.print(
            f"[red]no active token: {escape(which)} is unknown or already revoked[/red]",
            highlight=False,
        )
        return 1
    console.print(f"revoked {count} token(s)")
    return 0


def _issue(services: Services, args: argparse.Namespace) -> int:
    """``token create``: every check first, then the person (if new) and the
    credential; a refusal is one line, exit status 2, and nothing written."""
    role = Role(args.role)
    if args.all_compounds and args.compound:
        return _refuse("--compound: give compounds or --all-compounds, not both")
    compounds = None if args.all_compounds else list(args.compound)
    try:
        services.app.check_credential_scope(
            role, compounds, household_id=args.household, party_id=args.party
        )
    except InvalidValue as error:
        return _refuse(f"--{error.field}: {_detail(error)}")
    if args.person is not None:
        person = services.people.get(args.person)
        if person is None:
            return _refuse(f"--person: no such person: {args.person} (see `linli people list`)")
    else:
        try:
            person = services.people.register(args.name, created_by="cli")
        except InvalidValue as error:
            return _refuse(f"--name: {_detail(error)}")
    issued = services.credentials.issue(
        person_id=person.id,
        role=role,
        compound_ids=compounds,
        household_id=args.household,
        party_id=args.party,
    )
    console.print(
        f"token id: {issued.token_id}  person: {escape(person.display_name)} ({person.id})",
        highlight=False,
    )
    print(issued.token)
    return 0


# ----- what exists: the list commands --------------------------------------------------


def _list(services: Services, args: argparse.Namespace) -> int:
    """``people|token|compounds|parties|households list [--compound ID] [--json]``."""
    services.updater.catch_up()
    only = None if args.compound is None else str(args.compound)
    compounds = {
        row["id"]: row
        for row in services.views.cases("compound", None if only is None else [only])[0]
    }
    if only is not None and only not in compounds:
        return _refuse(f"--compound: no such compound: {only}")
    names = {p.id: p.display_name for p in services.people.all()}
    rows: list[dict[str, Any]]
    if args.command == "compounds":
        rows = [
            {
                "id": c["id"],
                "name": c["name"],
                "community": c["community"],
                "buildings": len(c["buildings"]),
                "households": len(c["households"]),
            }
            for c in compounds.values()
        ]
    elif args.command == "parties":
        rows = [
            {
                "id": p["id"],
                "name": p["name"],
                "kind": p["kind"],
                "kind_zh": p["kind_zh"],
                "compound_id": p["compound_id"],
                "compound": compounds[p["compound_id"]]["name"],
            }
            for p in services.views.cases("party", list(compounds))[0]
        ]
    elif args.command == "households":
        rows = [
            _household(compound, household, names)
            for compound in compounds.values()
            for household in compound["households"]
        ]
    elif args.command == "token":
        parties = {p["id"]: p["name"] for p in services.views.cases("party", None)[0]}
        rows = [
            {
                "id": t["id"],
                "person": names.get(t["person_id"], ""),
                **t,
                "scope": _scope(t, compounds, parties),
            }
            for t in services.credentials.all()
            if only is None or t["compound_ids"] is None or only in t["compound_ids"]
        ]
    else:
        rows = _people(services, only, compounds)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    zone = ZoneInfo(services.settings.timezone)
    table = Table(title=f"{args.command} ({len(rows)})")
    columns = TABLE_COLUMNS[args.command]
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(column, row[column], zone) for column in columns))
    console.print(table)
    return 0


# What a table shows of each list (``--json`` has every field).
TABLE_COLUMNS = {
    "people": ("display_name", "roles", "units_owned", "created_at", "id"),
    "token": ("id", "person", "role", "scope", "created_at", "revoked_at"),
    "compounds": ("name", "community", "households", "id"),
    "parties": ("name", "kind_zh", "compound", "id"),
    "households": ("building", "unit", "exclusive_area", "owner", "id"),
}


def _scope(credential: dict[str, Any], compounds: dict[str, Any], parties: dict[str, str]) -> str:
    """Where a credential acts, in words: its compounds, household or party."""
    if credential["compound_ids"] is None:
        return "所有小区 (all compounds)"
    known = {c["id"]: c for c in compounds.values()}
    words = [known[c]["name"] if c in known else c for c in credential["compound_ids"]]
    household = credential["household_id"]
    for compound in known.values():
        for h in compound["households"]:
            if h["id"] == household:
                building = next(b["name"] for b in compound["buildings"] if b["id"] == h["building_id"])
                words.append(f"{building} {h['number']}")
    if credential["party_id"]:
        words.append(parties.get(credential["party_id"], credential["party_id"]))
    return ", ".join(words)


def _cell(column: str, value: object, zone: ZoneInfo) -> str:
    """A table cell as a person reads it: times to the minute in the local zone."""
    if value is None:
        return "-"
    if column in ("role", "roles"):
        roles = value if isinstance(value, list) else [value]
        return ", ".join(ROLE_LABELS_ZH[Role(r)] for r in roles)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if column.endswith("_at") and isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return escape(str(value))


def _household(compound: dict[str, Any], household: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    buildings = {b["id"]: b["name"] for b in compound["buildings"]}
    owner_id = household.get("owner_id")
    return {
        "id": household["id"],
        "compound_id": compound["id"],
        "building": buildings.get(household["building_id"], ""),
        "unit": household["number"],
        "exclusive_area": household["exclusive_area"],
        "owner_id": owner_id,
        "owner": names.get(owner_id, "") if owner_id else household.get("owner_name"),
    }


def _people(services: Services, only: str | None, compounds: dict[str, Any]) -> list[dict[str, Any]]:
    """Persons, each with the roles of their active credentials; of one compound:
    those whose credentials act there and the owners of its households."""
    roles: dict[str, set[str]] = {}
    there: set[str] = set()
    for t in services.credentials.all():
        if t["revoked_at"] is None:
            roles.setdefault(t["person_id"], set()).add(t["role"])
        if only is not None and (t["compound_ids"] is None or only in t["compound_ids"]):
            there.add(t["person_id"])
    owners: dict[str, int] = {}
    for compound in compounds.values():
        for household in compound["households"]:
            if household.get("owner_id"):
                owners[household["owner_id"]] = owners.get(household["owner_id"], 0) + 1
    return [
        {**p.public(), "roles": sorted(roles.get(p.id, ())), "units_owned": owners.get(p.id, 0)}
        for p in services.people.all()
        if only is None or p.id in there or p.id in owners
    ]


# ----- importing households -----------------------------------------------------------


def _import_households(services: Services, args: argparse.Namespace) -> int:
    from application.household_import import ImportRefused, Owner, plan, read_rows

    by = _staff_of(services, args.by, args.compound)
    if isinstance(by, str):
        return _refuse(by)
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return _refuse(f"{args.file}: cannot read it as UTF-8 text ({error})")
    try:
        rows, refused = read_rows(text)
        owners = {
            key: Owner(found.id, found.display_name)
            for key in {r.owner_key for r in rows if r.owner_key}
            if (found := services.people.by_owner_key(key)) is not None
        }
        compound = services.app.get_compound(by, args.compound)
        new = plan(compound, rows, owners, refused)
        for row in new:  # the owners new to the registry, once each
            if row.owner_key and row.owner_key not in owners:
                person = services.people.register(
                    row.owner_name or "", created_by=by.id, owner_key=row.owner_key
                )
                owners[row.owner_key] = Owner(person.id, person.display_name)
        added, recorded = services.app.import_households(by, args.compound, rows, owners)
    except ImportRefused as refused:
        for line, message in refused.refusals:
            console.print(f"[red]{args.file}:{line}: {escape(message)}[/red]", highlight=False)
        console.print(f"[red]nothing imported: {len(refused.refusals)} row(s) refused[/red]")
        return 2
    except DomainError as error:
        return _refuse(error.message)
    console.print(
        f"{added} household(s) added, {len(rows) - added} already registered"
        + (f" (log position {recorded.position})" if added else "")
    )
    return 0


def _verify_assessment(services: Services, assessment_id: UUID) -> int:
    """Exit 0 when the recomputed figures are the recorded ones, 1 when not, 2 for no such assessment."""
    try:
        assessment, again = services.app.verify_assessment(assessment_id)
    except DomainError as error:
        return _refuse(f"{assessment_id}: {error.message}")
    where = (
        f"compound {assessment.compound_id}, {assessment.month}, "
        f"log position {assessment.position}, computed at {assessment.computed_at.isoformat()}"
    )
    if again == assessment.figures:
        console.print(f"verified: the figures recomputed from the events are the recorded ones ({where})")
        return 0
    console.print(f"[red]NOT verified: the figures recomputed from the events differ ({where})[/red]")
    recorded = json.dumps(assessment.figures, ensure_ascii=False, indent=2, sort_keys=True).splitlines()
    recomputed = json.dumps(again, ensure_ascii=False, indent=2, sort_keys=True).splitlines()
    for line in unified_diff(recorded, recomputed, "recorded", "recomputed", lineterm=""):
        console.print(escape(line), highlight=False)
    return 1


def _keygen(out: Path) -> int:
    from infrastructure.transparency_log import public_pem, write_new_key

    try:
        public = write_new_key(out)
    except FileExistsError:
        return _refuse(f"--out {out}: the file exists; a key is never overwritten")
    except OSError as error:
        return _refuse(f"--out {out}: cannot write it: {error.strerror}")
    console.print(f"wrote a new checkpoint signing key to {out} (mode 0600); its public key:")
    console.print(public_pem(public), end="", highlight=False)
    console.print(f"set LINLI_CHECKPOINT_KEY_FILE={out} for the service to sign checkpoints")
    return 0


def _read_audit_files(
    checkpoints: list[Path], keys: list[Path]
) -> tuple[list[dict[str, Any]], list[Any]] | int:
    """The checkpoints and trusted keys the files name, or exit status 2 for a bad one."""
    from infrastructure.transparency_log import load_public_key

    found: list[dict[str, Any]] = []
    trusted: list[Any] = []
    for path in checkpoints:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            return _refuse(f"--checkpoint {path}: cannot read it: {error.strerror}")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _refuse(f"--checkpoint {path}: not JSON: {error}")
        if isinstance(data, dict) and "checkpoints" in data:
            listed, key = data["checkpoints"], data.get("public_key")
        else:
            listed, key = (data if isinstance(data, list) else [data]), None
        if not isinstance(listed, list) or not all(isinstance(c, dict) for c in listed):
            return _refuse(f"--checkpoint {path}: not checkpoints as GET /audit/checkpoints gives them")
        found += [{**c, "file": str(path)} for c in listed]
        if key:
            try:
                trusted.append(load_public_key(key))
            except ValueError as error:
                return _refuse(f"--checkpoint {path}: public_key: {error}")
    for path in keys:
        try:
            trusted.append(load_public_key(path.read_text(encoding="ascii").strip()))
        except OSError as error:
            return _refuse(f"--public-key {path}: cannot read it: {error.strerror}")
        except ValueError as error:
            return _refuse(f"--public-key {path}: not a public key: {error}")
    return found, trusted


def _audit(services: Services, command: str, extra: list[dict[str, Any]], trusted: list[Any]) -> int:
    from infrastructure.transparency_log import NoCheckpointKey, transparency_of

    tlog = transparency_of(services)
    if command == "checkpoint":
        try:
            made = tlog.checkpoint()
        except NoCheckpointKey as error:
            return _refuse(str(error))
        console.print(json.dumps(made, indent=2), highlight=False)
        return 0
    if command == "rebuild":
        size = tlog.rebuild()
        console.print(f"the tree's leaves rebuilt: {size} leaves")
        return 0
    return _audit_verify(tlog, extra, trusted)


def _audit_verify(tlog: Any, extra: list[dict[str, Any]], trusted: list[Any]) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from infrastructure.transparency_log import verify

    configured = tlog.public_key()
    if configured is not None:
        trusted = [configured, *trusted]
    total = tlog.log_position()
    with Progress(
        TextColumn("verifying the log"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        disable=total < 50_000,  # a bar on long logs only
    ) as progress:
        task = progress.add_task("verify", total=total)
        result = verify(tlog, extra, trusted, lambda count: progress.advance(task, count))
    if result.ok:
        console.print(escape(result.summary()), highlight=False)
        return 0
    console.print(f"[red]NOT verified: {len(result.problems)} problem(s)[/red]", highlight=False)
    for problem in result.problems:
        console.print(f"[red]{escape(problem)}[/red]", highlight=False)
    return 1


def _erase_person(services: Services, args: argparse.Namespace) -> int:
    by = _admin_of(services, args.by)
    if isinstance(by, str):
        return _refuse(by)
    try:
        erased = services.erase_person(by, args.person_id, args.reason)
    except UnknownPerson:
        return _refuse(f"{args.person_id}: no such person (see linli people list)")
    except DomainError as error:
        return _refuse(error.message)
    console.print(
        f"the personal data of {erased.person_id} is erased"
        + ("" if erased.new else " (recorded before; completed again)")
        + f": key destroyed, name and owner key blanked, "
        f"{erased.credentials_revoked} credential(s) revoked (log position {erased.position})",
        highlight=False,
    )
    if services.updater.wait_for(erased.position, max(args.wait, 0.0)):
        console.print("the views are drawn again without it", highlight=False)
    else:
        console.print(
            "[yellow]the views have not reached the erasure yet: they draw the person's cases "
            "again when they do (is a server or `linli projections run` running?)[/yellow]",
            highlight=False,
        )
    return 0


def _admin_of(services: Services, person_id: str) -> Actor | str:
    """The administrator a person is, by an active credential of theirs, or what is wrong."""
    for t in services.credentials.all():
        if t["person_id"] == person_id and t["role"] == Role.ADMIN and t["revoked_at"] is None:
            return Actor(person_id, Role.ADMIN)
    return f"--by: {person_id} holds no active administrator credential"


def _staff_of(services: Services, person_id: str, compound_id: UUID) -> Actor | str:
    """The community staff member a person is in ``compound_id``, by an active
    credential of theirs, or what is wrong."""
    for t in services.credentials.all():
        if (
            t["person_id"] == person_id
            and t["role"] == Role.COMMUNITY_STAFF
            and t["revoked_at"] is None
            and (t["compound_ids"] is None or str(compound_id) in t["compound_ids"])
        ):
            return Actor(
                person_id,
                Role.COMMUNITY_STAFF,
                compound_ids=None
                if t["compound_ids"] is None
                else frozenset(UUID(c) for c in t["compound_ids"]),
            )
    return (
        f"--by: {person_id} holds no active community staff credential for compound {compound_id}"
    )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _projections(services: Services, args: argparse.Namespace) -> int:
    if args.projection_command == "status":
        log_position = services.updater.log_position()
        view_position = services.views.position(services.app.name)
        table = Table(title="Views")
        for column in ("view", "position", "log position", "lag"):
            table.add_column(column)
        table.add_row("views", str(view_position), str(log_position), str(log_position - view_position))
        console.print(table)
        return 0
    if args.projection_command == "rebuild":
        return _rebuild(services)
    # A service manager stops it with SIGTERM: close as after Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        console.print("keeping the views up to date; Ctrl-C to stop")
        services.transparency.start()  # and the Merkle tree over the log (issue 26)
        services.updater.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _rebuild(services: Services) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from infrastructure.rebuild import rebuild

    class RowsPerSecond(ProgressColumn):
        def render(self, task) -> Text:  # noqa: ANN001
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} events/s" if speed else "- events/s")

    total = services.updater.log_position()
    with Progress(
        TextColumn("rebuilding views"),
        BarColumn(),
        MofNCompleteColumn(),
        RowsPerSecond(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("rebuild", total=total)

        def advance(count: int, position: int) -> None:
            progress.update(task, advance=count, total=max(total, position))

        reached = rebuild(services, advance)
    console.print(f"views rebuilt and swapped in at position {reached}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
