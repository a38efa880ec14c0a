"""Reading the CSV seeds extraction shares with dbt (``tracked_cities.csv``, ``gbfs_systems.csv``).

Both are edited by hand or rewritten by a command, and both are read the same way: UTF-8 (a
byte-order mark allowed), a header row naming at least the required columns, one record per line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path


def read_rows(path: Path, columns: Iterable[str], error: type[Exception], what: str) -> Iterator[tuple[int, dict]]:
    """``(line number, row)`` for each record of the CSV at ``path`` (the header is line 1).

    Raises ``error`` (the caller's exception class) naming ``what`` and the file when it cannot be
    opened, and naming the missing columns when the header lacks any of ``columns``. A row is a dict
    of the header's columns; a short row has None for the fields it lacks.
    """
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise error(f"{path}: missing column(s) {', '.join(missing)}")
        yield from enumerate(reader, start=2)
