"""Retention as a property of a source declaration: the generic purge, the CLI command and the loader's
DELETE grants, all derived from :data:`extract.sources.REGISTRY` (against the test MariaDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from dbt_helpers import land
from test_pipeline import _rows

from extract.loader import LandingRow
from extract.retention import purge, purge_all, retained_sources
from extract.sources import REGISTRY
from gans.cli import cli


def _row(source, fetched_at: datetime, tag: str) -> LandingRow:
    """A landing row of ``source`` whose key fields all hold ``tag`` (the payload does not matter here)."""
    key = dict.fromkeys(source.key_fields, tag)
    return LandingRow(source.name, key, {}, fetched_at, 200, {"tag": tag})


def _delete_grants(settings) -> set[str]:
    """The raw tables the loader user may DELETE from, read from the server's grant tables."""
    sql = (
        "select table_name from information_schema.table_privileges"
        " where grantee like %s and privilege_type = 'DELETE' and table_schema = %s"
    )
    return {r[0] for r in _rows(settings, sql, (f"'{settings.loader_user}'@%", settings.raw_database))}


def test_a_retention_period_is_declared_by_at_least_one_source_and_read_from_settings(settings):
    declared = retained_sources()
    assert declared, "no source declares a retention period: extract.retention would do nothing"
    for source in REGISTRY.values():
        days = source.retention_days(settings)
        if source in declared:
            assert days == getattr(settings, source.retention_setting) and days >= 1
        else:
            assert days is None


def test_loader_may_delete_exactly_from_the_declared_sources_landing_tables(settings):
    assert _delete_grants(settings) == {s.landing_table for s in retained_sources()}


def test_purge_all_deletes_old_rows_of_every_declared_source_and_keeps_the_others(settings):
    now = datetime(2024, 5, 20, 12, tzinfo=UTC)
    rows = [
        _row(source, now - timedelta(days=age), tag=f"{source.name}-{age}")
        for source in REGISTRY.values()
        for age in (1, 400)
    ]
    assert land(settings, rows) == len(rows)
    results = purge_all(settings, days=30, now=now)
    assert [r.source for r in results] == [s.name for s in retained_sources()]
    assert all(r.deleted == 1 and r.days == 30 for r in results)
    for source in REGISTRY.values():
        kept = 1 if source in retained_sources() else 2
        assert _rows(settings, f"select count(*) from {source.landing_table}") == [(kept,)], source.name


def test_a_source_without_a_period_is_refused_before_any_deletion(settings):
    kept_forever = [s for s in REGISTRY.values() if s.retention_setting is None]
    if not kept_forever:
        pytest.skip("every registered source declares a retention period")
    with pytest.raises(ValueError, match="declares no retention period"):
        purge(settings, kept_forever[0])
    with pytest.raises(ValueError, match="no retention period declared by"):
        purge_all(settings, sources=[kept_forever[0].name])
    with pytest.raises(ValueError, match="unknown source"):
        purge_all(settings, sources=["no_such_source"])


def test_retention_command_reports_each_declared_source(settings):
    result = CliRunner().invoke(cli, ["retention", "--days", "3"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == [s.name for s in retained_sources()]
    assert all("3 days): 0 rows fetched before" in line for line in lines)
    bad = CliRunner().invoke(cli, ["retention", "--sources", "no_such_source"])
    assert bad.exit_code == 1 and "unknown source" in bad.output
