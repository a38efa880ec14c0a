"""Fan-out plans (extract.fanout.plan) for 16, 500 and 2,000 cities at the configured rates, no HTTP.

Every source of the registry is planned with the template's default concurrency (4 workers);
flights from synthetic airport searches landed through the Loader. A plan must cover each request
key exactly once, use one batch at the full rate when the API's limit allows the whole schedule in
600 s, else full waves of batches at a quarter of the limit, each under 600 s of API time, and
its simulated wall time must stay within 10 % of the least the limit allows (GBFS: per host);
stored plans are found again by a retried plan step.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from extract import db
from extract.fanout import (
    MAX_BATCH_API_SECONDS,
    PlanError,
    api_rate,
    batch_count,
    load_batch,
    plan,
    save_plan,
    stored_batches,
)
from extract.loader import Loader
from extract.runlog import RunLog
from extract.sources import REGISTRY
from tests.fanout_helpers import airport_rows, write_cities

CONCURRENCY = 4
WINDOW = (datetime(2024, 5, 8, 0, 0, tzinfo=UTC), datetime(2024, 5, 9, 0, 0, tzinfo=UTC))


def _land(settings, rows) -> None:
    conn = db.connect(settings, "loader")
    try:
        run = RunLog(conn).start("aerodatabox_airports", "test")
        Loader(conn).land(run.id, rows)
        RunLog(conn).finish(run)
    finally:
        conn.close()


@pytest.fixture
def planned_settings(settings, tmp_path):
    def make(count: int, *, without_airports: int | None = None):
        path = tmp_path / f"cities_{count}.csv"
        cities = write_cities(path, count)
        _land(settings, airport_rows(cities, skip=without_airports))
        return settings.model_copy(update={"cities_file": path}), cities

    return make


@pytest.mark.parametrize("count", [16, 500, 2000])
def test_plans_cover_every_key_once_and_no_batch_passes_600_s_of_api_time(planned_settings, count):
    settings, cities = planned_settings(count)
    conn = db.connect(settings, "loader")
    try:
        for name, source in REGISTRY.items():
            if source.name == "gbfs":
                continue  # planned per host: see test_gbfs_plan_is_rated_per_host
            result = plan(settings, name, plan_key=f"test@{count}", concurrency=CONCURRENCY, window=WINDOW, conn=conn)
            rate = api_rate(settings, name)
            assert rate == source.client_options(settings)["rate_per_minute"] > 0
            keys = [json.dumps(k, sort_keys=True) for b in result.batches for k in b.request_keys]
            assert len(keys) == len(set(keys)), name  # no key in two batches
            if source.key_fields == ("city",) or source.plan_by == "city":
                assert {json.loads(k)["city"] for k in keys} == {c["city_name"] for c in cities}, name
            else:  # flights: own airport of each city + one shared per pair, two 12-hour windows each
                airports = {json.loads(k)["airport_icao"] for k in keys}
                assert len(airports) == count + math.ceil(count / 2), name
                assert len(keys) == 2 * len(airports), name
            calls = source.calls_per_city if source.plan_by == "city" else 1
            full_rate_s = len(keys) * calls * 60 / rate
            # one batch at the full rate when the schedule fits in 600 s; else full waves at a quarter each
            expected = 1 if full_rate_s <= MAX_BATCH_API_SECONDS else CONCURRENCY * math.ceil(full_rate_s / 600)
            assert len(result.batches) == expected == batch_count(len(keys) * calls, rate, CONCURRENCY, 600), name
            assert result.seconds_per_call == pytest.approx(60 * min(CONCURRENCY, expected) / rate)
            sizes = [len(b.request_keys) for b in result.batches]
            assert max(sizes) - min(sizes) <= 1, name  # balanced: no batch holds the others up
            for batch in result.batches:
                assert batch.api_seconds == pytest.approx(len(batch.request_keys) * calls * result.seconds_per_call)
                assert batch.api_seconds <= MAX_BATCH_API_SECONDS, (name, batch.index, batch.api_seconds)
            assert result.rate_bound_seconds() == pytest.approx(full_rate_s)
            assert result.wall_seconds() <= 1.1 * full_rate_s, (name, result.wall_seconds(), full_rate_s)
            assert [b.index for b in result.batches] == list(range(len(result.batches)))
            # the references the state machine carries stay far below Step Functions' 256 KB
            assert len(json.dumps([b.item() for b in result.batches])) < 64_000, name
            assert result.problems == [], name
    finally:
        conn.close()


def test_a_city_without_airports_is_a_problem_of_the_plan_not_of_a_batch(planned_settings):
    settings, cities = planned_settings(16, without_airports=5)
    result = plan(settings, "aerodatabox_flights", plan_key="test@gap", concurrency=CONCURRENCY, window=WINDOW)
    assert [(k, t) for k, t, _ in result.problems] == [({"city": cities[5]["city_name"]}, "NoAirports")]
    airports = {k["airport_icao"] for b in result.batches for k in b.request_keys}
    assert "A0005" not in airports and "S0002" in airports  # the shared one still comes with city 4


def test_stored_plan_is_found_again_and_the_first_plan_wins(planned_settings):
    settings, _ = planned_settings(2000)
    conn = db.connect(settings, "loader")
    try:
        first = plan(settings, "openweather", plan_key="sched@2026-11-21T15:05:00Z", concurrency=CONCURRENCY)
        stored = save_plan(conn, first)
        assert stored == first.batches
        assert load_batch(conn, first.plan_key, "openweather", 0, 2) == first.batches[2]
        # a retried plan step with another concurrency finds the batches stored first
        second = plan(settings, "openweather", plan_key=first.plan_key, concurrency=1)
        assert len(second.batches) < len(first.batches)
        assert save_plan(conn, second) == first.batches
        assert stored_batches(conn, first.plan_key, "openweather", 1) == []
        with pytest.raises(PlanError, match="no batch 99"):
            load_batch(conn, first.plan_key, "openweather", 0, 99)
    finally:
        conn.close()


def test_idempotency_keys_per_batch_and_round(planned_settings):
    settings, _ = planned_settings(16)
    result = plan(settings, "wikipedia", plan_key="gans-wikipedia@2026-12-01T03:30:00Z", concurrency=2)
    assert result.batches[0].idempotency_key == "gans-wikipedia@2026-12-01T03:30:00Z/wikipedia/0"
    with pytest.raises(PlanError, match="longer than 255"):
        plan(settings, "wikipedia", plan_key="x" * 250, concurrency=2)
    with pytest.raises(PlanError, match="at least 1"):
        plan(settings, "wikipedia", plan_key="k", concurrency=0)


def test_wall_time_deals_batches_to_the_workers(planned_settings):
    settings, _ = planned_settings(2000)
    result = plan(settings, "openweather", plan_key="wall", concurrency=CONCURRENCY)
    per_call = result.seconds_per_call  # 4 s at 60/min shared by 4
    assert per_call == pytest.approx(4.0) and len(result.batches) == 16  # 2,000 calls = 4 waves of 4 x 125
    # full waves: the limit is used all the time, the wall time is the calls at the API's rate
    # (each batch's first call takes the token its bucket starts with: 16 calls' spacing less)
    assert result.wall_seconds() == pytest.approx(result.keys * 60 / 60 - 16 * per_call / CONCURRENCY)
    # a per-call time above the rate spacing (a slow API) stretches every call
    assert result.wall_seconds(call_seconds=2 * per_call) == pytest.approx(result.keys * 2 * per_call / CONCURRENCY)


def test_a_schedule_that_fits_runs_as_one_batch_at_the_full_rate(planned_settings):
    """16 cities of Wikipedia at 120/min: 8 s of calls, one batch with all of the limit (not a quarter)."""
    settings, _ = planned_settings(16)
    result = plan(settings, "wikipedia", plan_key="one", concurrency=CONCURRENCY)
    assert len(result.batches) == 1 and result.parallel == 1
    assert result.seconds_per_call == pytest.approx(60 / 120)
    assert result.wall_seconds() == pytest.approx(15 * 60 / 120)  # the first call takes the bucket's token


def _systems(path, cities, hosts_per_city):
    """A GBFS systems file: city i has a system on each of ``hosts_per_city`` shared operator hosts."""
    lines = ["operator,system_id,discovery_url,city_name"]
    for i, city in enumerate(cities):
        for op in range(hosts_per_city):
            lines.append(f"Op{op},op{op}_{i},https://gbfs.op{op}.example/{i}/gbfs.json,{city['city_name']}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("count", [16, 500, 2000])
def test_gbfs_plan_is_rated_per_host(planned_settings, tmp_path, count):
    """Every operator host has the full rate: the busiest host's calls, not all operators' together, set the
    batches and the wall time; each host's calls are spread evenly over the batches."""
    settings, cities = planned_settings(count)
    settings = settings.model_copy(update={"gbfs_systems_file": _systems(tmp_path / "s.csv", cities, 3)})
    result = plan(settings, "gbfs", plan_key=f"gbfs@{count}", concurrency=CONCURRENCY)
    per_host_calls = count * 4  # one system per city on each host, discovery + 3 feeds
    bound = per_host_calls * 60 / settings.gbfs_rate_per_minute
    assert result.rate_bound_seconds() == pytest.approx(bound)
    assert result.calls == 3 * per_host_calls
    assert len(result.batches) == batch_count(per_host_calls, settings.gbfs_rate_per_minute, CONCURRENCY, 600)
    assert {k["city"] for b in result.batches for k in b.request_keys} == {c["city_name"] for c in cities}
    for batch, calls in zip(result.batches, result.batch_calls, strict=True):
        per_host = [calls.count(f"gbfs.op{op}.example") for op in range(3)]
        assert max(per_host) - min(per_host) <= 4 and batch.api_seconds <= MAX_BATCH_API_SECONDS
    assert result.wall_seconds() <= 1.1 * bound, (result.wall_seconds(), bound)
    if count == 16:  # 64 calls per host: 64 s at the full rate, one batch
        assert len(result.batches) == 1 and result.seconds_per_call == pytest.approx(1.0)
