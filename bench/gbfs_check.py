"""Row-for-row check of the GBFS models: checksums of every GBFS table after the same builds, to compare
two versions of the dbt project (e.g. ``main``'s, extracted with ``git archive``, and this branch's).

Usage::

    python -m bench.gbfs_check --out before.json --project-dir /tmp/main/dbt_project
    python -m bench.gbfs_check --out after.json --like before.json
    python -m bench.gbfs_check --compare before.json after.json

On a throw-away MariaDB (like ``make bench``) it builds two workloads, with fixed clocks so that
every value (landing ids, ``loaded_at``) is the same from run to run:

1. ``captures``: what ``tests/test_gbfs.py``'s ``gbfs_built`` fixture lands (the real captures in
   ``../shared/captures/gbfs`` and the spec's documented shapes: v1.0, v2.3, v3.0, rejects, a stale
   and an empty snapshot), then the same ``dbt build``;
2. ``bench``: item 7's workload (:mod:`bench.gbfs`) on a small scale (``--systems``, ``--days``,
   ``--vehicles``), ``dbt seed`` + a full ``dbt run``; then one new full-size snapshot per system and
   one snapshot landed late (fetched before the newest held), and the scheduled ``dbt build``.

After each build it writes (row count, SHA-256 over the sorted rows) of every GBFS model
(``base_gbfs__*``, ``stg_gbfs__*``, ``int_gbfs__*``, ``gbfs_*``), and of ``landing_reconciliation`` /
``landing_rejects`` (GBFS rows). ``--like`` keeps only the columns the earlier file had (a model may gain
columns; none may change).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import gbfs
from bench.run import Bench
from bench.steps import dbt_paths
from bench.workloads import RECORDINGS, WORK_DIR
from extract import db
from extract.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _tables(conn, settings) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            "select concat(table_schema, '.', table_name) from information_schema.tables"
            " where table_schema in (%s, %s) and (table_name regexp '^(base_|stg_|int_)?gbfs_'"
            " or table_name in ('landing_reconciliation', 'landing_rejects')) order by 1",
            (settings.staging_database, settings.marts_database),
        )
        return [r[0] for r in cur.fetchall()]


def checksums(settings, like: dict | None) -> dict:
    """{table: {"columns": [...], "rows": n, "sha256": hex}} of the GBFS tables and views."""
    conn = db.connect(settings, "admin", autocommit=True)
    out = {}
    try:
        for table in _tables(conn, settings):
            with conn.cursor() as cur:
                cur.execute(f"select * from {table} limit 0")
                columns = [d[0] for d in cur.description]
                if like and table in like:
                    columns = [c for c in like[table]["columns"] if c in columns]
                where = " where source_name = 'gbfs'" if table.endswith(("reconciliation", "rejects")) else ""
                cur.execute(f"select {', '.join(f'`{c}`' for c in columns)} from {table}{where}")
                rows = sorted(repr(r) for r in cur.fetchall())
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            out[table] = {"columns": columns, "rows": len(rows), "sha256": digest}
    finally:
        conn.close()
    return out


#: the dbt project the checks build (``--project-dir``)
PROJECT: dict[str, Path] = {}


def _dbt(bench: Bench, *args: str) -> None:
    from transform.dbt_runner import DBT_PROJECT_DIR, run_dbt  # noqa: PLC0415 (dbt imports are slow)

    t0 = time.perf_counter()
    res = run_dbt(list(args), bench.settings(), project_dir=PROJECT.get("dir", DBT_PROJECT_DIR), **dbt_paths())
    if not res.success:
        failed = [r.node.unique_id for r in getattr(res.result, "results", []) if str(r.status) in ("error", "fail")]
        raise RuntimeError(f"dbt {' '.join(args)} failed: {failed} {res.exception}")
    print(f"  dbt {' '.join(args)}: {time.perf_counter() - t0:.1f} s", flush=True)


def captures_workload(bench: Bench) -> None:
    """tests/test_gbfs.py's gbfs_built: the captures and documented shapes, one build."""
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    import test_gbfs as t  # noqa: PLC0415 (the test module, for its landing rows)

    bench.reset()
    settings = bench.settings()
    c = gbfs.CAPTURES
    rows = []
    for name in t.TIER:
        payload = t._capture(c, name)
        rows.append(t._row("free_bike_status", payload, "dott-berlin", t._posix(payload) + timedelta(seconds=5)))
    for system, name in (("dott-hamburg", t.DOTT), ("lime_hamburg", t.LIME_OTTAWA)):
        payload = t._capture(c, name)
        rows.append(t._row("free_bike_status", payload, system, t._posix(payload) + timedelta(seconds=5)))
    v3 = t._v3_vehicles(
        "2024-05-08T10:00:00+02:00",
        [
            {"vehicle_id": "a", "lat": 52.52, "lon": 13.40, "is_reserved": False, "is_disabled": False,
             "vehicle_type_id": "es1", "current_range_meters": 12000, "last_reported": "2024-05-08T09:59:00+02:00"},
            {"vehicle_id": "b", "lat": "52.53", "lon": "13.41", "is_reserved": True, "is_disabled": False},
            {"vehicle_id": "c", "lat": "n/a", "lon": 13.4, "is_reserved": False, "is_disabled": False},
            {"vehicle_id": "d", "lat": 91.0, "lon": 13.4, "is_reserved": False, "is_disabled": False},
            {"lat": 52.5, "lon": 13.4, "is_reserved": False, "is_disabled": False},
        ],
    )  # fmt: skip
    at_v3 = datetime(2024, 5, 8, 8, 0, 10, tzinfo=UTC)
    rows.append(t._row("vehicle_types", t.V3_TYPES, "lime_berlin", at_v3))
    rows.append(t._row("vehicle_status", v3, "lime_berlin", at_v3))
    empty = t._v3_vehicles("2024-05-08T10:15:00+02:00", [])
    rows.append(t._row("vehicle_status", empty, "lime_berlin", at_v3 + timedelta(minutes=15)))
    stale = t._v3_vehicles("2024-05-07T10:30:00+02:00", [{"vehicle_id": "s", "lat": 52.5, "lon": 13.4}])
    rows.append(t._row("vehicle_status", stale, "lime_berlin", at_v3 + timedelta(minutes=30)))
    gbfs._land(settings, rows, clock=NOW)
    _dbt(bench, "build", "-s", t.SELECT, "--exclude", t.EXCLUDE, "--indirect-selection", "cautious",
         "--vars", "{test_window_hours: 0}")  # fmt: skip


def bench_workload(bench: Bench, n_systems: int, days: int, vehicles: int, like: dict) -> dict:
    """Item 7's workload, small: full run, then one new snapshot per system and a late one, incremental build."""
    bench.reset()
    settings = bench.settings()
    names = (gbfs.DOTT, gbfs.LIME)
    snaps = gbfs.Snapshots({n: json.loads((gbfs.CAPTURES / n).read_text(encoding="utf-8")) for n in names})
    fleet = gbfs.systems(n_systems)
    start = NOW - timedelta(days=days)
    steps = days * 96
    history = (snaps.row(s, start + timedelta(minutes=15 * n), n, vehicles) for n in range(steps) for s in fleet)
    gbfs._load_history(settings, bench.work, history, loaded_after=timedelta(seconds=30))
    _dbt(bench, "seed")
    gbfs._add_bench_systems(settings, [s for s in fleet if s["system_id"] not in gbfs.SEEDED])
    _dbt(bench, "run")
    out = {"bench_full_run": checksums(settings, like.get("bench_full_run"))}
    # one new full-size snapshot per system, and a late one: fetched an hour back, landed now
    new = [snaps.row(s, NOW, steps) for s in fleet]
    late_at = NOW - timedelta(minutes=52)
    new.append(snaps.row(fleet[0], late_at, steps + 1, vehicles))
    gbfs._land(settings, new, clock=NOW + timedelta(minutes=1))
    _dbt(bench, "build", "-s", gbfs.SELECT, "--indirect-selection", "cautious")
    out["bench_incremental"] = checksums(settings, like.get("bench_incremental"))
    return out


def compare(a: dict, b: dict) -> int:
    """Print the tables whose checksums differ between two result files; returns their count."""
    bad = 0
    for workload, tables in a.items():
        for table, info in tables.items():
            other = b.get(workload, {}).get(table)
            same = other is not None and (other["rows"], other["sha256"]) == (info["rows"], info["sha256"])
            bad += not same
            print(f"{'same' if same else 'DIFFERENT'}  {workload:24} {table:45} {info['rows']} rows"
                  + ("" if same else f" vs {other and other['rows']}"))  # fmt: skip
    return bad


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 1 when ``--compare`` finds a difference."""
    parser = argparse.ArgumentParser(prog="python -m bench.gbfs_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--like", type=Path, help="an earlier result: checksum only its columns")
    parser.add_argument("--compare", nargs=2, type=Path)
    parser.add_argument("--project-dir", type=Path, help="the dbt project to build (default: this checkout's)")
    parser.add_argument("--systems", type=int, default=4)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--vehicles", type=int, default=100)
    args = parser.parse_args(argv)
    if args.compare:
        return 1 if compare(*(json.loads(p.read_text()) for p in args.compare)) else 0
    like = json.loads(args.like.read_text()) if args.like else {}
    if args.project_dir:
        PROJECT["dir"] = args.project_dir.resolve()
    work = (WORK_DIR / "gbfs_check").resolve()
    shutil.rmtree(work / "dbt_target", ignore_errors=True)  # no partial parse of another project
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench("quick", RECORDINGS, work)
    bench.start_server()
    results = {}
    try:
        captures_workload(bench)
        results["captures"] = checksums(bench.settings(), like.get("captures"))
        results.update(bench_workload(bench, args.systems, args.days, args.vehicles, like))
    finally:
        bench.stop_server()
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
