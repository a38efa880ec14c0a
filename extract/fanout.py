"""Fan-out: one scheduled extraction split into batches that each finish well inside one Lambda invocation.

The engine is AWS Step Functions (``lambda/template.yaml``, state machine ``ExtractStateMachine``);
this module is what its Lambda steps (``lambda/gans_lambda/fanout_handler.py``) call, and what
tests and ``make bench`` run in-process:

1. **plan** (:func:`plan`, :func:`save_plan`): build every request of a source for the schedule's
   window without HTTP (:meth:`Source.requests`; flights read the latest landed airports), count
   the calls each key costs per rate-limit bucket (:meth:`Source.plan_calls`: the API, or for GBFS
   each operator's host), and cut the keys into as few batches as the API's rate allows
   (:func:`batch_count`): **one batch at the full rate** when the busiest bucket's calls fit in
   ``max_batch_seconds`` (default :data:`MAX_BATCH_API_SECONDS`, 600 s) at the full rate, else a
   multiple of ``concurrency`` batches, balanced per bucket, each at ``1/concurrency`` of the rate
   and under ``max_batch_seconds``. The batches are stored in ``gans_raw.extract_plan_batches`` (a
   plan of thousands of keys would not fit Step Functions' 256 KB state); the state machine
   iterates only small references (:meth:`Batch.item`). Saving is idempotent: a retried plan step
   finds the batches stored first. A source declared ``plan_by = "city"`` (its requests need
   earlier responses, e.g. a GBFS discovery document, then its feeds) is planned by its top-level
   key instead and run with ``cities=`` rather than ``request_keys=``.
2. **batch** (:func:`run_batch`): run one batch's keys with :func:`extract.runner.extract`
   (``request_keys``) at its rate share (:func:`rate_parallelism`: the API's limit divided by
   ``min(concurrency, batches of the API in this round)``, so a batch alone runs at the full rate)
   and a ``deadline``; its idempotency key is ``<plan key>/<source>/<batch>`` (``...r<round>`` when
   re-queued). The keys left by the time guard are stored as the same batch of the next round.
3. **collect** (:func:`collect`): rows landed under the plan (every batch, every attempt), failed
   batches, the errors (bad cities), and the next round's batches; the transform runs once after.

Rate budget: at most ``concurrency`` batches run at once (the Map's ``MaxConcurrency``), and a round
holding ``n`` batches of an API gives each ``1/min(concurrency, n)`` of the API's limit: at most
``min(concurrency, n)`` of them run at once, so together they never exceed the limit, however the
batches and their retries interleave. GBFS is limited per host (each operator's server has the full
``GBFS_RATE_PER_MINUTE``), and its plan balances every host's calls over the batches, so the
busiest host, not the sum of all operators, sets the wall time. Sources sharing an API (the two
AeroDataBox ones) share the limit only within one call: their schedules (daily 18:00, weekly
Monday 03:30) do not overlap.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from extract import db
from extract.cities import load_cities, select_cities
from extract.http import interleave_by_host
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

    ``rate_per_minute`` is the API's limit (per host for GBFS); the batches run at most
    ``concurrency`` at a time, each at ``rate_per_minute / parallel`` (:attr:`parallel`), so a call
    costs ``seconds_per_call`` of its bucket's time. ``batch_calls``: per batch, the rate-limit
    bucket (API or host) of each call it is expected to make, in order (not stored; for
    :meth:`wall_seconds`). ``problems``: what the source reported while building its requests
    (``(key, error_type, message)``: a city without airports), for the plan step to report.
    """

    plan_key: str
    source: str
    rate_per_minute: float
    concurrency: int
    max_batch_seconds: float
    batches: list[Batch] = field(default_factory=list)
    problems: list[tuple[dict | None, str, str]] = field(default_factory=list)
    batch_calls: list[list[str]] = field(default_factory=list)
    burst: int = 1

    @property
    def parallel(self) -> int:
        """Batches of the plan running at once, which share the rate: ``min(concurrency, batches)``."""
        return max(1, min(self.concurrency, len(self.batches)))

    @property
    def seconds_per_call(self) -> float:
        """A call's share of its bucket's time at a batch's rate (0 without a rate limit)."""
        return per_call_seconds(self.rate_per_minute, self.parallel)

    @property
    def keys(self) -> int:
        """Request keys over all batches."""
        return sum(len(b.request_keys) for b in self.batches)

    @property
    def calls(self) -> int:
        """Calls planned over all batches."""
        return sum(len(c) for c in self.batch_calls)

    def rate_bound_seconds(self) -> float:
        """The least wall time the API's limit allows, seconds: the busiest bucket's calls at the full rate."""
        if self.rate_per_minute <= 0:
            return 0.0
        loads = Counter(bucket for calls in self.batch_calls for bucket in calls)
        return max(loads.values(), default=0) * 60.0 / self.rate_per_minute

    def wall_seconds(self, call_seconds: float = 0.0) -> float:
        """Extraction wall time of the plan, seconds: the batches dealt to ``concurrency`` workers in order.

        Each batch is simulated call by call as the runner makes them, one after the other: a call
        starts when the previous one ended (``call_seconds``: the measured time of one request,
        response and landing) and its bucket holds a token (each bucket at the batch's rate share,
        with the source's burst, :attr:`burst`).
        """
        burst = max(1, self.burst)
        spacing = self.seconds_per_call
        workers = [0.0] * max(1, self.concurrency)
        for calls in self.batch_calls:  # the Map starts the items in order as workers free up
            heapq.heapreplace(workers, workers[0] + simulate_calls(calls, spacing, burst, call_seconds))
        return max(workers)


def simulate_calls(calls: Sequence[str], spacing: float, burst: int, call_seconds: float) -> float:
    """Seconds one worker takes for ``calls`` (bucket per call, in order) with token buckets of ``burst``
    refilled every ``spacing`` seconds (full at the start) and ``call_seconds`` per call."""
    now = 0.0
    tokens: dict[str, tuple[float, float]] = {}  # bucket -> (tokens, at)
    for bucket in calls:
        have, at = tokens.get(bucket, (float(burst), 0.0))
        if spacing > 0:
            have = min(float(burst), have + (now - at) / spacing)
            if have < 1.0:
                now += (1.0 - have) * spacing
                have = 1.0
        tokens[bucket] = (have - 1.0, now)
        now += call_seconds
    return now


def per_call_seconds(rate_per_minute: float, concurrency: int) -> float:
    """Seconds between two calls of one bucket at ``rate_per_minute / concurrency`` (0: no limit)."""
    if rate_per_minute <= 0:
        return 0.0
    return 60.0 * concurrency / rate_per_minute


def batch_count(busiest_calls: int, rate_per_minute: float, concurrency: int, max_batch_seconds: float) -> int:
    """How many batches a plan needs: 1 when the busiest bucket's calls take at most ``max_batch_seconds``
    at the full rate (that batch runs alone, at the full rate); else ``concurrency`` x the waves needed,
    each batch at ``1/concurrency`` of the rate and under ``max_batch_seconds``: full waves of
    ``concurrency`` batches keep the limit used all the time."""
    if rate_per_minute <= 0:
        return 1
    full_rate_s = busiest_calls * 60.0 / rate_per_minute
    if full_rate_s <= max_batch_seconds:
        return 1
    return concurrency * math.ceil(full_rate_s / max_batch_seconds)


def api_rate(settings: Settings, source: str) -> float:
    """The rate limit (requests per minute) of ``source``'s API, from its settings (0: no limit)."""
    return float(get(source).client_options(settings).get("rate_per_minute", 0) or 0)


def batch_key(plan_key: str, source: str, round_no: int, index: int) -> str:
    """The idempotency key of a batch; :class:`PlanError` when it would not fit ``extract_runs``."""
    key = f"{plan_key}/{source}/{index}" + (f"r{round_no}" if round_no else "")
    if len(key) > MAX_KEY_LENGTH:
        raise PlanError(f"idempotency key {key[:60]}... is longer than {MAX_KEY_LENGTH} characters")
    return key


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

    ``concurrency``: workers running at once (the Map's ``MaxConcurrency``). The batch count is
    :func:`batch_count` of the busiest rate-limit bucket's calls (:meth:`Source.plan_calls`; all keys
    in one batch when the API has no limit); keys are dealt so that every bucket's calls are spread
    evenly (:func:`deal`), each batch under ``max_batch_seconds`` at its rate share.
    ``conn``: a loader connection, for flights (latest landed airports); without one, a connection
    is opened for the call.
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
    calls = declaration.plan_calls(settings, unique)
    result.burst = int(declaration.client_options(settings).get("burst", 1))
    loads = Counter(bucket for key_calls in calls for bucket in key_calls)
    count = batch_count(max(loads.values(), default=0), result.rate_per_minute, concurrency, max_batch_seconds)
    groups = deal(calls, min(count, max(1, len(unique))))
    per_call = per_call_seconds(result.rate_per_minute, max(1, min(concurrency, len(groups))))
    for index, members in enumerate(groups):
        batch_calls = _in_run_order([calls[i] for i in members], len(loads) > 1, declaration.calls_per_unit)
        busiest = max(Counter(batch_calls).values(), default=0)
        result.batches.append(Batch(plan_key, source, 0, index, tuple(unique[i] for i in members), busiest * per_call))
        result.batch_calls.append(batch_calls)
        batch_key(plan_key, source, 0, index)  # fails now rather than in a worker
    return result


def _in_run_order(key_calls: Sequence[Sequence[str]], per_host: bool, run_length: int) -> list[str]:
    """A batch's calls in the order the runner makes them: key by key; for a source with several buckets
    (GBFS hosts), each run of at most ``run_length`` calls to one bucket is a unit (a system: its
    discovery and feeds), the units taken round-robin over the buckets
    (:func:`extract.http.interleave_by_host`), first call of every unit, then the second, and so on
    (every discovery, then each feed), as the source orders its requests."""
    if not per_host:
        return [bucket for calls in key_calls for bucket in calls]
    units: list[list[str]] = []
    for calls in key_calls:
        start = len(units)
        for bucket in calls:
            if len(units) > start and units[-1][0] == bucket and len(units[-1]) < run_length:
                units[-1].append(bucket)
            else:
                units.append([bucket])
    units = interleave_by_host(units, lambda unit: unit[0])
    return [unit[step] for step in range(max(map(len, units), default=0)) for unit in units if step < len(unit)]


def deal(calls: Sequence[Sequence[str]], count: int) -> list[list[int]]:
    """Key indexes dealt into ``count`` non-empty batches (fewer when there are fewer keys), each in key order.

    ``calls``: per key, the rate-limit bucket of each call it costs. Keys whose calls all go to one
    bucket (every source but GBFS) are cut in order into runs of equal length (±1); otherwise each
    key, the costliest first, goes to the batch whose busiest bucket stays the least loaded
    (then: fewest calls), so every host's calls are spread over the batches.
    """
    n = len(calls)
    count = max(1, min(count, n))
    if n == 0:
        return [[]]
    if len({bucket for key_calls in calls for bucket in key_calls}) <= 1:
        size, extra = divmod(n, count)
        out, start = [], 0
        for b in range(count):
            end = start + size + (1 if b < extra else 0)
            out.append(list(range(start, end)))
            start = end
        return out
    loads: list[Counter] = [Counter() for _ in range(count)]
    members: list[list[int]] = [[] for _ in range(count)]
    order = sorted(range(n), key=lambda i: (-max(Counter(calls[i]).values(), default=0), -len(calls[i]), i))
    for i in order:
        mine = Counter(calls[i])

        def cost(b: int, mine: Counter = mine) -> tuple[int, int, int]:
            worst = max((loads[b][bucket] + c for bucket, c in mine.items()), default=0)
            return worst, sum(loads[b].values()), len(members[b])

        best = min(range(count), key=cost)
        loads[best].update(mine)
        members[best].append(i)
    return [sorted(m) for m in members if m]


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
    """Run the stored batch ``item`` (:meth:`Batch.item`) at its share of the API's rate (:func:`rate_parallelism`).

    ``window`` and ``cities`` must be the plan's (the source rebuilds its requests and keeps the
    batch's keys). ``deadline`` (:func:`time.monotonic` seconds): no request starts after it; the
    keys left are stored as the next round's batch. Other keyword arguments go to
    :func:`extract.runner.extract` (``base_urls``, ``http_options``, ``session_factory``, ...).

    Returns ``{"plan_key", "source", "round", "batch", "idempotency_key", "run_id", "status",
    "requests", "landed", "duplicates", "errors", "unreachable", "left", "rate_share"}``; ``status``
    ``skipped`` when the batch already succeeded under its key (a re-delivered item fetches nothing);
    ``unreachable``: requests not sent to a host found down (:class:`extract.http.HostUnreachable`).
    """
    from extract.runner import extract

    conn = db.connect(settings, "loader")
    try:
        batch = load_batch(conn, item["plan_key"], item["source"], int(item["round"]), int(item["batch"]))
        parallel = rate_parallelism(conn, batch, concurrency)
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
        rate_share=1.0 / parallel,
        deadline=deadline,
        **selection,
        **extract_options,
    )
    result = summary.result(batch.source)
    if result.left_keys:
        conn = db.connect(settings, "loader")
        try:
            requeue(conn, batch, result.left_keys, per_call_seconds(api_rate(settings, batch.source), parallel))
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
        "unreachable": result.unreachable,
        "left": len(result.left_keys),
        "rate_share": round(1.0 / parallel, 6),
    }


def rate_parallelism(conn, batch: Batch, concurrency: int) -> int:
    """How many batches share ``batch``'s API rate: ``min(concurrency, batches of the same API in its round)``.

    The Map runs at most ``concurrency`` items at once, and only this round's batches of this plan
    hit the API now (a round starts after the previous one collected), so each batch may take
    ``1/parallelism`` of the limit: a batch alone takes all of it.
    """
    api = get(batch.source).api
    sources = [name for name, source in REGISTRY.items() if source.api == api]
    with conn.cursor() as cur:
        cur.execute(
            "select count(*) from extract_plan_batches where plan_key = %s and round_no = %s"
            f" and source in ({', '.join(['%s'] * len(sources))})",
            (batch.plan_key, batch.round, *sources),
        )
        found = int(cur.fetchone()[0])
    conn.commit()
    return max(1, min(concurrency, found))


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
