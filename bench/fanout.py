"""Bench item 6, fan-out: planned batches and extraction wall time per schedule for 16, 500 and 2,000 cities.

No real minutes are waited. The per-call time (request, response, parse, landing) is measured
against a local fake API (werkzeug, in a thread) with the rate limit off: 200 OpenWeather
forecast calls carrying a real recorded body (``../shared/recordings``), through
:func:`extract.runner.extract`. Each schedule's source is then planned (:func:`extract.fanout.plan`,
no HTTP; flights from generated airport searches landed through the Loader: two airports per city,
one shared with a neighbour) at the configured rates with ``concurrency`` workers, and its wall
time is :meth:`extract.fanout.Plan.wall_seconds`: the batches dealt to the workers, each batch's
calls simulated one after the other, a call waiting for its bucket's token (at the batch's rate
share) and taking at least the measured per-call time. GBFS is planned on the systems of
MobilityData's catalogue (``../shared/reference/mobilitydata_gbfs_systems.csv``, a system kept
when its ``Location`` names a tracked city: 59 systems on 20 hosts for the 16 cities), each
generated city getting the systems of the tracked city it is modelled on (same operator hosts).

Reported beside the wall time: ``rate_bound_s``, the least wall time the API's limit allows
(the calls of the busiest rate-limit bucket ÷ the API's rate: the whole API, or for GBFS the
busiest operator host), and ``ratio`` = wall ÷ that; the target is ``ratio`` ≤ 1.1. Lambda's
limit is 900 s per batch, not per schedule: ``max_batch_api_s`` must stay ≤ 600.
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
#: the fan-out's target: wall time at most this times the rate bound
TARGET_RATIO = 1.1
CATALOGUE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "mobilitydata_gbfs_systems.csv"


def gbfs_systems(path: Path, cities: list[dict[str, str]], catalogue: Path = CATALOGUE) -> int:
    """Write a GBFS systems file for generated ``cities``: each gets the catalogue's systems of the tracked
    city it is modelled on (``"Berlin 0042"``: Berlin's), same discovery URLs' hosts. Returns the count.

    A catalogue system belongs to a tracked city when its ``Location`` contains the city's name
    (case-insensitive). Without the catalogue, the project's seed is used the same way.
    """
    import csv

    from extract.settings import Settings

    if catalogue.exists():
        with catalogue.open(encoding="utf-8-sig", newline="") as f:
            rows = [(r["Location"], r["Auto-Discovery URL"], r["Name"]) for r in csv.DictReader(f)]
    else:
        with Settings().gbfs_systems_file.open(encoding="utf-8-sig", newline="") as f:
            rows = [(r["city_name"], r["discovery_url"], r["operator"]) for r in csv.DictReader(f)]
    lines, count = ["operator,system_id,discovery_url,city_name"], 0
    for i, city in enumerate(cities):
        model = city["city_name"].rsplit(" ", 1)[0].casefold()
        for j, (_location, url, name) in enumerate(r for r in rows if model in r[0].casefold()):
            if url.startswith(("http://", "https://")):
                operator = name.replace(",", " ")
                lines.append(f"{operator},bench_{i}_{j},{url},{city['city_name']}")
                count += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return count


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

    from extract.fanout import api_rate, simulate_calls
    from extract.fanout import per_call_seconds as spacing_seconds
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
            systems = work / f"fanout_gbfs_systems_{count}.csv"
            systems_count = gbfs_systems(systems, cities)
            counted = settings.model_copy(update={"cities_file": path, "gbfs_systems_file": systems})
            for name in REGISTRY:
                planned = plan(
                    counted, name, plan_key=f"bench@{count}", concurrency=concurrency, window=window, conn=conn
                )
                wall = planned.wall_seconds(per_call)
                bound = planned.rate_bound_seconds()
                every_call = [bucket for calls in planned.batch_calls for bucket in calls]
                alone = simulate_calls(every_call, spacing_seconds(planned.rate_per_minute, 1), planned.burst, per_call)
                out["schedules"][name][str(count)] = {
                    "batches": len(planned.batches),
                    "keys": planned.keys,
                    "calls": planned.calls,
                    "hosts": len(set(every_call)),
                    "rate_share": round(1 / planned.parallel, 4),
                    "max_batch_api_s": round(max((b.api_seconds for b in planned.batches), default=0), 1),
                    "wall_s": round(wall, 1),
                    "rate_bound_s": round(bound, 1),
                    "ratio": round(wall / bound, 3) if bound else None,
                    "one_invocation_s": round(alone, 1),
                    **({"systems": systems_count} if name == "gbfs" else {}),
                }
        finally:
            conn.close()
    return out


def markdown_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows for bench.run's table: one per schedule and city count."""
    rows = []
    for source, by_count in (res.get("schedules") or {}).items():
        for count, r in by_count.items():
            ratio = r.get("ratio")
            per = " per host" if source == "gbfs" else ""
            what = f"{r['calls']} calls" + (f" ({r['systems']} systems, {r['hosts']} hosts)" if "systems" in r else "")
            met = ratio is None or ratio <= TARGET_RATIO
            target = (
                f"wall ≤ {TARGET_RATIO} × calls ÷ rate{per}: {'met' if met else '**missed**'}"
                + (f" ({ratio:.2f}×)" if ratio is not None else "")
                + f"; batch ≤ 600 s API: {'met' if r['max_batch_api_s'] <= 600 else '**missed**'}"
                + f" ({r['max_batch_api_s']:,.0f} s)"
            )
            if source == "gbfs" and count == str(COUNTS[0]):  # the tracked cities: the catalogue's systems
                target += f"; inside its 15-min schedule: {'met' if r['wall_s'] <= 900 else '**missed**'}"
            elif source == "gbfs" and r["rate_bound_s"] > 900:
                target += f"; over 15 min: the busiest host's limit alone takes {r['rate_bound_s']:,.0f} s"
            rows.append(
                (
                    f"Fan-out {source}, {count} cities",
                    f"{r['wall_s']:,.0f} s wall, {r['batches']} batches at {r['rate_share']:g} of the rate",
                    f"{what} ÷ rate{per} = {r['rate_bound_s']:,.0f} s; one invocation {r['one_invocation_s']:,.0f} s",
                    target,
                )
            )
    return rows
