"""CSV and NDJSON writing for streamed exports: written in batches so a million rows never sit in
memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from operator import itemgetter


def csv_lines(header: list[str], rows, batch: int = 500) -> Iterator[str]:
    """The CSV text in pieces of ``batch`` rows: one write per piece, not per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # writes None as an empty field
    writer.writerow(header)
    pick = itemgetter(*header)
    pending = []
    for row in rows:
        pending.append(pick(row))
        if len(pending) == batch:
            writer.writerows(pending)
            pending.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(pending)
    yield buffer.getvalue()


def ndjson_lines(rows, batch: int = 500) -> Iterator[str]:
    pending = []
    for row in rows:
        pending.append(json.dumps(row, ensure_ascii=False))
        if len(pending) == batch:
            yield "\n".join(pending) + "\n"
            pending.clear()
    if pending:
        yield "\n".join(pending) + "\n"
