"""Migration 002: the Open-Meteo landing table (keyless weather source)."""

from extract.migrations.landing import landing_table

SQL = (
    "-- Open-Meteo hourly forecasts (keyless weather source). Runs on MariaDB 10.11 and MySQL 8. Datetimes are UTC.\n"
    "\n"
    + landing_table(
        "open_meteo_forecasts",
        "Open-Meteo /v1/forecast hourly response for a city, whole",
        request_params_comment="query parameters as sent (hourly variables, units, models), never an API key",
    )
)
