"""The GBFS source: parsing (real captures in ../shared/captures/gbfs and the spec's documented shapes),
live requests with ttl skips, retention, and the dbt models on a real MariaDB.

Facts about the captures (counts, ttl, versions) were read off the files themselves (and agree with
../shared/captures/PROVENANCE.md). The documented shapes (v1.0 ``data.bikes`` with ``vehicle_type``,
v2.3 ``data.bikes`` with ``vehicle_type_id``, v3.0 ``data.vehicles`` with ``vehicle_id``, v3
``last_updated`` as an RFC 3339 string, discovery ``data.<language>.feeds`` in v1/v2 and
``data.feeds`` in v3) follow MobilityData's GBFS reference (gbfs.md, v1.0 to v3.0).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from db_helpers import query as _q
from dbt_helpers import land, reconciliation_totals

from extract import db
from extract.loader import LandingRow
from extract.response import Response
from extract.retention import purge
from extract.runner import extract
from extract.settings import Settings
from extract.sources import ParseError
from extract.sources.gbfs import GBFS, discovered_feeds, load_systems
from transform.dbt_runner import run_dbt

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CAPTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "captures" / "gbfs"
TIER = sorted(
    f"tier_wolfsburg_free_bike_status_v2.3_2023-08-01T10{m}Z_owner-converted_phuongduyta.json"
    for m in ("10", "15", "20", "25", "30")
)
DOTT = "dott_hamburg_free_bike_status_v2.3_2026-04-13T1816Z_web-dave.json"
LIME_HAMBURG = "lime_hamburg_free_bike_status_v1.0_2026-04-13T1822Z_web-dave.json"
LIME_OTTAWA = "lime_ottawa_free_bike_status_v1.0_string-latlon_2020-08-31T1110Z_khibma.json"


@pytest.fixture(scope="session")
def captures() -> Path:
    if not (CAPTURES / DOTT).exists():
        pytest.skip(f"GBFS captures not found at {CAPTURES} (they live in ../shared beside the project)")
    return CAPTURES


def _capture(captures: Path, name: str) -> dict:
    return json.loads((captures / name).read_text(encoding="utf-8"))


def _response(feed: str, payload, system_id: str = "dott-hamburg", fetched_at: datetime | None = None) -> Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    at = fetched_at or datetime(2024, 1, 1, tzinfo=UTC)
    return Response("gbfs", {"system_id": system_id, "feed": feed}, "GET", "https://x", {}, at, 200, "", body)


def _row(feed: str, payload, system_id: str, fetched_at: datetime) -> LandingRow:
    (row,) = GBFS.parse(_response(feed, payload, system_id, fetched_at))
    return row


# --------------------------------------------------------------------------------------
# Documented shapes (GBFS reference), built here


def _v3_vehicles(last_updated: str, vehicles: list) -> dict:
    return {"last_updated": last_updated, "ttl": 60, "version": "3.0", "data": {"vehicles": vehicles}}


V3_DISCOVERY = {
    "last_updated": "2024-05-08T10:00:00+02:00",
    "ttl": 300,
    "version": "3.0",
    "data": {
        "feeds": [
            {"name": "system_information", "url": "https://gbfs.example/v3/system_information.json"},
            {"name": "vehicle_types", "url": "https://gbfs.example/v3/vehicle_types.json"},
            {"name": "vehicle_status", "url": "https://gbfs.example/v3/vehicle_status.json"},
            {"name": "station_status", "url": "https://gbfs.example/v3/station_status.json"},
        ]
    },
}
V3_TYPES = {
    "last_updated": "2024-05-08T10:00:00+02:00",
    "ttl": 300,
    "version": "3.0",
    "data": {
        "vehicle_types": [
            {
                "vehicle_type_id": "es1",
                "form_factor": "scooter_standing",
                "propulsion_type": "electric",
                "max_range_meters": 40000,
                "name": [{"text": "E-Scooter", "language": "en"}],
            }
        ]
    },
}


def test_real_captures_parse_into_one_row_each(captures):
    dott = _capture(captures, DOTT)
    (row,) = GBFS.parse(_response("free_bike_status", (captures / DOTT).read_bytes()))
    assert row.payload == dott and len(row.payload["data"]["bikes"]) == 4259 and row.payload["ttl"] == 300
    (lime,) = GBFS.parse(_response("free_bike_status", (captures / LIME_HAMBURG).read_bytes(), "lime_hamburg"))
    assert lime.payload["version"] == "1.0" and len(lime.payload["data"]["bikes"]) == 7325
    tier_list = _capture(captures, "tier_wolfsburg_gbfs_v2.3_2023-07-31T1145Z_owner-made-feedlist_phuongduyta.json")
    assert set(discovered_feeds(tier_list)) == {"system_information", "free_bike_status", "vehicle_types"}
    divvy = _capture(captures, "lyft-divvy_chicago_gbfs_v2.3_2025-01-29T0947Z_michael-code-playground.json")
    feeds = discovered_feeds(divvy)
    assert feeds["free_bike_status"] == "https://gbfs.lyft.com/gbfs/2.3/chi/en/free_bike_status.json"


def test_velib_without_last_updated_is_landed_for_staging_to_reject(captures):
    """Vélib' 2022 names the time ``lastUpdatedOther``: landed, so staging counts each station as a reject
    (tests/test_gbfs_docked.py), rather than refused whole; a wrongly typed ``last_updated`` is still refused."""
    body = (captures / "velib_paris_gbfs_nonstd-lastUpdatedOther_2022-02-25T1559Z_samhrrl.json").read_bytes()
    (row,) = GBFS.parse(_response("gbfs", body, "velib"))
    assert "last_updated" not in row.payload and "station_status" in discovered_feeds(row.payload)
    with pytest.raises(ParseError, match="last_updated"):
        GBFS.parse(_response("station_status", {"last_updated": 1.5, "ttl": 0, "data": {"stations": []}}))


@pytest.mark.parametrize(
    "feed, payload, problem",
    [
        ("vehicle_status", {"last_updated": 1, "ttl": 0, "data": {"bikes": []}}, "data.vehicles"),
        ("free_bike_status", {"last_updated": 1, "ttl": -1, "data": {"bikes": []}}, ">= 0"),
        ("free_bike_status", {"last_updated": 1, "data": {"bikes": []}}, "ttl"),
        ("gbfs", {"last_updated": 1, "ttl": 0, "data": {"en": {}}}, "lists no feeds"),
        ("station_status", {"last_updated": 1, "ttl": 0, "data": {"stations": {}}}, "data.stations"),
        ("station_information", {"last_updated": 1, "ttl": 0, "data": {}}, "data.stations"),
        ("free_bike_status", [], "JSON object"),
    ],
)
def test_bad_documents_are_refused(feed, payload, problem):
    with pytest.raises(ParseError, match=problem):
        GBFS.parse(_response(feed, payload))


def test_v3_discovery_and_empty_feed_parse():
    assert set(discovered_feeds(V3_DISCOVERY)) >= {"vehicle_status", "vehicle_types", "system_information"}
    (row,) = GBFS.parse(_response("vehicle_status", _v3_vehicles("2024-05-08T10:00:00Z", [])))
    assert row.payload["data"]["vehicles"] == []


def test_seed_is_readable_and_in_tracked_cities():
    seed = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "gbfs_systems.csv"
    systems = load_systems(seed)
    assert systems and len({s.system_id for s in systems}) == len(systems)
    tracked = Path(Settings().cities_file).read_text(encoding="utf-8")
    assert all(f"\n{s.city_name}," in tracked for s in systems)


# --------------------------------------------------------------------------------------
# Live requests: discovery drives the feed requests; a feed within its ttl is not fetched


def test_live_run_discovers_feeds_and_respects_ttl(settings, httpserver, tmp_path):
    root = httpserver.url_for("/").rstrip("/")
    vehicles = _v3_vehicles(
        "2024-05-08T10:00:00+02:00",
        [{"vehicle_id": "v1", "lat": 52.5, "lon": 13.4, "is_reserved": False, "is_disabled": False}],
    )
    info = {"last_updated": "2024-05-08T10:00:00+02:00", "ttl": 300, "version": "3.0", "data": {"system_id": "x"}}
    for path, doc in {
        "/v3/gbfs.json": V3_DISCOVERY,
        "/v3/system_information.json": info,
        "/v3/vehicle_types.json": V3_TYPES,
        "/v3/vehicle_status.json": vehicles,
        "/v3/station_status.json": {
            "last_updated": "2024-05-08T10:00:00+02:00",
            "ttl": 60,
            "version": "3.0",
            "data": {"stations": [{"station_id": "s1", "num_vehicles_available": 3, "num_docks_available": 7}]},
        },
    }.items():
        httpserver.expect_request(path).respond_with_json(doc)
    systems = tmp_path / "systems.csv"
    systems.write_text(
        "operator,system_id,discovery_url,city_name\nDott,dott-berlin,https://gbfs.example/v3/gbfs.json,Berlin\n"
        "Lime,lime_hamburg,https://gbfs.example/hh/gbfs.json,Hamburg\n",
        encoding="utf-8",
    )
    live = settings.model_copy(update={"gbfs_systems_file": systems, "gbfs_base_url": root})
    fast = {"sleep": lambda s: None, "backoff_factor": 0, "rate_per_minute": 0}

    first = extract(live, sources=["gbfs"], cities=["Berlin"], http_options=fast)
    result = first.result("gbfs")
    assert (result.requests, result.landed, result.errors, result.skipped) == (5, 5, 0, 0)
    # every listed feed of this source, station_status (docked) included; Hamburg's system was not asked for
    assert sorted(req.path for req, _ in httpserver.log) == sorted(
        [
            "/v3/gbfs.json",
            "/v3/system_information.json",
            "/v3/vehicle_types.json",
            "/v3/vehicle_status.json",
            "/v3/station_status.json",
        ]
    )
    conn = db.connect(live, "loader")
    with conn.cursor() as cur:
        cur.execute("select feed, system_id, ttl_s from gbfs_feeds order by feed")
        assert cur.fetchall() == (
            ("gbfs", "dott-berlin", 300),
            ("station_status", "dott-berlin", 60),
            ("system_information", "dott-berlin", 300),
            ("vehicle_status", "dott-berlin", 60),
            ("vehicle_types", "dott-berlin", 300),
        )
    conn.close()

    second = extract(live, sources=["gbfs"], cities=["Berlin"], http_options=fast)
    result = second.result("gbfs")
    assert (result.requests, result.landed, result.errors, result.skipped) == (0, 0, 0, 5)
    assert second.ok and "5 fresh" in str(second.table().columns[-1]._cells[0])
    assert len(httpserver.log) == 5


# --------------------------------------------------------------------------------------
# Retention


def test_retention_deletes_only_old_raw_snapshots(settings):
    now = datetime(2024, 5, 20, 12, tzinfo=UTC)
    rows = [
        _row(
            "vehicle_status",
            _v3_vehicles(f"2024-05-{day:02d}T10:00:00Z", []),
            "dott-berlin",
            datetime(2024, 5, day, 10, tzinfo=UTC),
        )
        for day in (1, 5, 6, 7, 19)
    ]
    assert land(settings, rows) == 5
    result = purge(settings, GBFS, days=14, now=now, chunk=2)  # cut-off 2024-05-06 12:00 UTC
    assert result.deleted == 3 and result.cutoff == datetime(2024, 5, 6, 12, tzinfo=UTC)
    conn = db.connect(settings, "loader")
    with conn.cursor() as cur:
        cur.execute("select date(fetched_at) from gbfs_feeds order by fetched_at")
        assert [str(r[0]) for r in cur.fetchall()] == ["2024-05-07", "2024-05-19"]
        # the loader may delete raw GBFS, and nothing else
        with pytest.raises(Exception, match="DELETE command denied"):
            cur.execute("delete from openweather_forecasts")
    conn.close()
    with pytest.raises(ValueError, match="at least 1 day"):
        purge(settings, GBFS, days=0)


# --------------------------------------------------------------------------------------
# dbt: staging, snapshots, marts on a real MariaDB

# the GBFS models and what reconciliation reads (the other sources' views, over empty tables)
SELECT = "tracked_cities gbfs_systems source:gans_raw.gbfs_feeds+ +landing_reconciliation"
# city_hourly_conditions reads the weather and flight marts too: built on its own below
EXCLUDE = "city_hourly_conditions+"


def _posix(payload: dict) -> datetime:
    return datetime.fromtimestamp(payload["last_updated"], UTC)


@pytest.fixture(scope="module")
def gbfs_built(mariadb, captures, tmp_path_factory):
    """Captures and documented shapes landed, then one dbt build of the GBFS models; what was landed."""
    settings = Settings()
    db.bootstrap(settings, reset=True)
    rows, published = [], {}
    # TIER Wolfsburg's five snapshots, five minutes apart, landed as system dott-berlin (TIER is now Dott;
    # Wolfsburg is not a tracked city, so the grid uses Berlin's reference latitude)
    tier = [_capture(captures, name) for name in TIER]
    for payload in tier:
        rows.append(_row("free_bike_status", payload, "dott-berlin", _posix(payload) + timedelta(seconds=5)))
    dott = _capture(captures, DOTT)
    rows.append(_row("free_bike_status", dott, "dott-hamburg", _posix(dott) + timedelta(seconds=5)))
    ottawa = _capture(captures, LIME_OTTAWA)  # v1.0, string coordinates
    rows.append(_row("free_bike_status", ottawa, "lime_hamburg", _posix(ottawa) + timedelta(seconds=5)))
    # v3.0 (lime_berlin): RFC 3339 times, a vehicle without vehicle_type_id, string and bad coordinates
    v3 = _v3_vehicles(
        "2024-05-08T10:00:00+02:00",
        [
            {
                "vehicle_id": "a",
                "lat": 52.52,
                "lon": 13.40,
                "is_reserved": False,
                "is_disabled": False,
                "vehicle_type_id": "es1",
                "current_range_meters": 12000,
                "last_reported": "2024-05-08T09:59:00+02:00",
            },
            {"vehicle_id": "b", "lat": "52.53", "lon": "13.41", "is_reserved": True, "is_disabled": False},
            {"vehicle_id": "c", "lat": "n/a", "lon": 13.4, "is_reserved": False, "is_disabled": False},
            {"vehicle_id": "d", "lat": 91.0, "lon": 13.4, "is_reserved": False, "is_disabled": False},
            {"lat": 52.5, "lon": 13.4, "is_reserved": False, "is_disabled": False},
        ],
    )
    at_v3 = datetime(2024, 5, 8, 8, 0, 10, tzinfo=UTC)
    rows.append(_row("vehicle_types", V3_TYPES, "lime_berlin", at_v3))
    rows.append(_row("vehicle_status", v3, "lime_berlin", at_v3))
    rows.append(
        _row(
            "vehicle_status",
            _v3_vehicles("2024-05-08T10:15:00+02:00", []),
            "lime_berlin",
            at_v3 + timedelta(minutes=15),
        )
    )
    # stale: last_updated a day older than its fetch (ttl 60)
    stale = _v3_vehicles("2024-05-07T10:30:00+02:00", [{"vehicle_id": "s", "lat": 52.5, "lon": 13.4}])
    rows.append(_row("vehicle_status", stale, "lime_berlin", at_v3 + timedelta(minutes=30)))
    assert land(settings, rows) == len(rows)
    published = sum(
        len(r.payload["data"].get("bikes", r.payload["data"].get("vehicles", [])))
        for r in rows
        if r.request_key["feed"] != "vehicle_types"
    )
    paths = tmp_path_factory.mktemp("dbt_gbfs")
    kwargs = {"target_path": paths / "target", "log_path": paths / "logs", "profiles_dir": paths / "profiles"}
    result = run_dbt(
        ["build", "-s", SELECT, "--exclude", EXCLUDE, "--indirect-selection", "cautious"]
        + ["--vars", "{test_window_hours: 0}"],
        settings,
        **kwargs,
    )
    assert result.success, [
        (r.node.name, r.status, r.message) for r in result.result.results if r.status not in ("success", "pass")
    ]
    return {"settings": settings, "tier": tier, "published": published, "kwargs": kwargs, "landed": len(rows)}


def test_every_published_vehicle_is_staged_or_rejected(gbfs_built):
    settings = gbfs_built["settings"]
    staging = settings.staging_database
    (total,) = _q(settings, f"select count(*) from {staging}.base_gbfs__vehicles")[0]
    assert total == gbfs_built["published"]
    reasons = dict(
        _q(
            settings,
            f"select coalesce(reject_reason, 'staged'), count(*) from {staging}.base_gbfs__vehicles group by 1",
        )
    )
    assert reasons.pop("lat not a number") == 1 and reasons.pop("lat/lon out of range") == 1
    assert reasons.pop("vehicle id missing") == 1
    assert reasons.pop("stale snapshot (older than its ttl when fetched)") == 1
    assert reasons == {"staged": total - 4}
    (staged,) = _q(settings, f"select count(*) from {staging}.stg_gbfs__vehicles")[0]
    assert staged == total - 4
    # every rejected vehicle is in landing_rejects, with its record as landed
    rejects = _q(settings, "select record_json from landing_rejects where source_name = 'gbfs'")
    assert len(rejects) == 4 and all(json.loads(r[0]) for r in rejects)
    # reconciliation: one row per GBFS landing row, records = staged + rejected
    recon = reconciliation_totals(settings, "gbfs")
    assert recon[0] == gbfs_built["landed"]
    assert recon[1] == gbfs_built["published"] + len(V3_TYPES["data"]["vehicle_types"])
    assert recon[3] == 4 and recon[4] == 0
    v3 = dict(
        (r[0], r[1:])
        for r in _q(
            settings,
            "select vehicle_id, latitude, form_factor, propulsion_type, is_reserved, current_range_m,"
            f" last_reported_utc, snapshot_at_utc from {staging}.stg_gbfs__vehicles"
            " where system_id = 'lime_berlin' and vehicle_id in ('a', 'b')",
        )
    )
    assert v3["a"][:3] == (Decimal("52.5200000"), "scooter_standing", "electric")
    assert v3["a"][4:] == (Decimal("12000.00"), datetime(2024, 5, 8, 7, 59), datetime(2024, 5, 8, 8, 0))
    assert v3["b"][0] == Decimal("52.5300000") and v3["b"][1] is None and v3["b"][3] == 1  # no vehicle_type_id
    ottawa = _q(
        settings,
        f"select form_factor, count(*) from {staging}.stg_gbfs__vehicles where system_id = 'lime_hamburg' group by 1",
    )
    assert ottawa == [("scooter", 137)]
    snaps = _q(
        settings,
        f"select vehicles_published, is_stale from {staging}.int_gbfs__snapshots"
        " where system_id = 'lime_berlin' order by fetched_at_utc",
    )
    assert snaps == [(5, 0), (0, 0), (1, 1)]  # the empty feed is a snapshot too


def test_availability_averages_the_snapshots_of_each_bucket(gbfs_built):
    settings, tier = gbfs_built["settings"], gbfs_built["tier"]
    got = dict(
        _q(
            settings,
            "select bucket_start_utc, sum(vehicles_avg) from gbfs_availability"
            " where system_id = 'dott-berlin' group by 1",
        )
    )
    buckets: dict[datetime, list[int]] = {}
    for payload in tier:
        at = _posix(payload).replace(tzinfo=None)
        buckets.setdefault(at.replace(minute=at.minute // 15 * 15, second=0), []).append(len(payload["data"]["bikes"]))
    assert set(got) == set(buckets)
    for bucket, counts in buckets.items():
        assert abs(float(got[bucket]) - sum(counts) / len(counts)) < 0.01 * 500, bucket
    cities = _q(settings, "select distinct city_name, operator from gbfs_availability order by 1, 2")
    assert cities == [("Berlin", "Dott"), ("Berlin", "Lime"), ("Hamburg", "Dott"), ("Hamburg", "Lime")]


def test_net_flows_count_changes_per_cell_between_consecutive_snapshots(gbfs_built):
    settings, tier = gbfs_built["settings"], gbfs_built["tier"]
    rows = _q(
        settings,
        "select hour_utc, sum(net_flow), sum(vehicles_appeared), sum(vehicles_disappeared), max(snapshot_pairs)"
        " from gbfs_net_flows where system_id = 'dott-berlin' group by 1",
    )
    counts = [len(p["data"]["bikes"]) for p in tier]
    assert len(rows) == 1 and rows[0][0] == datetime(2023, 8, 1, 10)
    hour, net, appeared, disappeared, pairs = rows[0]
    assert pairs == len(tier) - 1 and net == counts[-1] - counts[0] and appeared - disappeared == net
    assert appeared >= sum(max(b - a, 0) for a, b in zip(counts, counts[1:], strict=False))
    # lime_berlin: the v3 snapshot (2 staged vehicles) then an empty one 15 minutes later: both disappear
    lime = _q(
        settings,
        "select sum(vehicles_appeared), sum(vehicles_disappeared) from gbfs_net_flows where system_id = 'lime_berlin'",
    )
    assert lime == [(0, 2)] or lime == [(Decimal(0), Decimal(2))]


def test_retention_then_one_new_snapshot_keeps_history_and_reconciles(gbfs_built):
    """Raw snapshots deleted (retention), one new one landed: the incremental build parses only
    the new one, and reconciliation rows and marts of the deleted snapshots stay."""
    settings = gbfs_built["settings"]
    staging = settings.staging_database
    before = {
        "recon": _q(settings, "select landing_id from landing_reconciliation where source_name = 'gbfs'"),
        "availability": _q(settings, "select count(*), sum(vehicles_avg) from gbfs_availability"),
        "base": _q(settings, f"select count(*) from {staging}.base_gbfs__vehicles"),
    }
    # every landed row was fetched in 2026-04 or earlier: a 1-day retention deletes them all
    assert purge(settings, GBFS, days=1).deleted == gbfs_built["landed"]
    fresh = _v3_vehicles(
        datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        [
            {"vehicle_id": "n1", "lat": 53.55, "lon": 10.0, "is_reserved": False, "is_disabled": False},
            {"vehicle_id": "n2", "lat": "53.56", "lon": "10.01", "is_reserved": False, "is_disabled": True},
            {"vehicle_id": "n3", "lat": None, "lon": 10.0, "is_reserved": False, "is_disabled": False},
        ],
    )
    assert land(settings, [_row("vehicle_status", fresh, "lime_hamburg", datetime.now(UTC))]) == 1
    args = ["build", "-s", SELECT, "--exclude", EXCLUDE, "--indirect-selection", "cautious"]
    args += ["--vars", "{test_window_hours: 0}"]
    result = run_dbt(args, settings, **gbfs_built["kwargs"])
    assert result.success
    recon = _q(
        settings,
        "select landing_id, records_in_payload, records_staged, records_rejected from landing_reconciliation"
        " where source_name = 'gbfs' order by landing_id",
    )
    # the deleted snapshots' rows stay, and the new one: 3 vehicles, 2 staged, 1 rejected (lat null)
    assert [r[:1] for r in recon[:-1]] == sorted(before["recon"])
    assert recon[-1][1:] == (3, 2, 1)
    # each snapshot parsed once: the base holds the old vehicles plus the new three, no duplicates
    assert _q(settings, f"select count(*) from {staging}.base_gbfs__vehicles")[0][0] == before["base"][0][0] + 3
    dupes = f"select count(*) from (select landing_id, vehicle_index from {staging}.base_gbfs__vehicles"
    assert _q(settings, dupes + " group by 1, 2 having count(*) > 1) d")[0][0] == 0
    # the marts keep the history no longer landed, and add the new snapshot's bucket
    count, total = _q(settings, "select count(*), sum(vehicles_avg) from gbfs_availability")[0]
    assert count == before["availability"][0][0] + 2 and total == before["availability"][0][1] + 2


def test_competitor_supply_reaches_city_hourly_conditions(settings, tmp_path):
    """Two operators' snapshots in one hour in Hamburg, and a forecast slot for that hour."""
    hour = datetime(2026, 4, 13, 18, tzinfo=UTC)
    slot = {"dt": int(hour.timestamp()), "main": {"temp": 12.0, "feels_like": 11.0, "humidity": 70}}
    slot |= {"weather": [{"id": 800, "main": "Clear", "description": "clear sky"}], "wind": {"speed": 3.0}}
    forecast = {
        "cod": "200",
        "cnt": 1,
        "list": [slot],
        "city": {"name": "Hamburg", "coord": {"lat": 53.55, "lon": 10.0}, "timezone": 7200, "population": 0},
    }
    weather = LandingRow(
        "openweather", {"city": "Hamburg"}, {"lat": 53.55, "lon": 10.0, "units": "metric"},
        hour - timedelta(hours=1), 200, forecast,
    )  # fmt: skip

    def scooter(n: int, disabled: bool = False) -> dict:
        return {"vehicle_id": f"v{n}", "lat": 53.55 + n / 1000, "lon": 10.0, "is_reserved": False,
                "is_disabled": disabled}  # fmt: skip

    def snapshot(system_id: str, minute: int, vehicles: list) -> LandingRow:
        at = hour + timedelta(minutes=minute)
        stamp = at.isoformat().replace("+00:00", "Z")
        return _row("vehicle_status", _v3_vehicles(stamp, vehicles), system_id, at + timedelta(seconds=5))

    gbfs = [
        snapshot("dott-hamburg", 5, [scooter(1), scooter(2), scooter(3, disabled=True)]),  # bucket 18:00
        snapshot("dott-hamburg", 20, [scooter(4)]),  # bucket 18:15
        snapshot("lime_hamburg", 10, [scooter(5), scooter(6)]),
    ]
    assert land(settings, [weather, *gbfs]) == 4
    paths = tmp_path / "dbt"
    kwargs = {"target_path": paths / "target", "log_path": paths / "logs", "profiles_dir": paths / "profiles"}
    result = run_dbt(["build", "--vars", "{test_window_hours: 0}"], settings, **kwargs)
    assert result.success, [
        (r.node.name, r.status, r.message) for r in result.result.results if r.status not in ("success", "pass", "warn")
    ]
    rows = _q(
        settings,
        "select c.hour_utc, c.competitor_vehicles, c.competitor_vehicles_available, c.competitor_operators"
        " from city_hourly_conditions as c join cities on cities.city_id = c.city_id"
        " where cities.city_name = 'Hamburg' order by c.hour_utc",
    )
    by_hour = {r[0]: r[1:] for r in rows}
    # Dott: buckets of 3 and 1 vehicles -> 2 an hour (1.5 available); Lime: 2 -> 4 vehicles, 3.5 available
    assert by_hour[hour.replace(tzinfo=None)] == (Decimal("4.0"), Decimal("3.5"), 2)
    # the slot's other hours (19:00, 20:00) have no snapshot: no supply, not zero
    assert by_hour[(hour + timedelta(hours=1)).replace(tzinfo=None)] == (None, None, None)
    # competitors' trips: Dott's v1 and v2 gone between 18:05 and 18:20 (v3, disabled, was removed);
    # Lime has one snapshot, no pair; no trip was seen at 19:00
    trips = dict(
        _q(
            settings,
            "select c.hour_utc, c.competitor_trips_started from city_hourly_conditions as c"
            " join cities on cities.city_id = c.city_id where cities.city_name = 'Hamburg'",
        )
    )
    assert trips[hour.replace(tzinfo=None)] == 2
    assert trips[(hour + timedelta(hours=1)).replace(tzinfo=None)] is None
    removed = _q(settings, "select sum(vehicles_removed), sum(trips_ended) from gbfs_trip_events")
    assert [tuple(int(v) for v in r) for r in removed] == [(1, 1)]
