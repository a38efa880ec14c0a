"""The GBFS systems seed from MobilityData's catalogue: matching, bad rows, the command, the committed seed."""

from __future__ import annotations

import csv
import functools
import http.server
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from extract.gbfs_catalogue import ATTRIBUTION, SEED_COLUMNS, CatalogueError, match, refresh
from extract.sources.gbfs import load_systems
from gans.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT.parent / "shared" / "reference" / "mobilitydata_gbfs_systems.csv"
CITIES = ROOT / "dbt_project" / "seeds" / "tracked_cities.csv"
SEED = ROOT / "dbt_project" / "seeds" / "gbfs_systems.csv"
HEADER = (
    "Country Code,Name,Location,System ID,URL,Auto-Discovery URL,Supported Versions,"
    "Authentication Info URL,Authentication Type,Authentication Parameter Name\n"
)

needs_catalogue = pytest.mark.skipif(
    not CATALOGUE.exists(), reason=f"the shared copy of MobilityData's systems.csv is missing ({CATALOGUE})"
)


def _cities() -> list[dict[str, str]]:
    with CITIES.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@needs_catalogue
def test_shared_catalogue_matches_the_tracked_cities_by_location():
    result = match(CATALOGUE.read_text(encoding="utf-8"), _cities())
    ids = {r["system_id"] for r in result.rows}
    assert result.catalogue_rows == 1520 and result.problems == []
    # one per city and kind, and the local name Sevilla counts as Seville
    assert {"dott-berlin", "lime_hamburg", "bicimad_madrid", "getaround_sevilla", "pony_Nice", "bikr-lisbon"} <= ids
    # substrings of names and suburbs are other places
    assert not ids & {"dott-uberlingen", "nextbike_cb", "dott-gpseo", "rivas"}
    assert all(r["city_name"] for r in result.rows) and set(result.cities()) == {c["city_name"] for c in _cities()}
    stadtrad = next(r for r in result.rows if r["system_id"] == "stadtrad_hamburg")
    assert stadtrad["is_enabled"] == "false" and stadtrad["authentication_type"]
    assert {r["is_enabled"] for r in result.rows if not r["authentication_type"]} == {"true"}
    dott = next(r for r in result.rows if r["system_id"] == "dott-berlin")
    assert (dott["operator"], dott["supported_versions"], dott["attribution"]) == ("Dott", "2.3", ATTRIBUTION)
    assert next(r for r in result.rows if r["system_id"] == "bike_barcelona")["supported_versions"] == "1.1;2.3;3.0"


def test_bad_catalogue_rows_are_reported_and_the_others_kept():
    text = HEADER + (
        "DE,Dott Berlin,Berlin,dott-berlin,https://ridedott.com/,https://gbfs.example/berlin/gbfs.json,2.3,,,\n"
        "DE,Bad URL Berlin,Berlin,bad-url,,ftp://gbfs.example/gbfs.json,2.3,,,\n"
        "DE,No URL Berlin,Berlin,no-url,,not a url,2.3,,,\n"
        "DE,Future Berlin,Berlin,future,,https://gbfs.example/f/gbfs.json,2.3 ; 9.9,,,\n"
        "DE,Twice Berlin,Berlin,DOTT-BERLIN,,https://gbfs.example/t/gbfs.json,2.3,,,\n"
        "DE,Lime München,München,lime_munich,,https://gbfs.example/m/gbfs.json,2.2,,,\n"
        "AT,Dott Berlin elsewhere,Berlin,dott-at,,https://gbfs.example/a/gbfs.json,2.3,,,\n"
        "CZ,nextbike Hranice,Hranice,nextbike_hr,,https://gbfs.example/h/gbfs.json,2.3,,,\n"
    )
    result = match(text, _cities())
    assert [(r["system_id"], r["city_name"]) for r in result.rows] == [
        ("dott-berlin", "Berlin"),
        ("lime_munich", "Munich"),
    ]
    assert len(result.problems) == 4
    assert "bad-url" in result.problems[0] and "not an http(s) URL" in result.problems[0]
    assert "no-url" in result.problems[1]
    assert "future" in result.problems[2] and "9.9" in result.problems[2]
    assert "DOTT-BERLIN" in result.problems[3] and "duplicate" in result.problems[3]
    with pytest.raises(CatalogueError, match="Auto-Discovery URL"):
        match("Country Code,Name,Location,System ID\n", _cities())


def test_refresh_over_http_keeps_manual_rows_and_writes_a_seed_extraction_reads(tmp_path):
    text = HEADER + (
        "DE,Dott Berlin,Berlin,dott-berlin,https://ridedott.com/,https://gbfs.example/berlin/gbfs.json,2.3,,,\n"
        "DE,StadtRad,Hamburg,stadtrad,,https://gbfs.example/s/gbfs.json,2.3,https://x,api_key,key\n"
    )
    (tmp_path / "systems.csv").write_text(text, encoding="utf-8")
    seed = tmp_path / "gbfs_systems.csv"
    seed.write_text(
        ",".join(SEED_COLUMNS) + "\nLime,lime_berlin,https://gbfs.example/l/gbfs.json,Berlin,false,,,,,,,manual,,\n"
        "Old,old_id,https://gbfs.example/o/gbfs.json,Berlin,true,,,,,,,catalogue,,\n",
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/systems.csv"
        result = refresh(url, CITIES, seed, timeout_s=5)
    finally:
        server.shutdown()
        server.server_close()
    assert [r["system_id"] for r in result.rows] == ["dott-berlin", "stadtrad", "lime_berlin"]
    systems = {s.system_id: s for s in load_systems(seed)}
    assert set(systems) == {"dott-berlin", "stadtrad", "lime_berlin"}  # the old catalogue row is gone
    assert [s.is_enabled for s in systems.values()] == [True, False, False]
    with pytest.raises(CatalogueError, match="cannot read"):
        refresh(str(tmp_path / "missing.csv"), CITIES, seed)
    assert len(load_systems(seed)) == 3  # an unreadable catalogue leaves the seed as it was


def test_command_reports_bad_rows_and_exits_zero(tmp_path, monkeypatch):
    catalogue = tmp_path / "systems.csv"
    catalogue.write_text(
        HEADER + "DE,Dott Berlin,Berlin,dott-berlin,,https://gbfs.example/b/gbfs.json,2.3,,,\n"
        "DE,Bad Berlin,Berlin,bad,,https://gbfs.example/x/gbfs.json,,,,\n",
        encoding="utf-8",
    )
    seed = tmp_path / "seed.csv"
    monkeypatch.setenv("GANS_CITIES_FILE", str(CITIES))
    out = CliRunner().invoke(cli, ["gbfs-systems", "refresh", "--url", str(catalogue), "--seed", str(seed)])
    assert out.exit_code == 0, out.output
    assert "1 systems (1 enabled)" in out.output and "left out: line 3 (bad" in out.output
    missing = CliRunner().invoke(
        cli, ["gbfs-systems", "refresh", "--url", str(tmp_path / "no.csv"), "--seed", str(seed)]
    )
    assert missing.exit_code == 1 and "cannot read" in missing.output


@needs_catalogue
def test_committed_seed_is_the_refresh_of_the_shared_catalogue(tmp_path):
    """The committed seed is what the command writes from the shared copy (plus its manual rows)."""
    regenerated = tmp_path / "gbfs_systems.csv"
    regenerated.write_bytes(SEED.read_bytes())
    refresh(str(CATALOGUE), CITIES, regenerated)
    assert regenerated.read_text(encoding="utf-8") == SEED.read_text(encoding="utf-8")
    systems = load_systems(SEED)
    manual = [row for row in csv.DictReader(SEED.open(encoding="utf-8")) if row["source"] == "manual"]
    # lime_berlin is not in the catalogue: kept as a manual row, disabled until its URL is checked
    assert [(r["system_id"], r["is_enabled"]) for r in manual] == [("lime_berlin", "false")]
    assert len(systems) == 54
