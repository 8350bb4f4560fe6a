"""Kits from a CSV file (/bulk/kits): one row per component, `kit_sku, kit_name, component_sku,
quantity`; the rows of one kit make it whole or not at all, through the same use case as
POST /api/v1/kits, and each refused kit's rows are reported with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from service import kits
from service.runtime import Runtime
from store.kits import KitInvalid, KitTaken
from web.dashboard.csv_rows import Rejected, _whole, records
from web.dashboard.jobs import Job
from web.validation import CODE

KIT_COLUMNS = ("kit_sku", "kit_name", "component_sku", "quantity")
MAX_PER_KIT = 1_000


@dataclass(frozen=True, slots=True)
class KitRow:
    row: int
    kit_sku: str
    kit_name: str
    component_sku: str
    quantity: int


def kit_rows(text: str) -> tuple[list[KitRow], list[Rejected]]:
    good: list[KitRow] = []
    rejected: list[Rejected] = []
    for number, record in records(text, KIT_COLUMNS):
        problem = _problem(record)
        if problem is not None:
            rejected.append(Rejected(number, *problem))
            continue
        good.append(KitRow(number, record["kit_sku"], record["kit_name"], record["component_sku"],
                           int(record["quantity"])))
    return good, rejected


def _problem(record: dict[str, str]) -> tuple[str, str] | None:
    if "__width__" in record:
        return "*", record["__width__"]
    if not CODE.match(record["kit_sku"]) or len(record["kit_sku"]) > 100:
        return "kit_sku", "1 to 100 letters, digits, '-', '_' or '.' are needed"
    if len(record["kit_name"]) > 200:
        return "kit_name", "must be at most 200 characters"
    if not record["component_sku"] or len(record["component_sku"]) > 100:
        return "component_sku", "1 to 100 characters are needed"
    quantity = _whole(record["quantity"], minimum=1)
    if quantity is None or quantity > MAX_PER_KIT:
        return "quantity", f"must be a whole number from 1 to {MAX_PER_KIT}, not {record['quantity']!r}"
    return None


async def apply_kits(rt: Runtime, job: Job, rows: list[KitRow]) -> None:
    by_kit: dict[str, list[KitRow]] = {}
    for row in rows:
        by_kit.setdefault(row.kit_sku, []).append(row)
    for sku, parts in by_kit.items():
        name = next((row.kit_name for row in parts if row.kit_name), "")
        try:
            if not name:
                raise KitInvalid("kit_name", "a kit needs a name on one of its rows")
            await kits.create(rt, sku, name, [(row.component_sku, row.quantity) for row in parts], job.actor)
            job.applied += len(parts)
        except KitInvalid as exc:
            index = _component_index(exc.field)
            reason = str(exc).removeprefix(f"{exc.field}: ")
            at = [parts[index]] if index is not None and index < len(parts) else parts
            column = "component_sku" if index is not None else exc.field
            job.rejected.extend(Rejected(row.row, column, reason) for row in at)
            job.rejected.extend(Rejected(row.row, "kit_sku", f"kit {sku} not made: see row {at[0].row}")
                                for row in parts if row not in at)
        except KitTaken as exc:
            job.rejected.extend(Rejected(row.row, "kit_sku", str(exc).removeprefix("sku: ")) for row in parts)
        job.done += len(parts)


def _component_index(field: str) -> int | None:
    if field.startswith("components[") and "]" in field:
        return int(field[len("components["):field.index("]")])
    return None
