"""The ``linli`` command line: serve, tokens, projections."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from uuid import UUID

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.actor import PARTY_ROLES, Role
from infrastructure.settings import Settings
from infrastructure.store import Services, build_services

console = Console()

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

    token = commands.add_parser("token", help="issue and revoke bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="issue a token (printed once)")
    create.add_argument("--actor", required=True, help="who the token is for")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--compound", action="append", default=[], type=UUID, help="repeatable")
    create.add_argument(
        "--all-compounds", action="store_true", help="supervisor, staff or admin of every compound"
    )
    create.add_argument("--household", type=UUID, help="a resident's household")
    create.add_argument("--party", type=UUID, help="the party a party's staff acts for")
    revoke = token_commands.add_parser("revoke", help="revoke a token")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--token", help="the token itself")
    which.add_argument("--id", dest="token_id", help="the token id printed at creation")

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
    settings = Settings()
    if args.command == "serve":
        return _serve(settings, args)
    services = build_services(settings)
    try:
        if args.command == "token":
            return _token(services, args)
        return _projections(services, args)
    finally:
        services.close()


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.metrics import MULTIPROCESS_DIR

    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    if args.port:
        settings = settings.model_copy(update={"port": args.port})
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
    from application.demo import seed

    services.updater.catch_up()
    compounds = services.views.cases("compound", None)[0]
    if not compounds:
        seed(services.app)
        services.updater.catch_up()
        compounds = services.views.cases("compound", None)[0]
    compound = compounds[0]
    compound_id = UUID(compound["id"])
    parties = {p["kind"]: UUID(p["id"]) for p in services.views.cases("party", [compound["id"]])[0]}
    household = UUID(compound["households"][0]["id"])
    services.credentials.revoke_issued_by(DEMO_ISSUER)
    table = Table(title=f"Demo tokens for {compound['name']} (valid until the next start)")
    table.add_column("role")
    table.add_column("token")
    for role in Role:
        token = services.credentials.issue(
            actor_id=f"demo-{role.value.replace('_', '-')}",
            role=role,
            compound_ids=None if role in (Role.ADMIN, Role.SUPERVISOR) else [compound_id],
            household_id=household if role == Role.RESIDENT else None,
            party_id=parties.get(role.value) if role in PARTY_ROLES else None,
            issued_by=DEMO_ISSUER,
        )
        table.add_row(role.value, token.token)
    console.print(table)
    console.print(f"Compound id: {compound_id}")
    console.print(
        f"Console (zh-CN; ?lang=en): http://{services.settings.host}:{services.settings.port}/console"
    )
    console.print(
        "Try: curl -H 'Authorization: Bearer TOKEN' http://"
        f"{services.settings.host}:{services.settings.port}/needs"
    )


def _token(services: Services, args: argparse.Namespace) -> int:
    if args.token_command == "create":
        try:
            issued = services.credentials.issue(
                actor_id=args.actor,
                role=Role(args.role),
                compound_ids=None if args.all_compounds else list(args.compound),
                household_id=args.household,
                party_id=args.party,
            )
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            return 2
        console.print(f"token id: {issued.token_id}")
        print(issued.token)
        return 0
    try:
        count = services.credentials.revoke(token=args.token, token_id=args.token_id)
    except ValueError as error:
        console.print(f"[red]{escape(str(error))}[/red]", highlight=False)
        return 2
    if not count:
        which = "that token" if args.token is not None else f"the token with id {args.token_id}"
        console.print(
            f"[red]no active token: {escape(which)} is unknown or already revoked[/red]",
            highlight=False,
        )
        return 1
    console.print(f"revoked {count} token(s)")
    return 0


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
    console.print("keeping the views up to date; Ctrl-C to stop")
    try:
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
