"""Bench item 7, GBFS: landing throughput of 15-minute snapshots and the incremental build after one new one.

Workload: three operators in one city (Hamburg), one snapshot each every 15 minutes. The two
operators the seed lists there (``dott-hamburg``, ``lime_hamburg``) get the real captures in
``../shared/captures/gbfs`` (Dott v2.3, 4,259 vehicles, 2.8 MB; Lime v1.0, 7,325 vehicles, 1.5 MB);
the third (``bench_hamburg``, a row the bench adds to the seeded ``gbfs_systems`` table after
``dbt seed``, never to the seed file) gets the Dott capture again. Each snapshot is the capture
with its ``last_updated`` moved to the snapshot's time and every vehicle's position moved by a
few metres (so payloads differ and vehicles change cells).

Scaling (a literal month is 2,880 snapshots x 3 operators x ~2 MB, ~17 GB of JSON, beyond this
machine's budget): the history is ``history_days`` days (full: 7, quick: 1) of 15-minute
snapshots of ``history_vehicles`` vehicles each (the first N of the capture, full: 500, quick:
200); landing throughput is measured on ``load_snapshots`` full-size snapshots (every vehicle)
through :class:`extract.loader.Loader`; the timed incremental build follows one new full-size
snapshot per operator. History rows are landed with the server clock set to their own fetch time,
so ``loaded_at`` is as if landed during those days (incremental models select on it).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from extract import db
from extract.loader import LandingRow, Loader
from extract.runlog import RunLog
from extract.settings import PROJECT_ROOT
from extract.sources import REGISTRY

CAPTURES = PROJECT_ROOT.parent / "shared" / "captures" / "gbfs"
DOTT = "dott_hamburg_free_bike_status_v2.3_2026-04-13T1816Z_web-dave.json"
LIME = "lime_hamburg_free_bike_status_v1.0_2026-04-13T1822Z_web-dave.json"
#: (system_id, capture) of the three operators
SYSTEMS = (("dott-hamburg", DOTT), ("lime_hamburg", LIME), ("bench_hamburg", DOTT))
PROFILES = {
    "full": {"history_days": 7, "history_vehicles": 500, "load_snapshots": 30},
    "quick": {"history_days": 1, "history_vehicles": 200, "load_snapshots": 9},
}
#: what the scheduled transform of the GBFS schedule builds (lambda/template.yaml), without the seeds
SELECT = "source:gans_raw.gbfs_feeds+"


def snapshot(capture: dict, at: datetime, n: int, vehicles: int | None = None) -> dict:
    """The capture as published at ``at`` (UTC): ``last_updated`` moved there, positions nudged by ``n``."""
    bikes = capture["data"]["bikes"][:vehicles] if vehicles else capture["data"]["bikes"]
    shift = 0.0001 * ((n % 7) - 3)  # about 11 m of latitude a step
    moved = [dict(b, lat=round(float(b["lat"]) + shift, 6), lon=round(float(b["lon"]) - shift, 6)) for b in bikes]
    return dict(capture, last_updated=int(at.timestamp()), data={"bikes": moved})


def landing_row(system_id: str, payload: dict, fetched_at: datetime) -> LandingRow:
    """The landing row the extractor would store for a free_bike_status snapshot."""
    return LandingRow(
        source="gbfs",
        request_key={"system_id": system_id, "feed": "free_bike_status"},
        request_params={},
        fetched_at=fetched_at,
        http_status=200,
        payload=payload,
    )


def _land(settings, rows: list[LandingRow], *, clock: datetime | None = None) -> float:
    """Land ``rows`` in one run; ``clock`` sets the server's time (loaded_at). Returns the seconds taken."""
    conn = db.connect(settings, "loader")
    try:
        if clock is not None:
            with conn.cursor() as cur:
                cur.execute("set timestamp = %s", (clock.timestamp(),))
        t0 = time.perf_counter()
        runlog = RunLog(conn)
        run = runlog.start("gbfs", "bench")
        result = Loader(conn).land(run.id, rows)
        run.counters.rows_landed += result.landed
        runlog.finish(run)
        return time.perf_counter() - t0
    finally:
        conn.close()


def _add_bench_system(settings) -> None:
    """The third operator, in the seeded table only (the seed file lists two per city)."""
    conn = db.connect(settings, "admin", database=settings.staging_database, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "insert into gbfs_systems (operator, system_id, discovery_url, city_name)"
                " values ('Bench', 'bench_hamburg', 'https://bench.invalid/gbfs.json', 'Hamburg')"
            )
    finally:
        conn.close()


def _count(settings, sql: str) -> int:
    conn = db.connect(settings, "admin", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return int(cur.fetchone()[0] or 0)
    finally:
        conn.close()


def measure(bench, profile: str) -> dict[str, Any]:
    """Run item 7 on ``bench`` (a :class:`bench.run.Bench` with its server started); returns the figures."""
    assert REGISTRY["gbfs"].landing_table == "gbfs_feeds"
    p = PROFILES[profile]
    captures = {name: json.loads((CAPTURES / name).read_text(encoding="utf-8")) for name in {DOTT, LIME}}
    bench.reset()
    settings = bench.settings()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 15)
    out: dict[str, Any] = {"profile": p, "operators": [s for s, _ in SYSTEMS]}

    # 1. landing throughput, full-size snapshots (a past day, so they are history too)
    rows = []
    start = now - timedelta(days=p["history_days"] + 1)
    for n in range(math.ceil(p["load_snapshots"] / len(SYSTEMS))):
        at = start + timedelta(minutes=15 * n)
        rows += [landing_row(s, snapshot(captures[c], at, n), at + timedelta(seconds=10)) for s, c in SYSTEMS]
    payload_mb = sum(len(json.dumps(r.payload)) for r in rows) / 1024 / 1024
    seconds = _land(settings, rows, clock=start + timedelta(hours=1))
    out["load"] = {
        "snapshots": len(rows),
        "vehicles": sum(len(r.payload["data"]["bikes"]) for r in rows),
        "payload_mb": round(payload_mb, 1),
        "seconds": round(seconds, 2),
        "snapshots_per_s": round(len(rows) / seconds, 1),
        "mb_per_s": round(payload_mb / seconds, 1),
    }
    print(f"      gbfs load: {json.dumps(out['load'])}", flush=True)

    # 2. history: history_days of 15-minute snapshots, scaled down to history_vehicles each
    t0 = time.perf_counter()
    steps = p["history_days"] * 96
    history_start = now - timedelta(days=p["history_days"])
    for n in range(steps):
        at = history_start + timedelta(minutes=15 * n)
        batch = [
            landing_row(s, snapshot(captures[c], at, n, p["history_vehicles"]), at + timedelta(seconds=10))
            for s, c in SYSTEMS
        ]
        _land(settings, batch, clock=at + timedelta(seconds=30))
    out["history"] = {
        "snapshots": steps * len(SYSTEMS),
        "vehicles_per_snapshot": p["history_vehicles"],
        "land_s": round(time.perf_counter() - t0, 1),
    }

    # 3. set-up (not timed as the figure): seeds, the third operator, a full run of every model
    for args in (("seed",), ("run",)):
        wall, _rss, res = bench.child("dbt", *args, check=False, timeout_s=bench.build_timeout_s)
        if not res.get("success"):
            raise RuntimeError(f"gbfs set-up dbt {args[0]} failed: {res.get('failed')} {res.get('exception')}")
        out["history"][f"dbt_{args[0]}_s"] = round(wall, 1)
        if args[0] == "seed":
            _add_bench_system(settings)
    out["history"]["first_build_nodes"] = bench._node_times()

    # 4. one new full-size snapshot per operator, then the scheduled selection built and tested
    at = now
    new = [landing_row(s, snapshot(captures[c], at, steps), at + timedelta(seconds=10)) for s, c in SYSTEMS]
    _land(settings, new)
    wall, rss, res = bench.child(
        "dbt", "build", "-s", SELECT, "--indirect-selection", "cautious", check=False, timeout_s=bench.build_timeout_s
    )
    if not res.get("success"):
        raise RuntimeError(f"gbfs incremental build failed: {res.get('failed')} {res.get('exception')}")
    raw = settings.raw_database
    staging = settings.staging_database
    out["incremental"] = {
        "build_s": round(wall, 2),
        "dbt_s": round(res.get("dbt_s", 0), 2),
        "rss_mb": round(rss, 1),
        "nodes": bench._node_times(),
        "landing_rows": _count(settings, f"select count(*) from {raw}.gbfs_feeds"),
        "base_vehicles": _count(settings, f"select count(*) from {staging}.base_gbfs__vehicles"),
        "reconciliation_mismatches": _count(
            settings,
            "select count(*) from gans.landing_reconciliation where source_name = 'gbfs'"
            " and records_in_payload <> records_staged + records_rejected",
        ),
        "availability_rows": _count(settings, "select count(*) from gans.gbfs_availability"),
    }
    print(f"      gbfs incremental: {json.dumps(out['incremental'])}", flush=True)
    return out


def markdown_rows(res: dict) -> list[tuple[str, str, str, str]]:
    """Rows for the results table."""
    load, inc, hist = res.get("load") or {}, res.get("incremental") or {}, res.get("history") or {}
    return [
        (
            "GBFS landing (full-size 15-min snapshots, 3 operators)",
            f"{load.get('snapshots_per_s')} snapshots/s ({load.get('mb_per_s')} MB/s)",
            f"{load.get('snapshots')} snapshots, {load.get('vehicles')} vehicles, {load.get('payload_mb')} MB",
            "",
        ),
        (
            "GBFS dbt build after one new snapshot per operator",
            f"{inc.get('build_s')} s",
            f"on {hist.get('snapshots')} snapshots of history ({res['profile']['history_days']} d,"
            f" {hist.get('vehicles_per_snapshot')} vehicles each); first run {hist.get('dbt_run_s')} s",
            "",
        ),
    ]
