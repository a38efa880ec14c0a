"""Shared fixtures: a real, throw-away MariaDB server for the whole test session.

The server is the project's own :class:`localdb.LocalServer`, started in a
temporary folder on a free port and removed at the end. Its connection settings
and generated passwords are exported as the usual ``GANS_*`` environment variables,
so every :class:`extract.settings.Settings` and dbt profile in the tests points at it.

With ``GANS_TEST_EXTERNAL_DB=1`` the session uses an already running server instead
(CI's MySQL 8 service, ``.github/workflows/ci.yml``): ``GANS_DB_HOST``, ``GANS_DB_PORT``,
``GANS_ADMIN_USER`` and ``GANS_ADMIN_PASSWORD`` name it and its admin user; the tests
drop and recreate the project databases on it, so never point this at a server with data.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from extract import db
from extract.settings import Settings
from localdb import LocalServer, ensure_credentials

RECORDINGS = Path(__file__).resolve().parent.parent.parent / "shared" / "recordings"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ExternalServer:
    """A database server the session did not start (``GANS_TEST_EXTERNAL_DB=1``); left running."""

    host: str
    port: int

    def destroy(self) -> None:
        """Nothing to stop: the server belongs to whoever started it."""


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory) -> LocalServer | ExternalServer:
    """A started MariaDB server (or the external one), with GANS_* variables pointing at it for the session."""
    base = tmp_path_factory.mktemp("mariadb")
    # no GBFS system by default: live-run tests must not reach the real feeds (test_gbfs.py sets its own)
    (base / "gbfs_systems.csv").write_text("operator,system_id,discovery_url,city_name\n", encoding="utf-8")
    credentials = ensure_credentials(base / "credentials.env")  # root's password too
    if os.environ.get("GANS_TEST_EXTERNAL_DB") == "1":
        server = ExternalServer(os.environ["GANS_DB_HOST"], int(os.environ["GANS_DB_PORT"]))
        admin = {name: os.environ[name] for name in ("GANS_ADMIN_USER", "GANS_ADMIN_PASSWORD")}
    else:
        server = LocalServer(base / "server", port=_free_port(), root_password=credentials["GANS_ADMIN_PASSWORD"])
        server.up()
        admin = {"GANS_ADMIN_USER": "root", "GANS_ADMIN_PASSWORD": credentials["GANS_ADMIN_PASSWORD"]}
    env = {
        "GANS_DB_HOST": server.host,
        "GANS_DB_PORT": str(server.port),
        "GANS_DB_SOCKET": "",
        "GANS_DB_SSL_CA": "",
        "GANS_GBFS_SYSTEMS_FILE": str(base / "gbfs_systems.csv"),
        **credentials,
        **admin,
    }
    with pytest.MonkeyPatch.context() as patch:  # session-wide, restored before the server goes
        for key, value in env.items():
            patch.setenv(key, value)
        yield server
    server.destroy()


@pytest.fixture
def settings(mariadb) -> Settings:
    """Settings for the test server, its databases reset to empty, migrated, with users."""
    current = Settings()
    db.bootstrap(current, reset=True)
    return current


@pytest.fixture
def loader_conn(settings):
    """A connection as the loader user to the (empty, migrated) raw database."""
    conn = db.connect(settings, "loader")
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def recordings() -> Path:
    """The shared real recordings; tests using it skip when the folder is absent."""
    if not (RECORDINGS / "manifest.jsonl").exists():
        pytest.skip(
            f"real recordings not found at {RECORDINGS} (they live in ../shared beside the project;"
            " tests/test_demo.py builds every mart from demo/ without them)"
        )
    return RECORDINGS
