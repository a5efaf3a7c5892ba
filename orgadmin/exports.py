"""CSV exports, streamed: the audit log as a spreadsheet opens it."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from orgadmin.models import AuditEvent

# A CSV export streams at most this many of the newest matching events; narrow the
# filters (dates) for older ones.
AUDIT_EXPORT_LIMIT = 100_000
AUDIT_CSV_COLUMNS = (
    "created_at",
    "actor_type",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "ip_address",
)
# Cells starting with these run as formulas in Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def audit_log_csv(
    events: QuerySet[AuditEvent], *, filename: str
) -> StreamingHttpResponse:
    """The newest AUDIT_EXPORT_LIMIT events, as a CSV attachment."""
    rows = events.values_list(*AUDIT_CSV_COLUMNS)[:AUDIT_EXPORT_LIMIT]
    return csv_response(AUDIT_CSV_COLUMNS, rows.iterator(chunk_size=2000), filename)


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header, then one line per row: the export never holds every row in memory."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_cell(value: Any) -> str:
    """Text for a spreadsheet: no formula injection from names the directory sent."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True)
    value = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file whose write() returns the line, so csv.writer feeds a generator."""

    def write(self, value: str) -> str:
        return value
