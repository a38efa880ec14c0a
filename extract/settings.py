"""Settings of the Gans data platform, read from the environment.

One set of variable names serves the laptop, CI and AWS Lambda. Values come, in
increasing priority, from:

1. the defaults below (a local server on 127.0.0.1:3307);
2. ``.local/credentials.env``: the passwords that ``make db-up`` generated for the
   project-local database (absent in CI jobs that set the variables themselves and
   in Lambda);
3. ``.env`` in the project root, if present (git-ignored; for API keys);
4. the process environment.

In Lambda, secrets are not in the environment: the handlers read them from AWS
Secrets Manager and pass them in as keyword overrides (field names).

Secrets are held as :class:`pydantic.SecretStr`, so they never show in ``repr()``,
logs or tracebacks.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The project root (the folder holding ``extract/``); ``GANS_HOME`` overrides it.
PROJECT_ROOT = Path(os.environ.get("GANS_HOME", Path(__file__).resolve().parent.parent))
#: Git-ignored folder for everything the project generates locally.
LOCAL_DIR = PROJECT_ROOT / ".local"


class MissingSettingError(RuntimeError):
    """A setting needed for the requested work is empty; the message names it."""


class Settings(BaseSettings):
    """All settings; each field is read from the environment variable of its alias."""

    model_config = SettingsConfigDict(
        env_file=(LOCAL_DIR / "credentials.env", PROJECT_ROOT / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # Database server ----------------------------------------------------------------
    db_host: str = Field("127.0.0.1", alias="GANS_DB_HOST")
    db_port: int = Field(3307, alias="GANS_DB_PORT")
    db_socket: str = Field("", alias="GANS_DB_SOCKET", description="unix socket; when set, used instead of host/port")
    db_ssl_ca: str = Field("", alias="GANS_DB_SSL_CA", description="CA bundle path; when set, TLS is required (RDS)")
    raw_database: str = Field("gans_raw", alias="GANS_RAW_DATABASE")
    staging_database: str = Field("gans_staging", alias="GANS_STAGING_DATABASE")
    marts_database: str = Field("gans", alias="GANS_MARTS_DATABASE")
    test_failures_database: str = Field(
        "gans_test_failures",
        alias="GANS_TEST_FAILURES_DATABASE",
        description="where dbt stores the rows each failing test found (store_failures)",
    )

    loader_user: str = Field("gans_loader", alias="GANS_LOADER_USER")
    loader_password: SecretStr = Field(SecretStr(""), alias="GANS_LOADER_PASSWORD")
    dbt_user: str = Field("gans_dbt", alias="GANS_DBT_USER")
    dbt_password: SecretStr = Field(SecretStr(""), alias="GANS_DBT_PASSWORD")
    analyst_user: str = Field("gans_analyst", alias="GANS_ANALYST_USER")
    analyst_password: SecretStr = Field(SecretStr(""), alias="GANS_ANALYST_PASSWORD")
    admin_user: str = Field("root", alias="GANS_ADMIN_USER", description="runs migrations")
    admin_password: SecretStr = Field(SecretStr(""), alias="GANS_ADMIN_PASSWORD")
    dbt_log_level_file: str = Field(
        "",
        alias="DBT_LOG_LEVEL_FILE",
        description="dbt's file log level (debug, info, warn, error, none); empty: the caller's default",
    )

    # APIs ---------------------------------------------------------------------------
    wikipedia_base_url: str = Field("https://en.wikipedia.org", alias="WIKIPEDIA_BASE_URL")
    wikipedia_rate_per_minute: int = Field(120, alias="WIKIPEDIA_RATE_PER_MINUTE")
    open_meteo_base_url: str = Field(
        "https://api.open-meteo.com",
        alias="OPEN_METEO_BASE_URL",
        description="free API, non-commercial use only; used when OPEN_METEO_API_KEY is empty",
    )
    open_meteo_api_key: SecretStr = Field(
        SecretStr(""),
        alias="OPEN_METEO_API_KEY",
        description="optional: a commercial subscription's key; then OPEN_METEO_CUSTOMER_BASE_URL is used",
        json_schema_extra={"where": "https://open-meteo.com/en/pricing"},
    )
    open_meteo_customer_base_url: str = Field(
        "https://customer-api.open-meteo.com",
        alias="OPEN_METEO_CUSTOMER_BASE_URL",
        description="API root for subscribers (with OPEN_METEO_API_KEY)",
    )
    open_meteo_models: str = Field(
        "", alias="OPEN_METEO_MODELS", description="comma-separated weather models; empty: Open-Meteo's best_match"
    )
    open_meteo_rate_per_minute: int = Field(
        60, alias="OPEN_METEO_RATE_PER_MINUTE", description="the free API allows 600 calls a minute"
    )
    openweather_base_url: str = Field("https://api.openweathermap.org", alias="OPENWEATHER_BASE_URL")
    openweather_api_key: SecretStr = Field(
        SecretStr(""),
        alias="OPENWEATHER_API_KEY",
        json_schema_extra={"where": "https://home.openweathermap.org/api_keys (free plan)"},
    )
    openweather_units: str = Field("metric", alias="OPENWEATHER_UNITS")
    openweather_rate_per_minute: int = Field(60, alias="OPENWEATHER_RATE_PER_MINUTE")
    aerodatabox_api_key: SecretStr = Field(
        SecretStr(""),
        alias="AERODATABOX_API_KEY",
        json_schema_extra={"where": "https://rapidapi.com/aedbx-aedbx/api/aerodatabox (RapidAPI, free tier)"},
    )
    aerodatabox_host: str = Field("aerodatabox.p.rapidapi.com", alias="AERODATABOX_HOST")
    aerodatabox_base_url: str = Field(
        "", alias="AERODATABOX_BASE_URL", description="API root; empty: https:// + AERODATABOX_HOST"
    )
    aerodatabox_rate_per_minute: int = Field(
        30, alias="AERODATABOX_RATE_PER_MINUTE", description="depends on the RapidAPI plan"
    )
    wikipedia_user_agent: str = Field(
        "GansDataPlatform/0.1 (https://github.com/gans-mobility/data-platform; data@gans.example) requests",
        alias="WIKIPEDIA_USER_AGENT",
    )
    gbfs_base_url: str = Field(
        "", alias="GBFS_BASE_URL", description="empty: the systems' own URLs; else replaces their scheme and host"
    )
    gbfs_rate_per_minute: int = Field(60, alias="GBFS_RATE_PER_MINUTE")
    gbfs_catalogue_url: str = Field(
        "https://raw.githubusercontent.com/MobilityData/gbfs/master/systems.csv",
        alias="GANS_GBFS_CATALOGUE_URL",
        description="MobilityData's systems.csv (http(s) URL, file:// URL or path) for `gans gbfs-systems refresh`",
    )
    http_timeout_s: float = Field(30.0, alias="GANS_HTTP_TIMEOUT_S")
    http_max_retries: int = Field(5, alias="GANS_HTTP_MAX_RETRIES")
    http_connect_timeout_s: float = Field(
        10.0, alias="GANS_HTTP_CONNECT_TIMEOUT_S", gt=0, description="at most GANS_HTTP_TIMEOUT_S"
    )
    http_host_failures: int = Field(
        3,
        alias="GANS_HTTP_HOST_FAILURES",
        ge=0,
        description="consecutive connection failures after which a host's other requests are not sent; 0: never",
    )

    # Extraction ----------------------------------------------------------------------
    cities_file: Path = Field(PROJECT_ROOT / "dbt_project" / "seeds" / "tracked_cities.csv", alias="GANS_CITIES_FILE")
    airport_radius_km: int = Field(50, alias="GANS_AIRPORT_RADIUS_KM")
    airport_limit: int = Field(10, alias="GANS_AIRPORT_LIMIT")
    gbfs_systems_file: Path = Field(
        PROJECT_ROOT / "dbt_project" / "seeds" / "gbfs_systems.csv", alias="GANS_GBFS_SYSTEMS_FILE"
    )
    gbfs_retention_days: int = Field(
        14, alias="GANS_GBFS_RETENTION_DAYS", ge=1, description="raw GBFS snapshots older than this are deleted"
    )

    def missing(self, *names: str) -> list[str]:
        """The environment variable names of the settings among ``names`` (field names) that are empty, in order."""
        out = []
        for name in names:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value in ("", None):
                out.append(type(self).model_fields[name].alias)
        return out

    @classmethod
    def where_to_get(cls, name: str) -> str | None:
        """Where to obtain setting ``name`` (field name or environment variable), e.g. an API key's sign-up page."""
        for field_name, info in cls.model_fields.items():
            if name in (field_name, info.alias):
                extra = info.json_schema_extra
                return extra.get("where") if isinstance(extra, dict) else None
        return None

    def require(self, *names: str) -> None:
        """Raise :class:`MissingSettingError` naming the first empty setting of ``names``.

        ``names`` are field names (``"openweather_api_key"``); the error names the
        environment variable to set, and where to get it when known.
        """
        for alias in self.missing(*names):
            where = self.where_to_get(alias)
            hint = f" (get it at {where})" if where else ""
            raise MissingSettingError(f"setting {alias} is empty: set it in the environment or in .env{hint}")
