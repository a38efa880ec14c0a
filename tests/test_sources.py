"""The source registry: every declaration complete and consistent with the migrations, settings and template."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cfnlint.decode import decode

from extract import db
from extract.response import Response
from extract.settings import Settings
from extract.sources import REGISTRY, SOURCES, ParseError, Source, apis, get
from extract.sources.aerodatabox import AIRPORTS, FLIGHTS

ROOT = Path(__file__).resolve().parent.parent


def _response(source: Source, key, status: int = 200) -> Response:
    return Response(source.name, key, "GET", "http://x", {}, datetime(2024, 1, 1, tzinfo=UTC), status, "", b"")


def test_registry_order_and_lookup():
    assert SOURCES == tuple(REGISTRY) and len(set(SOURCES)) == len(SOURCES)
    for name in SOURCES:
        assert get(name) is REGISTRY[name]
    with pytest.raises(ValueError, match=f"unknown source 'nope'; expected one of {SOURCES[0]}"):
        get("nope")
    # flights use the airports found in the same call: the airports run first
    assert SOURCES.index(AIRPORTS.name) < SOURCES.index(FLIGHTS.name)
    # sources of one API share one client (one rate budget): the two AeroDataBox sources do
    assert apis()[AIRPORTS.api] == [AIRPORTS.name, FLIGHTS.name]
    assert sorted(n for names in apis().values() for n in names) == sorted(SOURCES)
    # one landing table per source
    assert len({s.landing_table for s in REGISTRY.values()}) == len(SOURCES)


@pytest.mark.parametrize("name", SOURCES)
def test_declaration_is_complete_and_names_real_settings(name):
    source = REGISTRY[name]
    assert source.name == name and source.key_fields and source.ok_statuses
    fields = Settings.model_fields
    assert source.base_url_setting in fields
    for setting in source.required_settings:
        assert setting in fields, setting
    # GBFS has no one API root: its discovery URLs come from the seed (GBFS_BASE_URL empty by default)
    assert source.base_url(Settings()).startswith("https://") or (name == "gbfs" and source.base_url(Settings()) == "")


@pytest.mark.parametrize("name", SOURCES)
def test_landing_table_and_extra_columns_exist_in_the_migrations(name):
    source = REGISTRY[name]
    ddl = "\n".join(statement for m in db.migrations() for statement in m.statements())
    assert f"create table if not exists {source.landing_table} (" in ddl.lower()
    for column in source.extra_columns:
        assert column in ddl


def test_every_source_has_its_default_schedule_in_the_template():
    template, errors = decode(str(ROOT / "lambda" / "template.yaml"))
    assert not errors
    deployed = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Scheduler::Schedule":
            # the extraction schedules name their sources; the GBFS retention schedule names none
            sources = json.loads(resource["Properties"]["Target"]["Input"]["Fn::Sub"]).get("sources", [])
            for name in sources:
                expression = resource["Properties"]["ScheduleExpression"]
                if isinstance(expression, dict):  # a template parameter (GBFS): its default is the declared schedule
                    expression = template["Parameters"][expression["Ref"]]["Default"]
                deployed[name] = expression
    assert deployed == {name: source.schedule for name, source in REGISTRY.items()}


@pytest.mark.parametrize(
    "key, problem",
    [
        ({"city": "  "}, "non-blank"),
        ({"city": 3}, "non-blank"),
        ({}, "fields city"),
        ({"city": "Berlin", "extra": "x"}, "fields city"),
        ("Berlin", "fields city"),
    ],
)
def test_request_keys_are_checked_against_the_declared_fields(key, problem):
    with pytest.raises(ParseError, match=problem):
        REGISTRY["openweather"].check_key(key)


def test_flights_accept_204_and_others_only_200():
    assert REGISTRY["aerodatabox_flights"].ok_statuses == {200, 204}
    assert all(REGISTRY[n].ok_statuses == {200} for n in SOURCES if n != "aerodatabox_flights")
    flights = REGISTRY["aerodatabox_flights"]
    key = {"airport_icao": "EDDB", "from_local": "2024-05-08T00:00", "to_local": "2024-05-08T12:00"}
    (row,) = flights.parse(_response(flights, key, 204))
    assert (row.payload, row.http_status) == ({}, 204)


def test_bad_flight_direction_is_refused_before_any_request():
    with pytest.raises(ValueError, match="direction"):
        REGISTRY["aerodatabox_flights"].check_options({"direction": "Sideways"})


@pytest.fixture(scope="module")
def dbt_manifest(tmp_path_factory) -> dict:
    """The manifest ``dbt parse`` writes (no database needed): models, their dependencies, the sources."""
    from transform.dbt_runner import run_dbt

    target = tmp_path_factory.mktemp("dbt-parse")
    result = run_dbt(["parse"], target_path=target, log_path=target)
    assert result.success, result.exception
    return json.loads((target / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("model", ["landing_reconciliation", "landing_rejects"])
def test_every_registered_source_is_reconciled_and_its_rejects_shown(dbt_manifest, model):
    """Forgetting a source in the reconciliation or rejects lists would leave it out of
    ``source_health`` silently: each must read every registered source's landing table."""
    [node] = [n for n in dbt_manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == model]
    read = {dbt_manifest["sources"][s]["name"] for s in node["depends_on"]["nodes"] if s.startswith("source.")}
    missing = {s.landing_table for s in REGISTRY.values()} - read
    assert not missing, f"{model} does not read the landing table(s) {', '.join(sorted(missing))}"
    # generated from the one declaration, not from a list of its own
    assert "landing_sources()" in node["raw_code"], model


def test_the_landing_declaration_names_every_registered_source_with_its_landing_table(dbt_manifest):
    """Macro ``landing_sources`` declares each source as the run log names it (``extract_runs.source``,
    so ``source_health`` joins them) with the landing table the registry and the sources yml give it."""
    declaration = dbt_manifest["macros"]["macro.gans.landing_sources"]["macro_sql"]
    declared = re.findall(r"'source': '(\w+)', 'table': '(\w+)'", declaration)
    assert len(declared) == len(dict(declared))  # one entry per source
    assert dict(declared) == {s.name: s.landing_table for s in REGISTRY.values()}
    tagged = {
        t["meta"]["extract_source"]: t["name"]
        for t in dbt_manifest["sources"].values()
        if t["meta"].get("extract_source")
    }
    assert dict(declared) == tagged


def test_source_health_takes_its_sources_from_reconciliation(dbt_manifest):
    [node] = [
        n for n in dbt_manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == "source_health"
    ]
    assert "model.gans.landing_reconciliation" in node["depends_on"]["nodes"]


def test_every_landing_table_is_a_dbt_source_tagged_with_its_extract_source(dbt_manifest):
    """The dbt sources declare which registered source fills each landing table (``meta.extract_source``)."""
    tagged = {
        s["name"]: s["meta"].get("extract_source")
        for s in dbt_manifest["sources"].values()
        if s["source_name"] == "gans_raw" and s["meta"].get("extract_source")
    }
    assert tagged == {s.landing_table: s.name for s in REGISTRY.values()}
