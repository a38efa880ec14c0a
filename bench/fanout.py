"""Bench item 6, fan-out: planned batches and extraction wall time per schedule for 16, 500 and 2,000 cities.

No real minutes are waited. The per-call time (request, response, parse, landing) is measured
against a local fake API (werkzeug, in a thread) with the rate limit off: 200 OpenWeather
forecast calls carrying a real recorded body (``../shared/recordings``), through
:func:`extract.runner.extract`. Each schedule's source is then planned (:func:`extract.fanout.plan`,
no HTTP; flights from generated airport searches landed through the Loader: two airports per city,
one shared with a neighbour) at the configured rates with ``concurrency`` workers, and its wall
time is :meth:`extract.fanout.Plan.wall_seconds`: the batches dealt to the workers, each call taking
the longer of its rate spacing and the measured per-call time. Lambda's limit is 900 s per batch,
not per schedule: what matters is ``max_batch_api_s`` ≤ 600.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from extract import db
from extract.fanout import plan
from extract.loader import Loader
from extract.runlog import RunLog
from extract.settings import Settings
from tests.fanout_helpers import airport_rows, write_cities

COUNTS = (16, 500, 2000)
WINDOW_DAYS = 1


def _forecast_body(recordings: Path) -> bytes:
    for line in (recordings / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["source"] == "openweather" and entry["status"] == 200:
            return (recordings / entry["body"]).read_bytes()
    raise FileNotFoundError(f"no OpenWeather recording in {recordings}")


def per_call_seconds(settings: Settings, recordings: Path, work: Path, calls: int = 200) -> float:
    """Seconds one OpenWeather call takes end to end (fake API, no rate limit, landing included)."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    from extract.runner import extract

    body = _forecast_body(recordings)
    server = make_server(
        "127.0.0.1", 0, lambda environ, start: Response(body, content_type="application/json")(environ, start)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cities = work / "fanout_calls.csv"
        write_cities(cities, calls)
        run_settings = settings.model_copy(
            update={"cities_file": cities, "openweather_api_key": SecretStr("bench-key")}
        )
        started = time.perf_counter()
        summary = extract(
            run_settings,
            sources=["openweather"],
            base_urls={"openweather": f"http://127.0.0.1:{server.server_port}"},
            http_options={"rate_per_minute": 0},
            trigger="bench",
        )
        elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
    result = summary.result("openweather")
    if result.requests != calls or result.errors:
        raise RuntimeError(f"per-call measurement failed: {result}")
    return elapsed / calls


def measure(settings: Settings, recordings: Path, work: Path, concurrency: int = 4) -> dict[str, Any]:
    """``{"per_call_s", "concurrency", "rates", "schedules": {source: {cities: {batches, keys, max_batch_api_s,
    wall_s}}}}`` for every source of the registry and 16, 500, 2,000 cities."""
    from datetime import UTC, datetime, timedelta

    from extract.fanout import api_rate
    from extract.sources import REGISTRY

    per_call = per_call_seconds(settings, recordings, work)
    start = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    window = (start, start + timedelta(days=WINDOW_DAYS))
    out: dict[str, Any] = {
        "per_call_s": round(per_call, 4),
        "concurrency": concurrency,
        "rates_per_minute": {name: api_rate(settings, name) for name in REGISTRY},
        "schedules": {name: {} for name in REGISTRY},
    }
    for count in COUNTS:
        path = work / f"fanout_cities_{count}.csv"
        cities = write_cities(path, count)
        db.bootstrap(settings, reset=True)
        conn = db.connect(settings, "loader")
        try:
            run = RunLog(conn).start("aerodatabox_airports", "bench")
            Loader(conn).land(run.id, airport_rows(cities))
            RunLog(conn).finish(run)
            counted = settings.model_copy(update={"cities_file": path})
            for name in REGISTRY:
                planned = plan(
                    counted, name, plan_key=f"bench@{count}", concurrency=concurrency, window=window, conn=conn
                )
                out["schedules"][name][str(count)] = {
                    "batches": len(planned.batches),
                    "keys": planned.keys,
                    "max_batch_api_s": round(max((b.api_seconds for b in planned.batches), default=0), 1),
                    "wall_s": round(planned.wall_seconds(per_call), 1),
                    "one_invocation_s": round(planned.keys * max(60 / planned.rate_per_minute, per_call), 1),
                }
        finally:
            conn.close()
    return out


def markdown_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows for bench.run's table: one per schedule and city count."""
    rows = []
    for source, by_count in (res.get("schedules") or {}).items():
        for count, r in by_count.items():
            rows.append(
                (
                    f"Fan-out {source}, {count} cities",
                    f"{r['wall_s']:,.0f} s wall, {r['batches']} batches",
                    f"{r['keys']} calls; one invocation would take {r['one_invocation_s']:,.0f} s",
                    f"batch ≤ 600 s API: {'met' if r['max_batch_api_s'] <= 600 else '**missed**'}"
                    f" ({r['max_batch_api_s']:,.0f} s)",
                )
            )
    return rows
