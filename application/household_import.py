"""Households imported from a spreadsheet (``linli households import``).

A file lists one unit a row: building, unit or room label, exclusive area,
the owner's name and a stable owner key (a phone number or property
certificate number) that finds the same owner on every row and every run.
The import is all or nothing: every row is checked first, against the file
and against the compound as it stands, and refused rows are reported by
their line numbers; only a file with none is written, as one save of the
compound. A unit already registered with the same area and owner is left as
it is, so a re-run of the same file changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.compound import Compound
from domain.errors import DomainError, InvalidValue
from domain.text import optional_text, required_text

# The columns, by their English or Chinese header.
COLUMNS = {
    "building": ("building", "楼栋"),
    "unit": ("unit", "房号"),
    "exclusive_area": ("exclusive_area", "专有面积"),
    "owner_name": ("owner_name", "业主姓名"),
    "owner_key": ("owner_key", "业主标识"),
}
MAX_ROWS = 20_000


@dataclass(frozen=True)
class HouseholdRow:
    line: int
    building: str
    unit: str
    exclusive_area: Decimal
    owner_name: str | None
    owner_key: str | None


class ImportRefused(DomainError):
    """Rows that cannot be imported, each with its line number."""

    def __init__(self, refusals: Sequence[tuple[int, str]]) -> None:
        self.refusals = sorted(refusals)
        super().__init__(
            "; ".join(f"line {line}: {message}" for line, message in self.refusals)
        )


def read_rows(text: str) -> tuple[list[HouseholdRow], list[tuple[int, str]]]:
    """The rows of a CSV text with a header line, and the lines refused on
    their own (ImportRefused for a file without the columns)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise ImportRefused([(1, "the file is empty; the first line names the columns")])
    where = _columns(header)
    rows: list[HouseholdRow] = []
    refusals: list[tuple[int, str]] = []
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) + len(refusals) >= MAX_ROWS:
            raise ImportRefused([(line, f"a file holds at most {MAX_ROWS} rows")])
        try:
            rows.append(_row(line, cells, where))
        except InvalidValue as error:
            refusals.append((line, error.message))
    return rows, refusals


def _columns(header: Sequence[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    where: dict[str, int] = {}
    for column, spellings in COLUMNS.items():
        for spelling in spellings:
            if spelling in names:
                where[column] = names.index(spelling)
                break
        else:
            raise ImportRefused(
                [(1, f"the header has no column {column!r} (or {spellings[1]!r})")]
            )
    return where


def _row(line: int, cells: Sequence[str], where: Mapping[str, int]) -> HouseholdRow:
    def cell(column: str) -> str:
        index = where[column]
        return cells[index] if index < len(cells) else ""

    text = cell("exclusive_area").strip()
    try:
        area = Decimal(text)
    except InvalidOperation:
        raise InvalidValue("exclusive_area", f"{text!r} is not a number of m²") from None
    if not area.is_finite() or not Decimal("0") < area <= Decimal("100000"):
        raise InvalidValue("exclusive_area", "must be more than 0 and at most 100000 m²")
    owner_name = optional_text("owner_name", cell("owner_name"), 100)
    owner_key = optional_text("owner_key", cell("owner_key"), 64)
    if (owner_name is None) != (owner_key is None):
        raise InvalidValue(
            "owner_key", "give the owner's name and key together, or neither"
        )
    return HouseholdRow(
        line=line,
        building=required_text("building", cell("building"), 50),
        unit=required_text("unit", cell("unit"), 30),
        exclusive_area=area,
        owner_name=owner_name,
        owner_key=owner_key,
    )


@dataclass(frozen=True)
class Owner:
    """An owner key's person in the registry, if there is one yet."""

    person_id: str | None
    display_name: str


def plan(
    compound: Compound,
    rows: Sequence[HouseholdRow],
    owners: Mapping[str, Owner],
    refused: Sequence[tuple[int, str]] = (),
) -> list[HouseholdRow]:
    """The rows that are new to the compound; ImportRefused for any row that
    contradicts another row, the compound or the registry (``owners``: the
    persons already registered, by owner key), with the lines ``refused``
    before (by ``read_rows``)."""
    refusals: list[tuple[int, str]] = list(refused)
    seen: dict[tuple[str, str], HouseholdRow] = {}
    named: dict[str, HouseholdRow] = {}
    buildings = {b["name"]: building_id for building_id, b in compound.buildings.items()}
    existing = {(h["building_id"], h["number"]): h for h in compound.households.values()}
    new: list[HouseholdRow] = []
    for row in rows:
        unit = (row.building, row.unit)
        if unit in seen:
            refusals.append((row.line, f"{row.building} {row.unit} is on line {seen[unit].line} too"))
            continue
        seen[unit] = row
        if row.owner_key is not None:
            first = named.setdefault(row.owner_key, row)
            if first.owner_name != row.owner_name:
                refusals.append(
                    (row.line, f"owner key {row.owner_key} is {first.owner_name} on line {first.line}, "
                     f"not {row.owner_name}")
                )
                continue
            known = owners.get(row.owner_key)
            if known is not None and known.display_name != row.owner_name:
                refusals.append(
                    (row.line, f"owner key {row.owner_key} is registered as {known.display_name}, "
                     f"not {row.owner_name}")
                )
                continue
        building_id = buildings.get(row.building)
        household = existing.get((building_id, row.unit)) if building_id else None
        if household is None:
            new.append(row)
            continue
        owner_id = owners[row.owner_key].person_id if row.owner_key in owners else None
        if household["exclusive_area"] != row.exclusive_area:
            refusals.append(
                (row.line, f"{row.building} {row.unit} is registered with "
                 f"{household['exclusive_area']} m², not {row.exclusive_area} m²")
            )
        elif household.get("owner_id") != owner_id:
            refusals.append(
                (row.line, f"{row.building} {row.unit} is registered with another owner")
            )
    if refusals:
        raise ImportRefused(refusals)
    return new


def apply(
    compound: Compound,
    by: object,
    rows: Sequence[HouseholdRow],
    owner_of: Callable[[str], str],
) -> int:
    """Add the rows' buildings and households to ``compound`` (unsaved); the
    number of households added. ``owner_of`` gives an owner key's person id."""
    buildings = {b["name"]: building_id for building_id, b in compound.buildings.items()}
    for row in rows:
        building_id = buildings.get(row.building)
        if building_id is None:
            building_id = compound.add_building(by=by, name=row.building)  # type: ignore[arg-type]
            buildings[row.building] = building_id
        compound.add_household(
            by=by,  # type: ignore[arg-type]
            building_id=building_id,
            number=row.unit,
            exclusive_area=row.exclusive_area,
            owner_id=None if row.owner_key is None else owner_of(row.owner_key),
        )
    return len(rows)

