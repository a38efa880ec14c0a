"""TLS to the database, verified against a private CA, on every connection path.

A second throw-away MariaDB runs for this module with ``--require-secure-transport=ON``
and a server certificate signed by a CA generated here with ``openssl`` (as RDS's is
signed by Amazon's RDS CA, which is not in the system trust store). With
``GANS_DB_SSL_CA`` pointing at that CA:

- PyMySQL (:func:`extract.db.connect`: the loader, and :func:`extract.db.bootstrap` as
  the admin user) connects, and the session really is encrypted (``Ssl_cipher``);
- dbt (through dbt-mysql's mysql-connector, made to verify by
  :mod:`transform.dbt_runner`) passes ``dbt debug`` and builds a seed;
- another CA, which did not sign the server's certificate, is refused on both paths
  with an error naming certificate verification;
- without TLS at all the server refuses the connection (the server side is real).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pymysql
import pytest
from db_helpers import scalar

from extract import db
from extract.settings import Settings
from localdb import LocalServer, ensure_credentials
from tests.conftest import _free_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA (certificate, key) under ``folder``, named ``name``."""
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", str(key), "-out", str(cert), cwd=folder)  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A test CA, a server certificate it signed (SAN IP:127.0.0.1), and an unrelated CA."""
    folder = tmp_path_factory.mktemp("pki")
    ca, ca_key = make_ca(folder, "gans-test-ca")
    other_ca, _ = make_ca(folder, "some-other-ca")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr", cwd=folder)  # fmt: skip
    _openssl("x509", "-req", "-in", "server.csr", "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=folder)  # fmt: skip
    return {"ca": ca, "other_ca": other_ca, "cert": folder / "server.pem", "key": folder / "server.key"}


@pytest.fixture(scope="module")
def tls_settings(pki, tmp_path_factory):
    """Settings for a TLS-only MariaDB (bootstrapped through TLS); GANS_* point at it meanwhile."""
    base = tmp_path_factory.mktemp("mariadb-tls")
    server = LocalServer(
        base / "server",
        port=_free_port(),
        extra_args=(
            f"--ssl-ca={pki['ca']}",
            f"--ssl-cert={pki['cert']}",
            f"--ssl-key={pki['key']}",
            "--require-secure-transport=ON",
        ),
    )
    server.up()
    env = {
        "GANS_DB_HOST": server.host,
        "GANS_DB_PORT": str(server.port),
        "GANS_DB_SOCKET": "",
        "GANS_DB_SSL_CA": str(pki["ca"]),
        "GANS_ADMIN_USER": "gans_tls_admin",
        **ensure_credentials(base / "credentials.env"),
    }
    # root may log in over the socket only; the admin path under test is TCP + TLS, as on RDS
    admin_password = env["GANS_LOADER_PASSWORD"][::-1]
    env["GANS_ADMIN_PASSWORD"] = admin_password
    conn = server.admin_connection()
    with conn.cursor() as cur:
        cur.execute("create user gans_tls_admin@'%%' identified by %s require ssl", (admin_password,))
        cur.execute("grant all privileges on *.* to gans_tls_admin@'%' with grant option")
    conn.close()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            patch.delenv("GANS_DBT_TARGET", raising=False)
            yield Settings()
    finally:
        server.destroy()


def _cipher(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("show session status like 'Ssl_cipher'")
        return cur.fetchone()[1]


def test_bootstrap_and_loader_connect_over_verified_tls(tls_settings):
    db.bootstrap(tls_settings, reset=True)  # admin path: databases, users, migrations over TLS
    conn = db.connect(tls_settings, "loader")
    try:
        assert _cipher(conn), "the loader's session is not encrypted"
        with conn.cursor() as cur:
            cur.execute("select count(*) from schema_migrations")
            assert cur.fetchone()[0] >= 1
    finally:
        conn.close()


def test_the_server_refuses_connections_without_tls(tls_settings):
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(
            host=tls_settings.db_host,
            port=tls_settings.db_port,
            user=tls_settings.loader_user,
            password=tls_settings.loader_password.get_secret_value(),
            ssl_disabled=True,
        )
    assert refused.value.args[0] in (1045, 3159)  # denied: the users and the server require TLS


def test_a_wrong_ca_is_refused_with_a_clear_error(tls_settings, pki):
    wrong = tls_settings.model_copy(update={"db_ssl_ca": str(pki["other_ca"])})
    with pytest.raises(db.TlsVerificationError) as refused:
        db.connect(wrong, "loader")
    message = str(refused.value)
    assert "certificate verify failed" in message.lower()
    assert str(pki["other_ca"]) in message and f"{wrong.db_host}:{wrong.db_port}" in message


def test_dbt_connects_over_verified_tls_and_refuses_a_wrong_ca(tls_settings, pki, tmp_path):
    from transform.dbt_runner import run_dbt

    db.bootstrap(tls_settings, reset=True)
    paths = {"target_path": tmp_path / "target", "log_path": tmp_path / "logs", "profiles_dir": tmp_path / "prof"}
    debug = run_dbt(["debug"], tls_settings, **paths)
    assert debug.success, "dbt debug failed over TLS with the right CA"
    seeded = run_dbt(["seed", "--select", "countries"], tls_settings, **paths)
    assert seeded.success
    tables = scalar(
        tls_settings,
        "select count(*) from information_schema.tables where table_name = 'countries' and table_schema in (%s, %s)",
        (tls_settings.staging_database, tls_settings.marts_database),
        role="dbt",
        database=tls_settings.staging_database,
    )
    assert tables == 1

    wrong = tls_settings.model_copy(update={"db_ssl_ca": str(pki["other_ca"])})
    refused = run_dbt(["debug"], wrong, **paths)
    assert not refused.success
    log = (tmp_path / "logs" / "dbt.log").read_text(errors="replace").lower()
    assert "certificate verify failed" in log
