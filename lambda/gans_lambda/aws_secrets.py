"""Secrets Manager reads for the Lambda functions, cached per container, mapped to Settings.

Which secrets a function reads is named by its environment (set by ``template.yaml``):

- ``GANS_DB_SECRET_<ROLE>`` (``ROLE`` one of ``LOADER``, ``DBT``, ``ANALYST``,
  ``ADMIN``): ARN or name of a secret whose value is JSON with ``username`` and
  ``password`` (the shape of Secrets Manager's generated secrets and of RDS-managed
  master secrets). It becomes the ``<role>_user`` / ``<role>_password`` settings.
- ``GANS_API_KEYS_SECRET``: ARN or name of a secret whose value is a JSON object of
  API keys, keyed by their environment variable names (``OPENWEATHER_API_KEY``,
  ``AERODATABOX_API_KEY``) or by :class:`extract.settings.Settings` field names.
  Empty values are ignored, so a key that is not configured stays a clear
  ``MissingSettingError`` when a source needs it.

Each secret is fetched once per container and kept for ``GANS_SECRETS_TTL_S``
seconds (default 900), so a rotated password is picked up by warm containers
within that time; :func:`clear_cache` drops the cache (tests, or after an
authentication failure). Secret values are never logged: errors name the secret,
never its content.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import boto3
from pydantic import SecretStr

DB_ROLES: tuple[str, ...] = ("loader", "dbt", "analyst", "admin")
API_KEYS_ENV = "GANS_API_KEYS_SECRET"
TTL_ENV = "GANS_SECRETS_TTL_S"

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()
_client = None


class SecretFormatError(RuntimeError):
    """A secret's value is not the JSON object expected; the message names the secret only."""


def _secrets_client():
    global _client
    if _client is None:
        _client = boto3.client("secretsmanager")
    return _client


def clear_cache() -> None:
    """Forget every cached secret value and the boto3 client (the next read fetches again)."""
    global _client
    with _lock:
        _cache.clear()
        _client = None


def get_secret_json(secret_id: str) -> dict[str, Any]:
    """The JSON object stored in secret ``secret_id`` (ARN or name), cached per container.

    Raises :class:`SecretFormatError` when the value is not a JSON object, and
    botocore's ``ClientError`` when the secret cannot be read (missing, no permission).
    """
    ttl = float(os.environ.get(TTL_ENV, "900"))
    with _lock:
        hit = _cache.get(secret_id)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
    response = _secrets_client().get_secret_value(SecretId=secret_id)
    try:
        value = json.loads(response["SecretString"])
    except (KeyError, TypeError, ValueError):
        raise SecretFormatError(f"secret {secret_id} does not hold a JSON string") from None
    if not isinstance(value, dict):
        raise SecretFormatError(f"secret {secret_id} does not hold a JSON object")
    with _lock:
        _cache[secret_id] = (time.monotonic(), value)
    return value


def _api_key_field(name: str) -> str | None:
    from extract.settings import Settings

    fields = Settings.model_fields
    if name in fields:
        return name
    for field_name, info in fields.items():
        if info.alias == name:
            return field_name
    return None


def settings_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Keyword overrides for :class:`extract.settings.Settings` from the secrets the environment names.

    Returns e.g. ``{"loader_user": "gans_loader", "loader_password": SecretStr(...),
    "openweather_api_key": SecretStr(...)}``; passwords and keys are ``SecretStr``.
    Raises :class:`SecretFormatError` when a DB secret lacks ``password``, or an API
    keys secret holds a key that is not a setting.
    """
    env = os.environ if environ is None else environ
    overrides: dict[str, Any] = {}
    for role in DB_ROLES:
        secret_id = env.get(f"GANS_DB_SECRET_{role.upper()}")
        if not secret_id:
            continue
        value = get_secret_json(secret_id)
        if not isinstance(value.get("password"), str):
            raise SecretFormatError(f"secret {secret_id} has no 'password'")
        overrides[f"{role}_password"] = SecretStr(str(value["password"]))
        if value.get("username"):
            overrides[f"{role}_user"] = str(value["username"])
    secret_id = env.get(API_KEYS_ENV)
    if secret_id:
        for name, key in get_secret_json(secret_id).items():
            field = _api_key_field(name)
            if field is None or not field.endswith("_api_key"):
                raise SecretFormatError(f"secret {secret_id} holds {name!r}, which is not an API key setting")
            if key:
                overrides[field] = SecretStr(str(key))
    return overrides


def load_settings(environ: dict[str, str] | None = None, **extra: Any):
    """:class:`extract.settings.Settings` from the environment plus the secrets it names (and ``extra``)."""
    from extract.settings import Settings

    return Settings(**{**settings_overrides(environ), **extra})
