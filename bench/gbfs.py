"""Bench item 7, GBFS: landing throughput of 15-minute snapshots, the first full build of a week of them
and the incremental build after one new one per system, at the catalogue's volume (20 systems).

Workload: 20 systems, two per city in ten tracked cities, one ``free_bike_status`` snapshot each
every 15 minutes. The Dott systems get the real Dott capture of ``../shared/captures/gbfs`` (v2.3,
4,259 vehicles, 2.8 MB), the Lime systems the Lime one (v1.0, 7,325 vehicles, 1.5 MB), moved to
their city (every position shifted by the city's offset from Hamburg, where both were captured).
Four are the seed's (``dott-berlin``, ``lime_berlin``, ``dott-hamburg``, ``lime_hamburg``: the catalogue's ids); the 16
others (``bench_dott_munich``, ...) are rows the bench adds to the seeded ``gbfs_systems`` table
after ``dbt seed``, never to the seed file. Each snapshot is the capture with its
``last_updated`` moved to the snapshot's time and every vehicle's position moved by a few metres
(so payloads differ and vehicles change cells).

Scaling (a literal week is 672 snapshots x 20 systems x ~2 MB, ~27 GB of JSON, beyond this
machine's budget): the history is ``history_days`` days (full: 7, quick: 1) of 15-minute
snapshots of ``history_vehicles`` vehicles each (the first N of the capture, full: 500, quick:
200), LOAD-DATA'd into landing with ``loaded_at`` 30 s after each snapshot's time (incremental
models select on it; the Loader's own throughput is measured apart, on ``load_snapshots``
full-size snapshots); the timed incremental build follows one new full-size snapshot per
system, landed by :class:`extract.loader.Loader`.

Targets (issue 19): the ``dbt build`` of the scheduled selection after one new snapshot per
system <= 60 s; the set-up ``dbt run`` (the first full build of the week of history) within one
transform Lambda run, <= 600 s (its time box here).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import workloads as wl
from extract import db
from extract.loader import LandingRow, Loader
from extract.runlog import RunLog
from extract.settings import PROJECT_ROOT
from extract.sources import REGISTRY

CAPTURES = PROJECT_ROOT.parent / "shared" / "captures" / "gbfs"
DOTT = "dott_hamburg_free_bike_status_v2.3_2026-04-13T1816Z_web-dave.json"
LIME = "lime_hamburg_free_bike_status_v1.0_2026-04-13T1822Z_web-dave.json"
#: (city, latitude, longitude) of the ten tracked cities with two systems each (seed tracked_cities)
CITIES = (
    ("Berlin", 52.5244, 13.4105),
    ("Hamburg", 53.55, 10.0),
    ("Munich", 48.1371, 11.5754),
    ("Cologne", 50.9422, 6.9578),
    ("Frankfurt", 50.111, 8.679),
    ("Paris", 48.8579, 2.3491),
    ("Marseille", 43.2964, 5.37),
    ("Madrid", 40.4189, -3.6919),
    ("Barcelona", 41.3825, 2.1769),
    ("Lisbon", 38.7452, -9.1604),
)
#: where the captures were taken (their vehicles' positions are shifted from here to each city)
CAPTURED_AT = (53.55, 10.0)
#: systems the seed gbfs_systems lists; the others are added by the bench after dbt seed
SEEDED = {"dott-berlin", "lime_berlin", "dott-hamburg", "lime_hamburg"}
PROFILES = {
    "full": {"systems": 20, "history_days": 7, "history_vehicles": 500, "load_snapshots": 40},
    "quick": {"systems": 20, "history_days": 1, "history_vehicles": 200, "load_snapshots": 20},
}
#: the set-up run's time box: one transform Lambda run (its 600 s timeout)
SETUP_TIMEOUT_S = 600.0
TARGETS = {"build_after_snapshot_s": 60.0, "setup_run_s": SETUP_TIMEOUT_S}
#: what the scheduled transform of the GBFS schedule builds (lambda/template.yaml), without the seeds
SELECT = "source:gans_raw.gbfs_feeds+"


def systems(count: int) -> list[dict[str, Any]]:
    """The bench's ``count`` systems (at most 20): id, operator, city, capture and the shift to the city."""
    out = []
    for city, lat, lon in CITIES:
        for operator, capture in (("Dott", DOTT), ("Lime", LIME)):
            # the catalogue's ids: Dott's with a hyphen, Lime's with an underscore
            sep = "-" if operator == "Dott" else "_"
            seeded = f"{operator.lower()}{sep}{city.lower()}"
            out.append(
                {
                    "system_id": seeded if seeded in SEEDED else f"bench_{seeded}",
                    "operator": operator,
                    "city_name": city,
                    "capture": capture,
                    "shift": (lat - CAPTURED_AT[0], lon - CAPTURED_AT[1]),
                }
            )
    if not 0 < count <= len(out):
        raise ValueError(f"the bench has 1 to {len(out)} GBFS systems, not {count}")
    return out[:count]


class Snapshots:
    """Snapshots of the captures: ``last_updated`` at a time, positions moved to a system's city and nudged."""

    def __init__(self, captures: dict[str, dict]):
        self.captures = captures
        self._bikes: dict[tuple, list] = {}

    def bikes(self, system: dict, n: int, vehicles: int | None) -> list[dict]:
        """The vehicles of step ``n`` (positions repeat every 7 steps: cached), the first ``vehicles`` of them."""
        key = (system["capture"], system["shift"], n % 7, vehicles)
        if key not in self._bikes:
            capture = self.captures[system["capture"]]
            bikes = capture["data"]["bikes"][:vehicles] if vehicles else capture["data"]["bikes"]
            shift = 0.0001 * ((n % 7) - 3)  # about 11 m of latitude a step
            dlat, dlon = system["shift"]
            self._bikes[key] = [
                dict(b, lat=round(float(b["lat"]) + dlat + shift, 6), lon=round(float(b["lon"]) + dlon - shift, 6))
                for b in bikes
            ]
        return self._bikes[key]

    def payload(self, system: dict, at: datetime, n: int, vehicles: int | None = None) -> dict:
        """The system's snapshot published at ``at`` (UTC), step ``n``, its first ``vehicles`` vehicles (all: None)."""
        capture = self.captures[system["capture"]]
        return dict(capture, last_updated=int(at.timestamp()), data={"bikes": self.bikes(system, n, vehicles)})

    def row(self, system: dict, at: datetime, n: int, vehicles: int | None = None) -> LandingRow:
        """The landing row of that snapshot, fetched 10 s after ``at``."""
        return landing_row(system["system_id"], self.payload(system, at, n, vehicles), at + timedelta(seconds=10))


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


def _load_history(settings, work, rows, loaded_after: timedelta) -> tuple[int, float]:
    """LOAD DATA ``rows`` (an iterable of LandingRow) into gbfs_feeds, loaded_at = fetched_at + ``loaded_after``.

    Set-up, not a measure: the Loader's own throughput is item 7's first figure. Returns (rows, MB of JSON).
    """
    path = work / "history_gbfs.tsv"
    count, payload = 0, 0
    conn = db.connect(settings, "loader", local_infile=True)
    try:
        run = RunLog(conn).start("gbfs", "bench-history")
        conn.commit()
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            for row in rows:
                values = (*row.values(run.id), row.fetched_at.replace(tzinfo=None) + loaded_after)
                fh.write("\t".join(wl._tsv_field(v) for v in values) + "\n")
                count += 1
                payload += len(wl._plain(values[6]))
        with conn.cursor() as cur:
            cur.execute(wl.load_data_sql(path, "gbfs_feeds", wl.LOAD_COLUMNS + ", loaded_at"))
            loaded = cur.rowcount
        conn.commit()
    finally:
        conn.close()
        path.unlink(missing_ok=True)
    if loaded != count:
        raise RuntimeError(f"LOAD DATA stored {loaded} of {count} GBFS history rows")
    return count, payload / 1024 / 1024


def _add_bench_systems(settings, bench_systems: list[dict]) -> None:
    """The systems beyond the seed's, in the seeded table only (the seed file lists real systems)."""
    conn = db.connect(settings, "admin", database=settings.staging_database, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into gbfs_systems (operator, system_id, discovery_url, city_name) values (%s, %s, %s, %s)",
                [
                    (s["operator"], s["system_id"], f"https://bench.invalid/{s['system_id']}/gbfs.json", s["city_name"])
                    for s in bench_systems
                ],
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


def gbfs_node_times(work) -> dict[str, float]:
    """Seconds of each GBFS model of the last dbt call (its run_results.json), slowest first."""
    try:
        results = json.loads((work / "dbt_target" / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return {}
    times = {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
        for r in results
        if r["unique_id"].startswith("model.") and "gbfs" in r["unique_id"]
    }
    return dict(sorted(times.items(), key=lambda kv: -kv[1]))


def measure(bench, profile: str) -> dict[str, Any]:
    """Run item 7 on ``bench`` (a :class:`bench.run.Bench` with its server started); returns the figures."""
    assert REGISTRY["gbfs"].landing_table == "gbfs_feeds"
    p = PROFILES[profile]
    snaps = Snapshots({name: json.loads((CAPTURES / name).read_text(encoding="utf-8")) for name in {DOTT, LIME}})
    fleet = systems(p["systems"])
    bench.reset()
    settings = bench.settings()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 15)
    out: dict[str, Any] = {"profile": p, "systems": [s["system_id"] for s in fleet], "targets": TARGETS}

    # 1. landing throughput through the Loader, full-size snapshots (a past day, so they are history too)
    rows = []
    start = now - timedelta(days=p["history_days"] + 1)
    for n in range(math.ceil(p["load_snapshots"] / len(fleet))):
        at = start + timedelta(minutes=15 * n)
        rows += [snaps.row(s, at, n) for s in fleet]
    payload_mb = sum(len(wl._plain(r.values(0)[6])) for r in rows) / 1024 / 1024
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
    history = (
        snaps.row(s, history_start + timedelta(minutes=15 * n), n, p["history_vehicles"])
        for n in range(steps)
        for s in fleet
    )
    count, mb = _load_history(settings, bench.work, history, loaded_after=timedelta(seconds=30))
    out["history"] = {
        "snapshots": count,
        "vehicles_per_snapshot": p["history_vehicles"],
        "vehicles": count * p["history_vehicles"],
        "payload_mb": round(mb, 1),
        "land_s": round(time.perf_counter() - t0, 1),
    }
    print(f"      gbfs history: {json.dumps(out['history'])}", flush=True)

    # 3. set-up, timed against its own target: seeds, the bench's systems, a full run of every model
    wall, _rss, res = bench.child("dbt", "seed", check=False, timeout_s=bench.build_timeout_s)
    if not res.get("success"):
        raise RuntimeError(f"gbfs set-up dbt seed failed: {res.get('failed')} {res.get('exception')}")
    out["history"]["dbt_seed_s"] = round(wall, 1)
    _add_bench_systems(settings, [s for s in fleet if s["system_id"] not in SEEDED])
    wall, _rss, res = bench.child("dbt", "run", check=False, timeout_s=SETUP_TIMEOUT_S)
    if not res.get("success"):
        raise RuntimeError(f"gbfs set-up dbt run failed: {res.get('failed')} {res.get('exception')}")
    out["history"]["dbt_run_s"] = round(wall, 1)
    out["history"]["first_build_nodes"] = bench._node_times()
    out["history"]["gbfs_models_s"] = gbfs_node_times(bench.work)
    print(f"      gbfs set-up run: {wall:.1f} s {json.dumps(out['history']['gbfs_models_s'])}", flush=True)

    # 4. one new full-size snapshot per system, then the scheduled selection built and tested
    _land(settings, [snaps.row(s, now, steps) for s in fleet])
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
        "gbfs_models_s": gbfs_node_times(bench.work),
        "landing_rows": _count(settings, f"select count(*) from {raw}.gbfs_feeds"),
        "base_vehicles": _count(settings, f"select count(*) from {staging}.base_gbfs__vehicles"),
        "reconciliation_mismatches": _count(
            settings,
            "select count(*) from gans.landing_reconciliation where source_name = 'gbfs'"
            " and records_in_payload <> records_staged + records_rejected",
        ),
        "availability_rows": _count(settings, "select count(*) from gans.gbfs_availability"),
        "net_flow_rows": _count(settings, "select count(*) from gans.gbfs_net_flows"),
    }
    print(f"      gbfs incremental: {json.dumps(out['incremental'])}", flush=True)
    return out


def markdown_rows(res: dict) -> list[tuple[str, str, str, str]]:
    """Rows for the results table."""
    load, inc, hist = res.get("load") or {}, res.get("incremental") or {}, res.get("history") or {}
    n = len(res.get("systems") or [])
    build, setup = inc.get("build_s"), hist.get("dbt_run_s")

    def verdict(value, target):
        return "—" if value is None else ("met" if value <= target else "**missed**")

    return [
        (
            f"GBFS landing (full-size 15-min snapshots, {n} systems)",
            f"{load.get('snapshots_per_s')} snapshots/s ({load.get('mb_per_s')} MB/s)",
            f"{load.get('snapshots')} snapshots, {load.get('vehicles')} vehicles, {load.get('payload_mb')} MB",
            "",
        ),
        (
            f"GBFS first full `dbt run` of {res['profile']['history_days']} d of {n} systems",
            f"{setup} s",
            f"{hist.get('snapshots')} snapshots of {hist.get('vehicles_per_snapshot')} vehicles"
            f" ({hist.get('vehicles')} vehicles)",
            f"≤ {TARGETS['setup_run_s']:.0f} s: {verdict(setup, TARGETS['setup_run_s'])}",
        ),
        (
            "GBFS dbt build after one new full-size snapshot per system",
            f"{build} s",
            f"on that history; models {inc.get('nodes', {}).get('models_s')} s,"
            f" tests {inc.get('nodes', {}).get('tests_s')} s",
            f"≤ {TARGETS['build_after_snapshot_s']:.0f} s: {verdict(build, TARGETS['build_after_snapshot_s'])}",
        ),
    ]
