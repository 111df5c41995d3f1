"""The public notice board's page (公示栏): its template, stylesheet and words.

Phone first, in Simplified Chinese: one column of cards that reads on a
390 px screen, two columns on a wide one. The page is rendered from the
board's JSON (``application.board.board``), so it shows nothing the JSON
does not publish; times are already in the deployment's time zone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).parent
STYLESHEET = HERE / "static" / "board.css"
STYLESHEET_PATH = "/board/static/board.css"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
ZONE_NAMES = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间", "Asia/Hong_Kong": "香港时间"}

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def when(text: str | None) -> str:
    """``2026-12-07T22:24:05+08:00`` as ``2026-12-07 22:24`` (already local)."""
    if not text:
        return "—"
    return text[:16].replace("T", " ")


def day(text: str | None) -> str:
    return text[:10] if text else "—"


def pct(rate: float | None) -> str:
    if rate is None:
        return "—"
    value = rate * 100
    return f"{value:.0f}%" if value in (0, 100) else f"{value:.1f}%"


def share_pct(share: dict[str, Any] | None) -> str:
    if not share:
        return "—"
    value = share["percent"]
    return f"{value:.0f}%" if value == int(value) else f"{value:.2f}%"


def month_zh(month: str) -> str:
    """``2026-12`` as ``2026年12月``."""
    year, number = month.split("-")
    return f"{year}年{int(number)}月"


def width(rate: float | None) -> str:
    """A bar's width class, in steps of 5%: CSP allows no inline style."""
    if rate is None:
        return "w0"
    return f"w{int(round(max(0.0, min(rate, 1.0)) * 20)) * 5}"


templates.filters.update(
    when=when, day=day, pct=pct, share_pct=share_pct, month_zh=month_zh, width=width
)


def render(board: dict[str, Any], *, data_path: str) -> str:
    zone = ZONE_NAMES.get(board["timezone"], board["timezone"])
    months: dict[str, list[dict[str, Any]]] = {}
    for entry in board["rates"]:
        months.setdefault(entry["month"], []).append(entry)
    coverage: dict[str, list[dict[str, Any]]] = {}
    for entry in board["visit_coverage"]:
        coverage.setdefault(entry["month"], []).append(entry)
    return templates.get_template("board.html").render(
        b=board,
        zone=zone,
        rate_months=months,
        coverage_months=coverage,
        data_path=data_path,
        stylesheet=STYLESHEET_PATH,
    )
