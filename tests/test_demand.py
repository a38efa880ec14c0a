"""Demand baseline (int_demand__city_hours, demand_factors, demand_baseline) against a known truth, on a real MariaDB.

Three weeks of a simulated free-floating fleet in Berlin (tests/gbfs_simulator.py, as the seeded system
``dott-berlin``) with a known hour-of-week demand per cell and a known rain factor, landed through the
real GBFS parser and Loader with Open-Meteo hours (rainy hours known) through the Open-Meteo path, then
``dbt build`` of the whole project with ``demand_as_of_utc`` at the end of the history. The baseline's
72 forecast hours are compared with the simulator's expected demand: its level with the trips the
snapshots can show (wanted trips less those that found no vehicle, rides chained on a vehicle between
two snapshots and hops under ``gbfs_trip_min_move_m``: :meth:`Simulator.visible_starts`), since no
snapshot-based inference sees the others; its shape with that and with the wanted demand.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from db_helpers import query as _q
from dbt_helpers import land
from gbfs_simulator import VEHICLE_TYPES, Simulator
from test_pipeline import open_meteo_body

from extract import db
from extract.loader import LandingRow
from extract.response import Response
from extract.settings import Settings
from extract.sources.gbfs import GBFS
from extract.sources.open_meteo import HOURLY, forecast_request
from transform.dbt_runner import run_dbt

pytestmark = [pytest.mark.dbt, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SYSTEM_ID = "dott-berlin"  # seeded for Berlin: its trips reach city_hourly_conditions
START = datetime(2024, 6, 3, 0, tzinfo=UTC)  # a Monday; Berlin is UTC+2 all June
WEEKS = 3
HISTORY_H = WEEKS * 7 * 24
HORIZON_H = 72
RAIN_FACTOR = 0.6
LOCAL_OFFSET_H = 2
RAIN_SPELL_H = 4  # weather persists: rain in spells (with rain in single hours the snapshot lag blurs the factor)
# a trip is seen in the first snapshot after it starts (interval_min 15): those of an hour's last
# 14 minutes are counted in the next hour, the pattern GBFS can show
LAG = 14 / 60
SIM = Simulator(
    policy="static",
    area_cells=4,
    vehicles=450,
    start=START,
    hours=HISTORY_H,
    interval_min=15,
    seed=5,
    fuel_per_minute=0.001,
    charge_below=0.2,
)
ROW0, COL0 = SIM.grid.cell(SIM.lat, SIM.lon)
HOT_CELLS = [(ROW0, COL0), (ROW0 - 1, COL0 + 1)]  # the true high-demand cells


def local_how(hour_utc: datetime) -> int:
    local = hour_utc + timedelta(hours=LOCAL_OFFSET_H)
    return local.weekday() * 24 + local.hour


def true_city_rate(how_local: int) -> float:
    """Trips per hour wanted in the city at a local hour of the week (dry): commute peaks on weekdays."""
    day, hour = divmod(how_local, 24)
    if hour < 6:
        return 24.0
    if day < 5 and hour in (7, 8, 17, 18):
        return 180.0
    return 90.0 if day < 5 else 120.0


def visible_rate(hour_utc: datetime) -> float:
    """Trips per hour the snapshots can show for the city in a UTC hour: the true rate with the weather,
    14/60 of it moved to the next hour by the snapshot lag."""

    def rate(hour: datetime) -> float:
        wet = is_rainy(hour.replace(tzinfo=UTC))
        return true_city_rate(local_how(hour)) * (RAIN_FACTOR if wet else 1.0)

    return (1 - LAG) * rate(hour_utc) + LAG * rate(hour_utc - timedelta(hours=1))


def demand(cell: tuple[int, int], how_utc: int) -> float:
    weight = 4.0 if cell in HOT_CELLS else 1.0
    total_weight = 4.0 * len(HOT_CELLS) + (len(SIM.cells) - len(HOT_CELLS))
    return true_city_rate((how_utc + LOCAL_OFFSET_H) % 168) * weight / total_weight


def is_rainy(hour_utc: datetime) -> bool:
    block = int((hour_utc - START).total_seconds() // 3600) // RAIN_SPELL_H
    return (block * 7919) % 10 < 3  # spells of RAIN_SPELL_H hours, about 30 % of them, over the week


SIM.demand = demand
SIM.weather = lambda hour: RAIN_FACTOR if is_rainy(hour.replace(tzinfo=UTC)) else 1.0


def _gbfs_row(feed: str, payload: dict, fetched_at: datetime):
    body = json.dumps(payload).encode()
    response = Response(
        "gbfs", {"system_id": SYSTEM_ID, "feed": feed}, "GET", "https://x", {}, fetched_at, 200, "", body
    )
    (row,) = GBFS.parse(response)
    return row


def _weather_row(day: datetime) -> LandingRow:
    """An Open-Meteo answer fetched at ``day`` 00:05 for its 24 UTC hours: 15 °C, rain in the rainy hours."""
    hours = [day + timedelta(hours=h) for h in range(24)]
    body = open_meteo_body(SIM.lat, SIM.lon, 24)
    hourly = {name: [0.0] * 24 for name in HOURLY}
    hourly["time"] = [h.strftime("%Y-%m-%dT%H:%M") for h in hours]
    hourly["temperature_2m"] = [15.0] * 24
    hourly["apparent_temperature"] = [14.0] * 24
    hourly["rain"] = [1.2 if is_rainy(h) else 0.0 for h in hours]
    hourly["precipitation"] = list(hourly["rain"])
    hourly["precipitation_probability"] = [90.0 if is_rainy(h) else 5.0 for h in hours]
    hourly["cloud_cover"] = [80.0] * 24
    hourly["visibility"] = [10000.0] * 24
    hourly["weather_code"] = [61 if is_rainy(h) else 3 for h in hours]
    body["hourly"] = {k: v for k, v in hourly.items() if k in body["hourly"] or k == "time"}
    spec = forecast_request("Berlin", body["latitude"], body["longitude"])
    return LandingRow("open_meteo", {"city": "Berlin"}, spec.params, day + timedelta(minutes=5), 200, body)


@pytest.fixture(scope="module")
def built(mariadb, tmp_path_factory):
    settings = Settings()
    db.bootstrap(settings, reset=True)
    snapshots, truth = SIM.run()
    rows = [_gbfs_row("vehicle_types", VEHICLE_TYPES, START)]
    rows += [_gbfs_row("free_bike_status", s.payload, s.at + timedelta(seconds=5)) for s in snapshots]
    days = (HISTORY_H + HORIZON_H) // 24
    rows += [_weather_row(START + timedelta(days=d)) for d in range(days)]
    for k in range(0, len(rows), 500):
        assert land(settings, rows[k : k + 500]) == len(rows[k : k + 500])
    paths = tmp_path_factory.mktemp("dbt_demand")
    kwargs = {"target_path": paths / "target", "log_path": paths / "logs", "profiles_dir": paths / "profiles"}
    as_of = (START + timedelta(hours=HISTORY_H)).strftime("%Y-%m-%d %H:%M:%S")
    result = run_dbt(
        [
            "build",
            "--vars",
            json.dumps({"test_window_hours": 0, "demand_as_of_utc": as_of, "demand_history_weeks": WEEKS}),
        ],
        settings,
        **kwargs,
    )
    assert result.success, [
        (r.node.name, r.status, r.message) for r in result.result.results if r.status not in ("success", "pass")
    ]
    return {"settings": settings, "truth": truth, "snapshots": snapshots}


def test_rain_factor_is_recovered_within_10_percent(built):
    ((factor, applied, hours),) = _q(
        built["settings"],
        "select factor_estimated, factor_applied, sample_hours from demand_factors"
        " where city_id = (select city_id from cities where city_name = 'Berlin') and factor_name = 'rain'",
    )
    print(f"rain factor estimated {factor} (true {RAIN_FACTOR}) over {hours} rainy hours")
    assert hours >= 100
    assert applied == factor
    assert abs(float(factor) - RAIN_FACTOR) / RAIN_FACTOR <= 0.10


def visible_shares(snapshots, truth) -> dict[float, float]:
    """Per true city rate (trips per hour wanted, :func:`true_city_rate`): the share of the wanted trips
    (:func:`visible_rate`) that the snapshots showed over the history (:meth:`Simulator.visible_starts`).

    Below 1 by trips no snapshot can show: wanted rides that found no vehicle (``truth.lost``), rides on
    a vehicle that arrived since the last snapshot (chained rides: more of them at the peaks, where
    vehicles turn over faster) and hops under ``gbfs_trip_min_move_m`` between two snapshots.
    """
    visible = Counter()
    for (_, _, hour), count in SIM.visible_starts(snapshots, truth).items():
        visible[true_city_rate(local_how(hour))] += count
    wanted = Counter()
    for h in range(1, HISTORY_H):  # the first hour has no snapshot before its start
        hour = (START + timedelta(hours=h)).replace(tzinfo=None)
        wanted[true_city_rate(local_how(hour))] += visible_rate(hour)
    return {rate: visible[rate] / wanted[rate] for rate in wanted}


def _profile_errors(expected: list[float], truth: list[float]) -> tuple[float, float, float]:
    """Shape (WAPE of both series scaled to their mean), level (ratio of means - 1) and correlation."""
    mean_x, mean_y = sum(expected) / len(expected), sum(truth) / len(truth)
    # the profile is the shape: both scaled to their mean, then the volume-weighted error (WAPE; a night
    # hour's few trips carry their Poisson noise, not the peak's weight)
    wape = sum(abs(x / mean_x - y / mean_y) for x, y in zip(expected, truth, strict=True)) / len(truth)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(expected, truth, strict=True))
    corr = cov / math.sqrt(sum((x - mean_x) ** 2 for x in expected) * sum((y - mean_y) ** 2 for y in truth))
    return wape, mean_x / mean_y - 1, corr


def test_baseline_recovers_the_hour_of_week_profile_within_10_percent(built):
    rows = _q(
        built["settings"],
        "select hour_utc, sum(expected_trips_started), max(is_rain), min(profile_source) from demand_baseline"
        " group by hour_utc order by hour_utc",
    )
    assert len(rows) == HORIZON_H
    assert {r[3] for r in rows} == {"cell_hour_of_week"}
    assert [bool(r[2]) for r in rows] == [is_rainy(r[0].replace(tzinfo=UTC)) for r in rows]
    expected = [float(r[1]) for r in rows]
    # the truth the baseline can recover: the trips the snapshots can show (what trip inference reads), the
    # wanted trips of each hour times the share of them the history's snapshots showed at that demand level
    shares = visible_shares(built["snapshots"], built["truth"])
    visible = [visible_rate(r[0]) * shares[true_city_rate(local_how(r[0]))] for r in rows]
    wanted = [visible_rate(r[0]) for r in rows]
    wape, bias, corr = _profile_errors(expected, visible)
    wape_wanted, bias_wanted, _ = _profile_errors(expected, wanted)
    print(
        f"72 forecast hours vs the trips the snapshots can show: shape WAPE {wape:.3f}, level {bias:+.3f},"
        f" correlation {corr:.3f}; vs the trips wanted: shape WAPE {wape_wanted:.3f}, level {bias_wanted:+.3f}"
        f" (shares shown per demand level { ({k: round(v, 3) for k, v in sorted(shares.items())}) })"
    )
    assert wape <= 0.10
    assert abs(bias) <= 0.10
    assert corr >= 0.95
    # the shape of the wanted demand too: the snapshots' losses change the level more than the shape
    assert wape_wanted <= 0.10


def test_trip_inference_counts_the_trips_the_snapshots_can_show(built):
    """The baseline's input: gbfs_trip_events' starts per hour against the simulator's visible starts."""
    visible = Counter()
    for (_, _, hour), count in SIM.visible_starts(built["snapshots"], built["truth"]).items():
        visible[hour] += count
    sql = "select hour_utc, sum(trips_started) from gbfs_trip_events group by hour_utc"
    inferred = dict(_q(built["settings"], sql))
    hours = sorted(set(visible) | set(inferred))
    wape = sum(abs(float(inferred.get(h, 0)) - visible[h]) for h in hours) / sum(visible.values())
    total = sum(float(v) for v in inferred.values()) / sum(visible.values()) - 1
    print(
        f"trips: {len(built['truth'].trips) + built['truth'].lost} wanted, {built['truth'].lost} without a vehicle,"
        f" {sum(visible.values())} visible in the snapshots, {sum(float(v) for v in inferred.values()):.0f} inferred"
        f" (total {total:+.3f}, hourly WAPE {wape:.3f})"
    )
    assert abs(total) <= 0.05
    assert wape <= 0.05


def test_baseline_puts_the_true_hot_cells_first(built):
    rows = _q(
        built["settings"],
        "select cell_row, cell_col, sum(expected_trips_started) as trips from demand_baseline"
        " group by cell_row, cell_col order by trips desc",
    )
    assert {(r[0], r[1]) for r in rows[: len(HOT_CELLS)]} == set(HOT_CELLS)


def test_backtest_scores_the_later_weeks_and_beats_same_hour_last_week(built):
    rows = _q(built["settings"], "select local_date, hours_scored, mae, naive_mae, scaled_error from demand_backtest")
    # the first week has no earlier week: at most the two later weeks (and their edges) are scored
    assert 10 <= len(rows) <= 2 * 7 + 1
    assert all(r[0] > (START + timedelta(days=6)).date() for r in rows)
    mean_scaled = sum(float(r[4]) for r in rows) / len(rows)
    mean_mae = sum(float(r[2]) for r in rows) / len(rows)
    print(f"backtest: {len(rows)} days, mean scaled error {mean_scaled:.3f}, mean MAE {mean_mae:.2f}")
    # the naive forecast carries one week's noise and last week's rain: the baseline must do better
    assert mean_scaled < 1


@pytest.mark.parametrize("period", ["morning", "evening"])
def test_placement_ranks_the_true_high_demand_cells_first(built, period):
    rows = _q(
        built["settings"],
        "select placement_rank, cell_row, cell_col, expected_trips_started, expected_vehicles_available,"
        f" expected_gap, local_date from demand_placement where period = '{period}' order by placement_rank",
    )
    assert len(rows) == len(SIM.cells)
    assert {r[6] for r in rows} == {(START + timedelta(hours=HISTORY_H + LOCAL_OFFSET_H)).date() + timedelta(days=1)}
    print(f"{period}: {rows[:4]}")
    assert {(r[1], r[2]) for r in rows[: len(HOT_CELLS)]} == set(HOT_CELLS)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert all(float(r[5]) == pytest.approx(float(r[3]) - float(r[4]), abs=0.02) for r in rows)


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str:
    """A headless Chromium or Chrome, installed when missing (scripts/install-chromium.sh, Debian's package).

    Under CI (``CI=true``) a browser that cannot be had fails the test; elsewhere it skips, saying why.
    """
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(["sh", str(root / "scripts" / "install-chromium.sh")], capture_output=True, text=True)
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    if browser is None:
        why = f"no headless browser ({', '.join(BROWSERS)}) and scripts/install-chromium.sh could not install one"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must check the report in a browser: {why}: {done.stderr.strip()}")
        pytest.skip(f"{why}: {done.stderr.strip() or done.stdout.strip()}")
    return browser


def test_report_pages_render_every_plot_in_headless_chromium(built, tmp_path):
    from gans.report import PLOTS, write_report

    pages = write_report(tmp_path / "report", built["settings"])
    assert [p.name for p in pages] == [
        f"{_q(built['settings'], 'select city_id from demand_baseline limit 1')[0][0]}.html"
    ]
    assert "cdn" not in pages[0].read_text().lower().split("<script")[0]  # the plotly JS is inlined
    browser = _chromium()
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            pages[0].as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    # plotly draws each figure as an SVG with class main-svg inside its div once the page's JS ran
    for plot in PLOTS:
        start = dom.index(f'id="{plot}"')
        end = min([dom.index(f'id="{p}"') for p in PLOTS if dom.index(f'id="{p}"') > start] or [len(dom)])
        assert "main-svg" in dom[start:end], f"{plot} not rendered"


DEMAND_MODELS = {"int_demand__city_hours", "demand_factors", "demand_baseline", "demand_backtest", "demand_placement"}


def _schedule_transforms() -> dict[str, dict]:
    """Each schedule of lambda/template.yaml -> the ``transform`` step of its input (select, exclude)."""
    template = (Path(__file__).resolve().parents[1] / "lambda" / "template.yaml").read_text()
    found = re.findall(r'"schedule": "\$\{AWS::StackName\}-([\w-]+)".*?"transform": (\{[^}]*\})', template, re.S)
    return {name: json.loads(step) for name, step in found}


@pytest.mark.parametrize(("schedule", "builds_demand"), [("gbfs", False), ("open-meteo", True)])
def test_demand_models_are_rebuilt_hourly_not_with_every_gbfs_snapshot(tmp_path, schedule, builds_demand):
    """The 15-minute GBFS build leaves the demand models out (their as-of is the hour); the hourly
    open-meteo build, with the new forecast, rebuilds every one of them."""
    step = _schedule_transforms()[schedule]
    args = ["ls", "--resource-type", "model", "--output", "name", "--select", *step["select"].split()]
    if step.get("exclude"):
        args += ["--exclude", *step["exclude"].split()]
    result = run_dbt(args, target_path=tmp_path / "target", log_path=tmp_path / "logs")
    assert result.success, result.exception
    selected = set(result.result)
    assert (DEMAND_MODELS & selected) == (DEMAND_MODELS if builds_demand else set())
    if not builds_demand:
        assert {"gbfs_trip_events", "gbfs_availability"} <= selected  # what the demand models read still is
