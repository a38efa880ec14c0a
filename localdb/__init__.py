"""The project-local MariaDB server for development and tests (never shipped to AWS).

:class:`LocalServer` owns a throw-away ``mariadbd`` under ``.local/mariadb``; ``python -m
localdb up|down|reset|status|shell|sql`` is what the Makefile's ``db-*`` and ``sql``
targets call. See :mod:`localdb.server`.
"""

from localdb.server import (
    CREDENTIALS_FILE,
    DEFAULT_BASEDIR,
    LocalServer,
    ServerNotInstalled,
    ServerStartError,
    ensure_credentials,
)

__all__ = [
    "CREDENTIALS_FILE",
    "DEFAULT_BASEDIR",
    "LocalServer",
    "ServerNotInstalled",
    "ServerStartError",
    "ensure_credentials",
]
