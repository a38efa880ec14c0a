"""The project-local MariaDB has the named time zones loaded, as RDS does (convert_tz in `make sql`)."""

from __future__ import annotations

from datetime import datetime

from db_helpers import query


def test_named_time_zones_are_loaded_once(mariadb, settings):
    ((winter, summer, before_switch, after_switch),) = query(
        settings,
        "select convert_tz('2026-01-15 07:00:00', 'UTC', 'Europe/Berlin'),"
        " convert_tz('2026-07-15 07:00:00', 'UTC', 'Europe/Berlin'),"
        " convert_tz('2026-03-29 00:30:00', 'UTC', 'Europe/Berlin'),"
        " convert_tz('2026-03-29 01:30:00', 'UTC', 'Europe/Berlin')",
    )
    # CET in winter, CEST in summer; the switch on 2026-03-29 at 01:00 UTC
    assert winter == datetime(2026, 1, 15, 8, 0)
    assert summer == datetime(2026, 7, 15, 9, 0)
    assert (before_switch, after_switch) == (datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 3, 30))
    assert mariadb.load_time_zones() is False  # already there: up() does not load them twice
