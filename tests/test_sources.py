"""The source registry: every declaration complete and consistent with the migrations, settings and template."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cfnlint.decode import decode

from extract import db
from extract.response import Response
from extract.settings import Settings
from extract.sources import REGISTRY, SOURCES, ParseError, Source, apis, get

ROOT = Path(__file__).resolve().parent.parent


def _response(source: Source, key, status: int = 200) -> Response:
    return Response(source.name, key, "GET", "http://x", {}, datetime(2024, 1, 1, tzinfo=UTC), status, "", b"")


def test_registry_order_and_lookup():
    assert SOURCES == ("wikipedia", "open_meteo", "openweather", "aerodatabox_airports", "aerodatabox_flights", "gbfs")
    assert get("openweather") is REGISTRY["openweather"]
    with pytest.raises(ValueError, match="unknown source 'nope'; expected one of wikipedia"):
        get("nope")
    # the two AeroDataBox sources share one client (one rate budget)
    assert apis() == {
        "wikipedia": ["wikipedia"],
        "open_meteo": ["open_meteo"],
        "openweather": ["openweather"],
        "aerodatabox": ["aerodatabox_airports", "aerodatabox_flights"],
        "gbfs": ["gbfs"],
    }


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
