"""Lists and trails as CSV (UTF-8 with BOM, so Excel reads Chinese) streamed row by row."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from fastapi.responses import StreamingResponse

Format = Literal["json", "csv"]

NEED_COLUMNS = (
    "id",
    "compound_id",
    "status",
    "status_zh",
    "overdue",
    "source",
    "category",
    "priority",
    "title",
    "reporter_id",
    "household_id",
    "assigned_party_id",
    "assigned_party_role",
    "commitment_id",
    "commitment_item_no",
    "consultation_id",
    "reported_at",
    "accepted_at",
    "assigned_at",
    "responded_at",
    "resolved_at",
    "evaluated_at",
    "closed_at",
    "respond_due",
    "resolve_due",
    "responded_within_limit",
    "resolved_within_limit",
    "evaluation",
    "redo_count",
    "extensions",
    "supervision_notices",
    "version",
)

HISTORY_COLUMNS = (
    "case_id",
    "case_type",
    "position",
    "version",
    "occurred_at",
    "event",
    "actor_id",
    "actor_name",
    "actor_role",
    "actor_role_zh",
    "reason",
    "summary_zh",
    "summary_en",
)


# A cell that starts with one of these is a formula to Excel and LibreOffice
# (OWASP "CSV injection"); a leading single quote makes it text again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value: Any) -> Any:
    """One value as a CSV cell. Text is written as it is, except text a
    spreadsheet would run as a formula; numbers are never changed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return _text(json.dumps(value, ensure_ascii=False))
    if isinstance(value, str):
        return _text(value)
    return value


def csv_rows(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow([_cell(row.get(column)) for column in columns])
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_response(head: dict[str, Any], key: str, rows: Iterable[dict[str, Any]]) -> StreamingResponse:
    """``{**head, key: [rows...]}`` as one JSON document, written as the rows
    are read (a page at a time), so that a long trail never sits in memory."""

    def chunks() -> Iterator[str]:
        opening = json.dumps(head, ensure_ascii=False)
        yield opening[:-1] + ("," if head else "") + json.dumps(key) + ":["
        batch: list[str] = []
        first = True
        for row in rows:
            batch.append(json.dumps(row, ensure_ascii=False))
            if len(batch) == 200:
                yield ("" if first else ",") + ",".join(batch)
                first, batch = False, []
        if batch:
            yield ("" if first else ",") + ",".join(batch)
        yield "]}"

    return StreamingResponse(chunks(), media_type="application/json")


def csv_response(
    rows: Iterable[dict[str, Any]], columns: tuple[str, ...], filename: str
) -> StreamingResponse:
    return StreamingResponse(
        csv_rows(rows, columns),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
