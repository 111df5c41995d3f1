"""A wrong setting, or a database that cannot be used, ends a ``linli``
command with one line naming the ``LINLI_`` variable (or the database and
where it is) and the rule broken: exit status 2, no traceback (issue 23)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PG
from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[1]
LINLI = ROOT / ".venv" / "bin" / "linli"


def run(args: list[str], tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update({"LINLI_SQLITE_PATH": str(tmp_path / "linli.sqlite3"), **settings})
    return subprocess.run(
        [str(LINLI), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a refusal prints, after checking how the command ended."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


PG_ENV = {
    "LINLI_STORE": "postgres",
    "LINLI_POSTGRES_HOST": PG["host"],
    "LINLI_POSTGRES_PORT": str(PG["port"]),
    "LINLI_POSTGRES_USER": PG["user"],
    "LINLI_POSTGRES_PASSWORD": PG["password"],
}
LIMITS = '{"urgent": "30x", "normal": "1wd", "low": "3wd"}'


@pytest.mark.parametrize(
    ("settings", "named", "rule"),
    [
        ({"LINLI_STORE": "postgresql"}, "LINLI_STORE=postgresql", "'sqlite' or 'postgres'"),
        ({"LINLI_PORT": "99999"}, "LINLI_PORT=99999", "less than or equal to 65535"),
        ({"LINLI_PORT": "http"}, "LINLI_PORT=http", "valid integer"),
        ({"LINLI_RESPOND_LIMITS": LIMITS}, "LINLI_RESPOND_LIMITS=", "urgent: '30x' is not like"),
        ({"LINLI_RESOLVE_LIMITS": "5wd"}, "LINLI_RESOLVE_LIMITS", "not valid JSON"),
        ({"LINLI_VIEW_WAIT_TIMEOUT": "0"}, "LINLI_VIEW_WAIT_TIMEOUT=0", "greater than 0"),
        ({"LINLI_MAX_WAITS_PER_CREDENTIAL": "0"}, "LINLI_MAX_WAITS_PER_CREDENTIAL=0", "greater than or equal to 1"),
        ({"LINLI_TIMEZONE": "Mars/Olympus"}, "LINLI_TIMEZONE=Mars/Olympus", "no such time zone"),
        ({"LINLI_POSTGRES_READ_HOSTS": "db2:5433"}, "LINLI_POSTGRES_READ_HOSTS=db2:5433", "need LINLI_STORE=postgres"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(
    tmp_path: Path, settings: dict[str, str], named: str, rule: str
) -> None:
    for args in (["serve"], ["people", "list"]):
        line = refused(run(args, tmp_path, **settings))
        assert named in line and rule in line, line
    assert not (tmp_path / "linli.sqlite3").exists()  # nothing was opened


def test_a_password_is_never_repeated(tmp_path: Path) -> None:
    line = refused(run(["serve"], tmp_path, LINLI_STORE="postgresql", LINLI_POSTGRES_PASSWORD="s3cret"))
    assert "s3cret" not in line


def test_a_port_option_out_of_range(tmp_path: Path) -> None:
    line = refused(run(["serve", "--port", "70000"], tmp_path))
    assert "--port=70000" in line


def test_a_sqlite_file_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    line = refused(run(["serve"], tmp_path, LINLI_SQLITE_PATH=str(tmp_path / "file" / "linli.sqlite3")))
    assert "LINLI_SQLITE_PATH" in line


@pytest.mark.postgres
def test_a_database_that_does_not_exist(tmp_path: Path, postgres_database: str) -> None:
    for args in (["serve"], ["token", "list"]):
        line = refused(run(args, tmp_path, **PG_ENV, LINLI_POSTGRES_DB="linli_no_such_database"))
        assert 'no database "linli_no_such_database"' in line, line
        assert "LINLI_POSTGRES_DB" in line and f"{PG['host']}:{PG['port']}" in line


@pytest.mark.postgres
def test_a_schema_that_does_not_exist(tmp_path: Path, postgres_database: str) -> None:
    line = refused(
        run(["serve"], tmp_path, **PG_ENV, LINLI_POSTGRES_DB=postgres_database,
            LINLI_POSTGRES_SCHEMA="no_such_schema")
    )
    assert 'schema "no_such_schema"' in line and "LINLI_POSTGRES_SCHEMA" in line


def test_a_database_that_cannot_be_reached(tmp_path: Path) -> None:
    closed = free_port()
    line = refused(run(["serve"], tmp_path, **{**PG_ENV, "LINLI_POSTGRES_PORT": str(closed)}))
    assert f"cannot reach PostgreSQL at {PG['host']}:{closed}" in line
    assert "LINLI_POSTGRES_PORT" in line and "connection refused" in line


def test_a_database_that_does_not_answer(tmp_path: Path) -> None:
    with socket.socket() as hung:  # accepts connections, never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        port = hung.getsockname()[1]
        line = refused(
            run(
                ["projections", "status"],
                tmp_path,
                **{**PG_ENV, "LINLI_POSTGRES_HOST": "127.0.0.1", "LINLI_POSTGRES_PORT": str(port)},
            )
        )
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}" in line and "no answer" in line


def test_projections_run_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """A service manager stops ``linli projections run`` with SIGTERM: it
    closes as after Ctrl-C, exit status 0."""
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env["LINLI_SQLITE_PATH"] = str(tmp_path / "linli.sqlite3")
    process = subprocess.Popen(
        [str(LINLI), "projections", "run"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while "keeping the views up to date" not in process.stdout.readline():
            assert time.monotonic() < deadline and process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
