"""The demo corpus (``demo/``): attributed, free of keys, and enough to build every mart offline.

Runs without ``../shared``: ``demo/`` is replayed into a fresh database through the extractors'
replay (as ``make demo`` does) and ``dbt build`` runs once for the module. Expected values are read
off the demo files here (revision ids, infobox figures, the forecast's series), not written down.
Where ``../shared`` exists, the trimmed Wikipedia pages are also checked to parse as the full ones.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from db_helpers import query as _query
from dbt_helpers import mart_checksums
from test_gbfs_docked import FLOWS, expected_changes

from extract import db
from extract.recording import read_manifest
from extract.runner import replay
from extract.settings import Settings
from extract.sources.wikipedia import parse_html
from transform.dbt_runner import MARTS, RECONCILIATION, run_dbt, summarize

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
SHARED = ROOT.parent / "shared"
OPERATIONS = ROOT / "docs" / "operations.md"
#: sources whose responses may be redistributed (demo/ATTRIBUTION.md); GBFS only the systems whose operator
#: states a licence that allows it (Oslo Bysykkel: NLOD 2.0)
REDISTRIBUTABLE = {"wikipedia", "open_meteo", "gbfs"}
GBFS_SYSTEMS = {"oslobysykkel"}
#: the licences demo/ATTRIBUTION.md may name in a file's row
LICENCE = re.compile(r"\| (CC BY(-SA)? \d\.\d|NLOD 2\.0) \|")
#: what a key, token or secret looks like in a URL, header or body
SECRET_PATTERNS = [
    re.compile(
        r"(?i)\b(appid|api[_-]?key|apikey|x-rapidapi-key|x-api-key|access[_-]?token|client[_-]?secret)"
        r"\b[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9_\-]{12,}"
    ),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"(?i)\b[0-9a-f]{32}\b(?=[^\n]{0,40}(appid|key))"),
]


def _entries() -> list[dict]:
    return [json.loads(line) for line in (DEMO / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if line]


def _revision(html: str) -> int:
    return int(re.search(r'"wgRevisionId"\s*:\s*(\d+)', html).group(1))


def _empty_in_docs() -> set[str]:
    """The marts ``docs/operations.md`` says ``make demo`` builds empty."""
    line = next(li for li in OPERATIONS.read_text(encoding="utf-8").splitlines() if li.startswith("Built empty by"))
    return set(re.findall(r"`([a-z_]+)`", line.split(":", 1)[1]))


# --- the files ---------------------------------------------------------------------------------


def test_every_file_is_in_the_manifest_and_attributed():
    attribution = (DEMO / "ATTRIBUTION.md").read_text(encoding="utf-8")
    bodies = [e["body"] for e in _entries()]
    files = {p.relative_to(DEMO).as_posix() for p in DEMO.rglob("*") if p.is_file()}
    assert files == {"manifest.jsonl", "ATTRIBUTION.md", *bodies}  # nothing unlisted, nothing missing
    for body in bodies:
        # each body has its own table row: the file name, then its licence
        row = next((li for li in attribution.splitlines() if li.startswith(f"| `{body}` |")), None)
        assert row is not None, f"{body} has no entry in demo/ATTRIBUTION.md"
        assert LICENCE.search(row), f"{body}: no licence in its entry"
    assert len(read_manifest(DEMO)) == len(bodies)  # the project's reader accepts every line


def test_only_redistributable_sources_and_no_secrets():
    assert {e["source"] for e in _entries()} <= REDISTRIBUTABLE
    assert {e["key"]["system_id"] for e in _entries() if e["source"] == "gbfs"} <= GBFS_SYSTEMS
    for entry in _entries():
        names = {k.lower() for k in entry["request"].get("params", {})} | {k.lower() for k in entry.get("headers", {})}
        assert not names & {"appid", "apikey", "api_key", "x-rapidapi-key", "authorization"}, entry["body"]
    for path in DEMO.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            found = [m.group(0) for pattern in SECRET_PATTERNS for m in pattern.finditer(text)]
            assert found == [], f"{path.name}: looks like a key: {found[:3]}"


def test_trimmed_pages_parse_as_the_full_pages():
    """Extra coverage where ``../shared`` exists: the cut pages lose nothing the parser reads."""
    full_pages = {p.name: p for p in SHARED.glob("recordings*/wikipedia/*.html")}
    if not full_pages:
        pytest.skip(f"full pages not found under {SHARED} (the team's corpus beside the project)")
    for entry in _entries():
        if entry["source"] == "wikipedia":
            name = Path(entry["body"]).name
            demo_html = (DEMO / entry["body"]).read_text(encoding="utf-8")
            full_html = full_pages[name].read_text(encoding="utf-8")
            city, url = entry["key"]["city"], entry["request"]["url"]
            assert parse_html(demo_html, city, url) == parse_html(full_html, city, url)


# --- the build ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(mariadb, tmp_path_factory):
    """``demo/`` replayed into an empty database, then ``dbt build``; also the replay's second pass."""
    settings = Settings()
    db.bootstrap(settings, reset=True)
    first = replay(settings, DEMO)
    again = replay(settings, DEMO)
    paths = tmp_path_factory.mktemp("dbt_demo")
    kwargs = {"target_path": paths / "target", "log_path": paths / "logs", "profiles_dir": paths / "profiles"}
    result = run_dbt(["build"], settings, **kwargs)
    after_first = mart_checksums(settings, MARTS) if result.success else {}
    second = run_dbt(["build"], settings, **kwargs)
    after_second = mart_checksums(settings, MARTS) if second.success else {}
    return {
        "settings": settings,
        "first": first,
        "again": again,
        "result": result,
        "kwargs": kwargs,
        "second": second,
        "unchanged": after_first == after_second,
    }


def test_replay_lands_each_response_once(built):
    assert built["first"].ok and built["again"].ok
    landed = {r.source: r.landed for r in built["first"].results}
    expected = {s: sum(e["source"] == s for e in _entries()) for s in {e["source"] for e in _entries()}}
    assert landed == expected
    assert sum(r.landed for r in built["again"].results) == 0


def test_every_mart_is_built_and_the_docs_name_the_empty_ones(built):
    summary = summarize(built["result"], built["settings"])
    assert built["result"].success, summary.format()
    assert summary.tests["pass"] > 50 and summary.tests.get("fail", 0) == 0 and summary.tests.get("error", 0) == 0
    nodes = json.loads((built["kwargs"]["target_path"] / "manifest.json").read_text())["nodes"].values()
    marts = {n["name"] for n in nodes if n["resource_type"] == "model" and n["fqn"][1] == "marts"}
    assert set(summary.mart_rows) == marts
    empty = {mart for mart, rows in summary.mart_rows.items() if not rows}
    assert empty == _empty_in_docs()
    # the marts of the sources the demo holds are filled
    filled = {"cities", "city_populations", "weather_hourly_forecasts", "gbfs_trip_events", "landing_reconciliation"}
    assert filled <= marts - empty


def test_second_build_changes_no_mart_row(built):
    assert built["result"].success and built["second"].success
    assert built["unchanged"]


def test_every_landed_record_is_staged_or_rejected(built):
    settings = built["settings"]
    rows = _query(
        settings,
        f"select source_name, records_in_payload, records_staged, records_rejected from {RECONCILIATION}",
    )
    assert len(rows) == len(_entries())  # one row per landed response
    assert all(records == staged + rejected for _, records, staged, rejected in rows)
    summary = summarize(built["result"], settings)
    assert set(summary.source_records) == {e["source"] for e in _entries()}


def test_open_meteo_records_read_off_the_forecast(built):
    settings = built["settings"]
    (entry,) = [e for e in _entries() if e["source"] == "open_meteo"]
    body = json.loads((DEMO / entry["body"]).read_text(encoding="utf-8"))
    hours = body["hourly"]["time"]
    series = {k[len("temperature_2m_") :]: v for k, v in body["hourly"].items() if k.startswith("temperature_2m_")}
    with_temperature = sum(v is not None for values in series.values() for v in values)
    ((records, staged, rejected),) = _query(
        settings,
        f"select records_in_payload, records_staged, records_rejected from {RECONCILIATION}"
        " where source_name = 'open_meteo'",
    )
    assert (records, staged, rejected) == (
        len(hours) * len(series),
        with_temperature,
        len(hours) * len(series) - with_temperature,
    )
    assert _query(settings, "select count(*) from landing_rejects where source_name = 'open_meteo'") == [(rejected,)]
    per_model = dict(_query(settings, "select model, count(*) from weather_hourly_forecasts group by model"))
    assert per_model == {m: sum(v is not None for v in values) for m, values in series.items() if any(values)}
    # one value, first model with a full series: its first hour as served (°C, no unit parameter sent)
    model = next(m for m, values in series.items() if all(v is not None for v in values))
    first_hour = datetime.fromisoformat(hours[0])  # GMT: utc_offset_seconds is 0
    assert body["utc_offset_seconds"] == 0
    assert _query(
        settings,
        "select temperature_c from weather_hourly_forecasts where model = %s and forecast_hour_utc = %s",
        (model, first_hour),
    ) == [(Decimal(str(series[model][0])).quantize(Decimal("0.01")),)]


def test_cities_take_each_page_revision_and_the_latest_population(built):
    settings = built["settings"]
    pages: dict[str, list[tuple[str, str]]] = {}
    for entry in sorted((e for e in _entries() if e["source"] == "wikipedia"), key=lambda e: e["fetched_at"]):
        pages.setdefault(entry["key"]["city"], []).append((entry["fetched_at"], (DEMO / entry["body"]).read_text()))
    revisions = set(
        _query(
            settings,
            "select distinct c.city_name, p.wikipedia_revision_id from city_populations p"
            " join cities c on c.city_id = p.city_id",
        )
    )
    assert revisions == {(city, _revision(html)) for city, fetched in pages.items() for _, html in fetched}
    for city, fetched in pages.items():
        latest = fetched[-1][1]
        ((population, revision),) = _query(
            settings, "select population, wikipedia_revision_id from cities where city_name = %s", (city,)
        )
        assert revision == _revision(latest)
        # the headline figure is one of the counts in the latest page's infobox Population block
        box = BeautifulSoup(latest, "lxml").select_one("table.infobox.ib-settlement")
        counts = {int(n.replace(",", "")) for n in re.findall(r"\d{1,3}(?:,\d{3})+", box.get_text(" "))}
        assert population in counts
    # Paris: the figure sits on the "Population (...)" header row itself (no "• City" row)
    paris = BeautifulSoup(pages["Paris"][-1][1], "lxml").select_one("table.infobox.ib-settlement")
    header = next(tr for tr in paris.select("tr") if tr.th and tr.th.get_text(" ", strip=True).startswith("Population"))
    figure = int(re.search(r"\d{1,3}(?:,\d{3})+", header.td.get_text(" ")).group(0).replace(",", ""))
    assert _query(settings, "select population from cities where city_name = 'Paris'") == [(figure,)]


def test_docked_trips_read_off_the_station_status_snapshots(built):
    """The Oslo Bysykkel snapshots fill the docked path: every station staged, trips from the changes."""
    settings = built["settings"]
    staging = settings.staging_database
    status = sorted(
        (e for e in _entries() if e["source"] == "gbfs" and e["key"]["feed"] == "station_status"),
        key=lambda e: e["fetched_at"],
    )
    docs = [json.loads((DEMO / e["body"]).read_text(encoding="utf-8")) for e in status]
    (info,) = [e for e in _entries() if e["source"] == "gbfs" and e["key"]["feed"] == "station_information"]
    stations = json.loads((DEMO / info["body"]).read_text(encoding="utf-8"))["data"]["stations"]
    staged = _query(settings, f"select count(*) from {staging}.stg_gbfs__station_information")
    assert staged == [(len(stations),)]
    snapshots = _query(
        settings,
        f"select snapshot_at_utc, count(*), sum(vehicles_available) from {staging}.stg_gbfs__station_status"
        " group by 1 order by 1",
    )
    assert [(at, n, int(bikes)) for at, n, bikes in snapshots] == [
        (
            datetime.fromtimestamp(d["last_updated"], UTC).replace(tzinfo=None),
            len(d["data"]["stations"]),
            sum(s["num_bikes_available"] for s in d["data"]["stations"]),
        )
        for d in docs
    ]
    # pairs within gbfs_flow_max_gap_minutes (60 min): 20:28 -> 20:29 -> 20:45 (19:03 is 85 minutes before)
    gaps = [(b["last_updated"] - a["last_updated"]) / 60 for a, b in zip(docs, docs[1:], strict=False)]
    pairs = [(a, b) for (a, b), gap in zip(zip(docs, docs[1:], strict=False), gaps, strict=True) if gap <= 60]
    assert len(pairs) == 2
    changes = [expected_changes(a, b) for a, b in pairs]
    expected = {k: sum(c[k] for c in changes) for k in changes[0]}
    got = _query(
        settings,
        f"select {', '.join(f'sum({flow})' for flow in FLOWS)},"
        " max(snapshot_pairs), max(city_name) from gbfs_trip_events where system_id = 'oslobysykkel'",
    )[0]
    assert tuple(int(v) for v in got[:4]) == tuple(expected[flow] for flow in FLOWS)
    assert expected["trips_started"] > 0 and got[4:] == (2, None)  # not in the systems seed: no city
