"""Fan-out plans (extract.fanout.plan) for 16, 500 and 2,000 cities at the configured rates, no HTTP.

Every source of the registry is planned with the template's default concurrency (4 workers,
each at a quarter of the API's limit); flights from synthetic airport searches landed through
the Loader. A plan must cover each request key exactly once and keep every batch under 600 s of
API time at the per-worker rate; stored plans are found again by a retried plan step.
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
    load_batch,
    per_call_seconds,
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
            result = plan(settings, name, plan_key=f"test@{count}", concurrency=CONCURRENCY, window=WINDOW, conn=conn)
            rate = api_rate(settings, name)
            assert rate == source.client_options(settings)["rate_per_minute"] > 0
            # a source planned by city (GBFS: discovery, then its feeds) costs calls_per_city calls a key
            per_call = per_call_seconds(rate, CONCURRENCY) * (source.calls_per_city if source.plan_by == "city" else 1)
            assert result.seconds_per_call == pytest.approx(60 * CONCURRENCY / rate)
            keys = [json.dumps(k, sort_keys=True) for b in result.batches for k in b.request_keys]
            assert len(keys) == len(set(keys)), name  # no key in two batches
            if source.key_fields == ("city",) or source.plan_by == "city":
                assert {json.loads(k)["city"] for k in keys} == {c["city_name"] for c in cities}, name
            else:  # flights: own airport of each city + one shared per pair, two 12-hour windows each
                airports = {json.loads(k)["airport_icao"] for k in keys}
                assert len(airports) == count + math.ceil(count / 2), name
                assert len(keys) == 2 * len(airports), name
            per_batch = math.floor(MAX_BATCH_API_SECONDS / per_call)
            assert len(result.batches) == math.ceil(len(keys) / per_batch), name
            for batch in result.batches:
                assert 0 < len(batch.request_keys) <= per_batch, (name, batch.index)
                assert batch.api_seconds == pytest.approx(len(batch.request_keys) * per_call)
                assert batch.api_seconds <= MAX_BATCH_API_SECONDS, (name, batch.index, batch.api_seconds)
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
    settings, _ = planned_settings(500)
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
    calls = result.keys
    # all workers busy but the last wave: wall time between the even share and one batch more
    assert calls * per_call / CONCURRENCY <= result.wall_seconds() <= calls * per_call / CONCURRENCY + 600
    # a per-call time above the rate spacing (a slow API) stretches every call
    assert result.wall_seconds(call_seconds=2 * per_call) == pytest.approx(2 * result.wall_seconds())
