"""Idempotent, all-or-nothing loading of raw responses into the landing tables.

A :class:`LandingRow` is one HTTP response (or, for Wikipedia, the fields parsed
from one article) with the logical request that produced it. :class:`Loader`
writes a batch of them with PyMySQL into ``gans_raw``:

- parameterised multi-row ``INSERT`` statements only (PyMySQL's ``executemany``),
  split so that no statement exceeds ``max_statement_bytes`` (the server's ``max_allowed_packet`` is 16 MB by
  default on MariaDB, 64 MB on RDS);
- one transaction per batch: a failure anywhere (bad row, lost connection) rolls
  the whole batch back and raises :class:`LoadError`;
- idempotent: a row whose ``(request_key_sha256, payload_sha256)`` is already
  stored, or repeats within the batch, is counted as a duplicate and not stored
  again. The landing tables carry a unique key on that pair, so two loaders racing
  on the same row cannot both store it: the loser's duplicate-key error, a deadlock
  (1213) or a lock-wait timeout (1205) rolls the batch back and retries it with
  exponential backoff and jitter (:data:`RETRY_ATTEMPTS` attempts);
- a lost connection (server gone, killed, packet refused) is reopened once per batch
  and the batch retried before it counts as failed (:attr:`LoadError.connection`);
  any other refusal of the data (a JSON document nested deeper than the server's limit,
  a value out of range) raises :class:`LoadError` with ``connection`` False, so the
  caller may split the batch to find the row the server refuses.

:meth:`LandingRow.statement_bytes` is what a row adds to an INSERT; the runner turns a
row too large for the server's ``max_allowed_packet`` (:meth:`Loader.max_row_bytes`) into
an error row instead of sending it (which would drop the connection).

The loader needs only SELECT and INSERT on ``gans_raw``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pymysql

if TYPE_CHECKING:
    from extract.sources.base import Source

log = logging.getLogger(__name__)

#: name -> declaration, installed by :mod:`extract.sources` when it is imported (:func:`use_registry`): the
#: loader depends on no source module; the source modules and their registry depend on it
_lookup: Callable[[str], Source] | None = None


def use_registry(lookup: Callable[[str], Source]) -> None:
    """Install ``lookup`` (source name -> declaration, :class:`ValueError` for an unknown name): how a
    :class:`LandingRow` built from a source *name* finds its declaration. Called by :mod:`extract.sources`."""
    global _lookup
    _lookup = lookup


def _declared(name: str) -> Source:
    if _lookup is None:
        raise ValueError(f"no source registry to look {name!r} up in: import extract.sources first")
    return _lookup(name)


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys and no whitespace, UTF-8 (not \\u-escaped): the form that is hashed.

    Serialised with orjson (several times faster than ``json`` on 16-300 KB payloads).
    Raises ``TypeError`` (orjson.JSONEncodeError) for values JSON cannot hold.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware (UTC)")
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class LandingRow:
    """One raw response bound for the landing table of ``source``.

    - ``request_key``: the logical request, e.g. ``{"city": "Berlin"}`` or
      ``{"airport_icao": "EDDB", "from_local": "2024-05-08T12:00", "to_local": ...}``;
    - ``request_params``: query parameters as sent (never an API key);
    - ``fetched_at``: timezone-aware instant of the response (stored as UTC);
    - ``payload``: the JSON body (or Wikipedia's parsed fields), any JSON value; stored
      in canonical form (sorted keys, no whitespace), the text that is hashed;
    - ``extra``: values of the source's :attr:`~extract.sources.base.Source.extra_columns`
      (Wikipedia: ``infobox_html``, the infobox HTML fragment for audit);
    - ``declaration``: the source's :class:`~extract.sources.base.Source` (landing table, extra
      columns), as :meth:`Source.row` passes it; when omitted, looked up by ``source`` in the registry.

    Raises :class:`ValueError` for an unknown source, a declaration of another name, or an ``extra``
    column the source does not declare, and ``TypeError`` for a payload JSON cannot hold.
    """

    source: str
    request_key: dict[str, Any]
    request_params: dict[str, Any]
    fetched_at: datetime
    http_status: int
    payload: Any
    extra: dict[str, str | None] = field(default_factory=dict)
    declaration: Source | None = field(default=None, repr=False, compare=False)
    _hashes: tuple[str, str, str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.declaration is None:
            object.__setattr__(self, "declaration", _declared(self.source))
        elif self.declaration.name != self.source:
            raise ValueError(f"row of source {self.source!r} given the declaration of {self.declaration.name!r}")
        declared = self.declaration.extra_columns
        undeclared = set(self.extra) - set(declared)
        if undeclared:
            raise ValueError(f"source {self.source!r} has no landing column(s) {', '.join(sorted(undeclared))}")
        key_json = canonical_json(self.request_key)
        payload_json = canonical_json(self.payload)  # stored as hashed: one serialisation, not two
        hashes = (key_json, sha256_hex(key_json), payload_json, sha256_hex(payload_json))
        object.__setattr__(self, "_hashes", hashes)

    @property
    def request_key_sha256(self) -> str:
        """SHA-256 of the canonical ``request_key`` JSON."""
        return self._hashes[1]

    @property
    def payload_sha256(self) -> str:
        """SHA-256 of the canonical ``payload`` JSON (key order does not matter)."""
        return self._hashes[3]

    @property
    def identity(self) -> tuple[str, str]:
        """What makes a row a duplicate: (request key hash, payload hash)."""
        return self._hashes[1], self._hashes[3]

    def statement_bytes(self) -> int:
        """Bytes this row adds to an INSERT statement (payloads and extra columns go as hex: twice their UTF-8)."""
        extra = sum(len(v.encode("utf-8")) for v in self.extra.values() if v is not None)
        return 2 * (len(self._hashes[2].encode("utf-8")) + extra) + len(self._hashes[0]) + 1024

    @property
    def landing_table(self) -> str:
        """The landing table of the row's source."""
        return self.declaration.landing_table

    def values(self, run_id: int) -> tuple:
        """The row's column values, in :data:`_COLUMNS` order, then the source's extra columns."""
        base = (
            run_id,
            self._hashes[0],
            self._hashes[1],
            json.dumps(self.request_params, separators=(",", ":"), ensure_ascii=False, sort_keys=True),
            _utc_naive(self.fetched_at),
            self.http_status,
            _Utf8Hex(self._hashes[2]),
            self._hashes[3],
        )
        extra = tuple(
            None if self.extra.get(name) is None else _Utf8Hex(self.extra[name])
            for name in self.declaration.extra_columns
        )
        return base + extra


class _Utf8Hex:
    """A large text parameter sent as a hex literal, ``convert(x'…' using utf8mb4)``.

    PyMySQL escapes ``str`` parameters character by character in Python (most of the
    loader's time on 16-300 KB payloads); ``bytes.hex()`` runs in C and the server
    decodes hex literals cheaply. The value is still a bound parameter, quoted by the
    driver, never SQL text; the ``convert`` makes it utf8mb4 text (MySQL 8 rejects JSON
    from a binary string).
    """

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    @staticmethod
    def literal(value: _Utf8Hex, mapping=None) -> str:
        """The SQL literal PyMySQL splices in for ``value``."""
        return "convert(x'" + value.text.encode("utf-8").hex() + "' using utf8mb4)"


_COLUMNS = "run_id, request_key, request_key_sha256, request_params, fetched_at, http_status, payload, payload_sha256"


class LoadError(RuntimeError):
    """A batch could not be stored; nothing of it was kept. ``__cause__`` has the driver error.

    ``connection`` is True when the database could not be reached (even after reopening the
    connection once), False when the server refused the data itself.
    """

    def __init__(self, message: str, *, connection: bool = False):
        super().__init__(message)
        self.connection = connection


#: attempts of one batch on a deadlock, lock-wait timeout or concurrent duplicate
RETRY_ATTEMPTS = 6
#: MySQL/MariaDB error codes retried with backoff: duplicate key (a concurrent load), lock wait timeout, deadlock
RETRIED_ERRORS = frozenset({1062, 1205, 1213})
#: client errors meaning the connection is gone: server gone away, lost, not connected; packet too large
CONNECTION_ERRORS = frozenset({0, 1153, 2002, 2003, 2006, 2013, 2014, 2055})


def _code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError | ConnectionError | BrokenPipeError):
        return True
    return isinstance(exc, pymysql.err.OperationalError) and _code(exc) in CONNECTION_ERRORS


@dataclass
class LoadResult:
    """Counts of one :meth:`Loader.land` call: rows stored and rows skipped as duplicates."""

    landed: int = 0
    duplicates: int = 0


class Loader:
    """Writes batches of :class:`LandingRow` through one PyMySQL connection to the raw database.

    ``backoff_s``: first wait before retrying a deadlocked batch (doubled each attempt, with jitter);
    ``sleep``: how to wait (tests inject a recorder).
    """

    def __init__(
        self,
        conn: pymysql.Connection,
        max_statement_bytes: int = 8 * 1024 * 1024,
        *,
        backoff_s: float = 0.05,
        sleep=time.sleep,
    ):
        self.conn = conn
        self.max_statement_bytes = max_statement_bytes
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.retries = 0  # batches retried after a deadlock, lock wait or concurrent duplicate
        self.reconnects = 0
        self._max_packet: int | None = None

    def max_row_bytes(self) -> int:
        """The largest :meth:`LandingRow.statement_bytes` the server accepts: its ``max_allowed_packet``
        (read once) less a margin. Raises the driver's error when the server does not answer."""
        if self._max_packet is None:
            with self.conn.cursor() as cur:
                cur.execute("select @@max_allowed_packet")
                (self._max_packet,) = cur.fetchone()
            self.conn.commit()
        return int(self._max_packet) - 64 * 1024

    def land(self, run_id: int, rows: Iterable[LandingRow]) -> LoadResult:
        """Store ``rows`` for run ``run_id`` in one transaction; return what was landed.

        Deadlocks, lock-wait timeouts and concurrent duplicates are retried with backoff; a lost
        connection is reopened once. Raises :class:`LoadError` (after rolling back) when the batch
        cannot be stored: ``connection`` says whether the database or the data was the cause.
        """
        batch = list(rows)
        if not batch:
            return LoadResult()
        reconnected = False
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._land_once(run_id, batch)
                self.conn.commit()
                return result
            except Exception as exc:
                self._rollback()
                if _is_connection_error(exc):
                    if reconnected:
                        raise LoadError(f"batch of {len(batch)} rows not stored: {exc}", connection=True) from exc
                    reconnected = True
                    try:
                        self.conn.ping(reconnect=True)
                        self.reconnects += 1
                        log.warning("the database connection was lost (%s); reopened, retrying the batch", exc)
                    except Exception as again:
                        raise LoadError(
                            f"batch of {len(batch)} rows not stored: {exc}; reconnecting failed: {again}",
                            connection=True,
                        ) from exc
                    continue
                if isinstance(exc, pymysql.err.MySQLError) and _code(exc) in RETRIED_ERRORS:
                    if attempt >= RETRY_ATTEMPTS:
                        message = f"batch of {len(batch)} rows not stored after {attempt} attempts: {exc}"
                        raise LoadError(message) from exc
                    wait = self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
                    self.retries += 1
                    log.info("batch of %d rows: %s; retry %d in %.2f s", len(batch), exc, attempt, wait)
                    self.sleep(wait)
                    continue
                raise LoadError(f"batch of {len(batch)} rows not stored: {type(exc).__name__}: {exc}") from exc

    def _rollback(self) -> None:
        try:
            self.conn.rollback()
        except Exception:  # the connection may be gone; the server rolls back on its own
            log.debug("rollback failed", exc_info=True)

    def _land_once(self, run_id: int, batch: Sequence[LandingRow]) -> LoadResult:
        result = LoadResult()
        by_source: dict[str, list[LandingRow]] = {}
        for row in batch:
            by_source.setdefault(row.source, []).append(row)
        with self.conn.cursor() as cur:
            for rows in by_source.values():
                table = rows[0].landing_table
                existing = self._existing(cur, table, {r.request_key_sha256 for r in rows})
                fresh: list[LandingRow] = []
                for row in rows:
                    if row.identity in existing:
                        result.duplicates += 1
                    else:
                        existing.add(row.identity)
                        fresh.append(row)
                self._insert(cur, rows[0].declaration.extra_columns, table, run_id, fresh)
                result.landed += len(fresh)
        return result

    @staticmethod
    def _existing(cur, table: str, key_hashes: set[str]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        keys = sorted(key_hashes)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(
                f"select request_key_sha256, payload_sha256 from {table} where request_key_sha256 in ({marks})",
                chunk,
            )
            found.update((k, p) for k, p in cur.fetchall())
        return found

    def _insert(self, cur, extra: Sequence[str], table: str, run_id: int, rows: Sequence[LandingRow]) -> None:
        if not rows:
            return
        columns = ", ".join([_COLUMNS, *extra])
        marks = ", ".join(["%s"] * (8 + len(extra)))
        # PyMySQL's executemany sends multi-row INSERTs of at most max_stmt_length bytes.
        cur.max_stmt_length = self.max_statement_bytes
        self.conn.encoders[_Utf8Hex] = _Utf8Hex.literal
        cur.executemany(f"insert into {table} ({columns}) values ({marks})", [row.values(run_id) for row in rows])
