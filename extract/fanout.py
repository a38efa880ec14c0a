"""Fan-out: one scheduled extraction split into batches that each finish well inside one Lambda invocation.

The engine is AWS Step Functions (``lambda/template.yaml``, state machine ``ExtractStateMachine``);
this module is what its Lambda steps (``lambda/gans_lambda/fanout_handler.py``) call, and what
tests and ``make bench`` run in-process:

1. **plan** (:func:`plan`, :func:`save_plan`): build every request of a source for the schedule's
   window without HTTP (:meth:`Source.requests`; flights read the latest landed airports), then cut
   the request keys, in request order, into batches whose API time stays under
   ``max_batch_seconds`` (default :data:`MAX_BATCH_API_SECONDS`, 600 s) at the per-worker rate. The
   batches are stored in ``gans_raw.extract_plan_batches`` (a plan of thousands of keys would not
   fit Step Functions' 256 KB state); the state machine iterates only small references
   (:meth:`Batch.item`). Saving is idempotent: a retried plan step finds the batches stored first.
   A source declared ``plan_by = "city"`` (its requests need earlier responses, e.g. a GBFS
   discovery document, then its feeds) is planned by its top-level key instead: batches of cities
   at ``calls_per_city`` calls each, run with ``cities=`` rather than ``request_keys=``.
2. **batch** (:func:`run_batch`): run one batch's keys with :func:`extract.runner.extract`
   (``request_keys``), the per-worker rate ``limit / concurrency`` (``rate_share``) and a
   ``deadline``; its idempotency key is ``<plan key>/<source>/<batch>`` (``...r<round>`` when
   re-queued). The keys left by the time guard are stored as the same batch of the next round.
3. **collect** (:func:`collect`): rows landed under the plan (every batch, every attempt), failed
   batches, the errors (bad cities), and the next round's batches; the transform runs once after.

Rate budget: at most ``concurrency`` batches run at once (the Map's ``MaxConcurrency``), each
with ``1/concurrency`` of the API's limit, so together they never exceed the limit, however the
batches and their retries interleave. Sources sharing an API (the two AeroDataBox ones) share the
limit only within one call: their schedules (daily 18:00, weekly Monday 03:30) do not overlap.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from extract import db
from extract.cities import load_cities, select_cities
from extract.runner import resolve_base_urls
from extract.settings import Settings
from extract.sources import REGISTRY, RunContext, get

log = logging.getLogger(__name__)

#: API time a batch may plan at the per-worker rate, seconds: Lambda stops at 900 s, the rest is
#: margin for retries (they take tokens too), slow responses and landing
MAX_BATCH_API_SECONDS = 600.0
#: extract_runs.idempotency_key is varchar(255)
MAX_KEY_LENGTH = 255


class PlanError(ValueError):
    """A plan cannot be made or found as asked (rate, concurrency, key length, missing batch)."""


@dataclass(frozen=True)
class Batch:
    """One batch of a plan: the request keys one worker fetches (``round`` > 0: re-queued keys)."""

    plan_key: str
    source: str
    round: int
    index: int
    request_keys: tuple[dict[str, Any], ...]
    api_seconds: float

    @property
    def idempotency_key(self) -> str:
        """``<plan key>/<source>/<index>``, plus ``r<round>`` for a re-queued batch."""
        return batch_key(self.plan_key, self.source, self.round, self.index)

    def item(self) -> dict[str, Any]:
        """The Map item of this batch: a reference (the keys stay in the database)."""
        return {
            "plan_key": self.plan_key,
            "source": self.source,
            "round": self.round,
            "batch": self.index,
            "keys": len(self.request_keys),
        }


@dataclass
class Plan:
    """The batches of one source for one scheduled extraction.

    ``rate_per_minute`` is the API's limit; each of ``concurrency`` workers gets
    ``rate_per_minute / concurrency``, so a call costs ``seconds_per_call`` of a worker's time.
    ``problems``: what the source reported while building its requests (``(key, error_type,
    message)``: a city without airports), for the plan step to report.
    """

    plan_key: str
    source: str
    rate_per_minute: float
    concurrency: int
    max_batch_seconds: float
    batches: list[Batch] = field(default_factory=list)
    problems: list[tuple[dict | None, str, str]] = field(default_factory=list)

    @property
    def seconds_per_call(self) -> float:
        """A call's share of one worker's time at the per-worker rate (0 without a rate limit)."""
        return per_call_seconds(self.rate_per_minute, self.concurrency)

    @property
    def keys(self) -> int:
        """Request keys over all batches."""
        return sum(len(b.request_keys) for b in self.batches)

    def wall_seconds(self, call_seconds: float = 0.0) -> float:
        """Extraction wall time of the plan, seconds: the batches dealt to ``concurrency`` workers in order.

        A call takes the longer of its rate spacing (:attr:`seconds_per_call`) and ``call_seconds``
        (the measured time of one request, response and landing), since the limiter spaces the
        starts of requests and a worker sends one at a time.
        """
        per_call = max(self.seconds_per_call, call_seconds)
        workers = [0.0] * max(1, self.concurrency)
        for b in self.batches:  # the Map starts the items in order as workers free up
            heapq.heapreplace(workers, workers[0] + len(b.request_keys) * per_call * _calls(self.source))
        return max(workers)


def per_call_seconds(rate_per_minute: float, concurrency: int) -> float:
    """Seconds between two calls of one worker at ``rate_per_minute / concurrency`` (0: no limit)."""
    if rate_per_minute <= 0:
        return 0.0
    return 60.0 * concurrency / rate_per_minute


def api_rate(settings: Settings, source: str) -> float:
    """The rate limit (requests per minute) of ``source``'s API, from its settings (0: no limit)."""
    return float(get(source).client_options(settings).get("rate_per_minute", 0) or 0)


def batch_key(plan_key: str, source: str, round_no: int, index: int) -> str:
    """The idempotency key of a batch; :class:`PlanError` when it would not fit ``extract_runs``."""
    key = f"{plan_key}/{source}/{index}" + (f"r{round_no}" if round_no else "")
    if len(key) > MAX_KEY_LENGTH:
        raise PlanError(f"idempotency key {key[:60]}... is longer than {MAX_KEY_LENGTH} characters")
    return key


def _calls(source: str) -> int:
    s = REGISTRY[source]
    return s.calls_per_city if s.plan_by == "city" else 1


def chunk(keys: Sequence[dict[str, Any]], per_batch: int) -> list[list[dict[str, Any]]]:
    """``keys`` in order, in lists of at most ``per_batch`` (the last may be shorter)."""
    per_batch = max(1, per_batch)
    return [list(keys[i : i + per_batch]) for i in range(0, len(keys), per_batch)]


def plan(
    settings: Settings,
    source: str,
    *,
    plan_key: str,
    concurrency: int = 1,
    cities: Iterable[str] | None = None,
    window: tuple[datetime, datetime] | None = None,
    options: Mapping[str, Any] | None = None,
    max_batch_seconds: float = MAX_BATCH_API_SECONDS,
    conn: Any = None,
) -> Plan:
    """The batches of ``source`` for the tracked cities (or ``cities``) and ``window``, without any HTTP.

    ``concurrency``: workers running at once, each at ``1/concurrency`` of the API's rate;
    a batch holds at most ``max_batch_seconds / seconds_per_call`` calls (all keys in one batch
    when the API has no limit). ``conn``: a loader connection, for flights (latest landed airports);
    without one, a connection is opened for the call.
    Duplicate keys are planned once. Raises :class:`PlanError` for a concurrency below 1 or a batch
    key too long, :class:`ValueError` for an unknown source or option.
    """
    if concurrency < 1:
        raise PlanError(f"concurrency must be at least 1, got {concurrency}")
    declaration = get(source)
    declaration.check_options(dict(options or {}))
    chosen = select_cities(load_cities(settings.cities_file), cities)
    result = Plan(plan_key, source, api_rate(settings, source), concurrency, max_batch_seconds)
    if declaration.plan_by == "city":
        keys = [{"city": c.name} for c in chosen]
    elif conn is None:
        own = db.connect(settings, "loader")
        try:
            return plan(
                settings,
                source,
                plan_key=plan_key,
                concurrency=concurrency,
                cities=cities,
                window=window,
                options=options,
                max_batch_seconds=max_batch_seconds,
                conn=own,
            )
        finally:
            own.close()
    else:
        ctx = RunContext(
            settings=settings,
            cities=chosen,
            base_url=resolve_base_urls(settings)[declaration.api],
            window=window,
            options=dict(options or {}),
            asked=[source],
            conn=conn,
            error=lambda key, error_type, message: result.problems.append((key, error_type, message)),
        )
        keys = [dict(spec.key) for spec in declaration.requests(ctx)]
    unique = list({json.dumps(k, sort_keys=True): k for k in keys}.values())
    per_call = result.seconds_per_call * _calls(source)
    per_batch = len(unique) if per_call == 0 else max(1, math.floor(max_batch_seconds / per_call))
    for index, batch in enumerate(chunk(unique, per_batch)):
        result.batches.append(Batch(plan_key, source, 0, index, tuple(batch), len(batch) * per_call))
        batch_key(plan_key, source, 0, index)  # fails now rather than in a worker
    return result


# --------------------------------------------------------------------------------------
# The stored plan (gans_raw.extract_plan_batches, through the loader's connection)


def save_plan(conn, plan_: Plan) -> list[Batch]:
    """Store the plan's batches (round 0) unless a plan with this key and source is stored already.

    Returns the batches as stored: a retried plan step gets the first plan's batches, so every
    attempt fans out the same keys under the same batch keys.
    """
    _insert(conn, plan_.batches)
    return stored_batches(conn, plan_.plan_key, plan_.source, 0)


def _insert(conn, batches: Sequence[Batch]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "insert ignore into extract_plan_batches"
            " (plan_key, source, round_no, batch_no, request_keys, api_seconds, created_at)"
            " values (%s, %s, %s, %s, %s, %s, utc_timestamp(6))",
            [
                (b.plan_key, b.source, b.round, b.index, json.dumps(list(b.request_keys)), b.api_seconds)
                for b in batches
            ],
        )
    conn.commit()


def stored_batches(conn, plan_key: str, source: str, round_no: int) -> list[Batch]:
    """The stored batches of one round of a plan, by batch number ([] when there are none)."""
    with conn.cursor() as cur:
        cur.execute(
            "select batch_no, request_keys, api_seconds from extract_plan_batches"
            " where plan_key = %s and source = %s and round_no = %s order by batch_no",
            (plan_key, source, round_no),
        )
        rows = cur.fetchall()
    conn.commit()
    return [Batch(plan_key, source, round_no, n, tuple(json.loads(k)), float(s)) for n, k, s in rows]


def load_batch(conn, plan_key: str, source: str, round_no: int, index: int) -> Batch:
    """One stored batch; :class:`PlanError` when the plan holds no such batch."""
    with conn.cursor() as cur:
        cur.execute(
            "select request_keys, api_seconds from extract_plan_batches"
            " where plan_key = %s and source = %s and round_no = %s and batch_no = %s",
            (plan_key, source, round_no, index),
        )
        row = cur.fetchone()
    conn.commit()
    if row is None:
        raise PlanError(f"no batch {index} of round {round_no} for {source} in plan {plan_key}")
    return Batch(plan_key, source, round_no, index, tuple(json.loads(row[0])), float(row[1]))


def requeue(conn, batch: Batch, left_keys: Sequence[dict[str, Any]], seconds_per_call: float) -> Batch | None:
    """Store ``left_keys`` (not fetched before the deadline) as the same batch of the next round."""
    if not left_keys:
        return None
    nxt = Batch(
        batch.plan_key, batch.source, batch.round + 1, batch.index, tuple(left_keys), len(left_keys) * seconds_per_call
    )
    batch_key(nxt.plan_key, nxt.source, nxt.round, nxt.index)
    _insert(conn, [nxt])
    return nxt


# --------------------------------------------------------------------------------------
# Running a batch, collecting the plan


def run_batch(
    settings: Settings,
    item: Mapping[str, Any],
    *,
    concurrency: int,
    window: tuple[datetime, datetime] | None = None,
    cities: Iterable[str] | None = None,
    deadline: float | None = None,
    trigger: str = "fanout",
    **extract_options: Any,
) -> dict[str, Any]:
    """Run the stored batch ``item`` (:meth:`Batch.item`) at ``1/concurrency`` of the API's rate.

    ``window`` and ``cities`` must be the plan's (the source rebuilds its requests and keeps the
    batch's keys). ``deadline`` (:func:`time.monotonic` seconds): no request starts after it; the
    keys left are stored as the next round's batch. Other keyword arguments go to
    :func:`extract.runner.extract` (``base_urls``, ``http_options``, ``session_factory``, ...).

    Returns ``{"plan_key", "source", "round", "batch", "idempotency_key", "run_id", "status",
    "requests", "landed", "duplicates", "errors", "left"}``; ``status`` ``skipped`` when the batch
    already succeeded under its key (a re-delivered item fetches nothing).
    """
    from extract.runner import extract

    conn = db.connect(settings, "loader")
    try:
        batch = load_batch(conn, item["plan_key"], item["source"], int(item["round"]), int(item["batch"]))
    finally:
        conn.close()
    declaration = get(batch.source)
    if declaration.plan_by == "city":
        selection = {"cities": [k["city"] for k in batch.request_keys]}
    else:
        selection = {"cities": cities, "request_keys": batch.request_keys}
    summary = extract(
        settings,
        sources=[batch.source],
        window=window,
        trigger=trigger,
        idempotency_key=batch.idempotency_key,
        rate_share=1.0 / concurrency,
        deadline=deadline,
        **selection,
        **extract_options,
    )
    result = summary.result(batch.source)
    if result.left_keys:
        conn = db.connect(settings, "loader")
        try:
            requeue(conn, batch, result.left_keys, per_call_seconds(api_rate(settings, batch.source), concurrency))
        finally:
            conn.close()
    return {
        **batch.item(),
        "idempotency_key": batch.idempotency_key,
        "run_id": result.run_id,
        "status": result.status,
        "requests": result.requests,
        "landed": result.landed,
        "duplicates": result.duplicates,
        "errors": result.errors,
        "left": len(result.left_keys),
    }


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def collect(settings: Settings, plan_key: str, sources: Sequence[str], round_no: int, max_errors: int = 20) -> dict:
    """What the batches of a plan did, from the run log, and the next round's batches.

    Returns ``{"landed_total", "runs", "failed_runs", "running_runs", "errors", "error_keys",
    "next_items"}``: rows stored in the landing tables by every batch run of the plan (all rounds
    and attempts); batch runs and how many failed or never closed (a worker that died); the error
    count and up to ``max_errors`` ``{source, request_key, error_type, message}`` (a bad city);
    and :meth:`Batch.item` of every batch of round ``round_no + 1`` (keys left by a time guard).
    """
    conn = db.connect(settings, "loader")
    out: dict[str, Any] = {
        "landed_total": 0,
        "runs": 0,
        "failed_runs": 0,
        "running_runs": 0,
        "errors": 0,
        "error_keys": [],
        "next_items": [],
    }
    try:
        with conn.cursor() as cur:
            for source in sources:
                prefix = _like_prefix(f"{plan_key}/{source}/")
                table = get(source).landing_table
                cur.execute(
                    f"select count(*) from {table} t join extract_runs r on r.id = t.run_id"
                    " where r.source = %s and r.idempotency_key like %s",
                    (source, prefix),
                )
                out["landed_total"] += int(cur.fetchone()[0])
                # a batch's latest run decides it: a failed attempt followed by a success is a success
                cur.execute(
                    "select r.status, count(*) from extract_runs r join ("
                    "  select idempotency_key, max(id) as id from extract_runs"
                    "  where source = %s and idempotency_key like %s group by idempotency_key"
                    ") latest on latest.id = r.id group by r.status",
                    (source, prefix),
                )
                for status, count in cur.fetchall():
                    out["runs"] += int(count)
                    out["failed_runs"] += int(count) if status == "failed" else 0
                    out["running_runs"] += int(count) if status == "running" else 0
                cur.execute(
                    "select count(*) from extract_errors e join extract_runs r on r.id = e.run_id"
                    " where r.source = %s and r.idempotency_key like %s",
                    (source, prefix),
                )
                out["errors"] += int(cur.fetchone()[0])
                cur.execute(
                    "select e.request_key, e.error_type, e.message from extract_errors e"
                    " join extract_runs r on r.id = e.run_id"
                    " where r.source = %s and r.idempotency_key like %s order by e.id limit %s",
                    (source, prefix, max_errors),
                )
                for key, error_type, message in cur.fetchall():
                    if len(out["error_keys"]) < max_errors:
                        out["error_keys"].append(
                            {
                                "source": source,
                                "request_key": None if key is None else json.loads(key),
                                "error_type": error_type,
                                "message": message[:300],
                            }
                        )
        conn.commit()
        for source in sources:
            out["next_items"] += [b.item() for b in stored_batches(conn, plan_key, source, round_no + 1)]
    finally:
        conn.close()
    return out
