"""A throw-away MySQL server owned by the project: the production engine (RDS MySQL 8.4) in the tests.

:class:`MySQLServer` has the interface of the MariaDB :class:`localdb.server.LocalServer`
(``up``/``down``/``destroy``, ``host``/``port``, ``root_password``, ``admin_connection``,
``settings``) and runs the MySQL binaries that ``scripts/install-mysql.sh`` unpacks into
``.local/mysql-dist/root`` (Debian sid's ``mysql-server-core``/``mysql-client-core``, MySQL
9.7; no MySQL 8.x package is installable on this kind of machine). Those binaries are built
against sid's newer glibc, so every one of them runs through sid's own dynamic loader
(``<root>/usr/lib/<triplet>/ld-linux-*.so.*``) with ``--library-path`` naming the unpacked
library folders; nothing is installed over the system's packages. A folder holding a plain
MySQL installation (``usr/sbin/mysqld`` without its own loader) runs directly.

The server keeps its datadir, socket, pid file, error log and temporary files under one
folder, listens on 127.0.0.1 and on ``<folder>/mysql.sock``, and is configured as the
project's RDS parameter group: utf8mb4 with ``utf8mb4_unicode_ci``, UTC (``+00:00``),
``local_infile`` on, MySQL's default ``sql_mode`` (``ONLY_FULL_GROUP_BY``, strict). The
named time zones are loaded from ``/usr/share/zoneinfo`` with the unpacked
``mysql_tzinfo_to_sql`` on ``up`` (once per datadir), so ``convert_tz(.., 'UTC',
'Europe/Berlin')`` works as on RDS. ``root`` authenticates with MySQL's default
``caching_sha2_password``: PyMySQL needs the ``cryptography`` package for it over TCP
without TLS (pinned in ``requirements.lock``).

Errors: :class:`localdb.server.ServerNotInstalled` when the unpacked binaries are missing
(run ``make setup`` or ``scripts/install-mysql.sh``); :class:`localdb.server.ServerStartError`
with the tail of the error log when the server does not come up within the timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql

from extract.settings import LOCAL_DIR
from localdb.server import ZONEINFO, LocalServer, ServerNotInstalled, ServerStartError

#: where ``scripts/install-mysql.sh`` unpacks the packages (``GANS_MYSQL_DIST`` overrides it)
DEFAULT_DIST = Path(os.environ.get("GANS_MYSQL_DIST", LOCAL_DIR / "mysql-dist"))


@dataclass(frozen=True)
class MySQLBinaries:
    """The unpacked MySQL programs under ``root`` and how to run them (through sid's loader when present)."""

    root: Path
    loader: Path | None
    library_path: str

    @classmethod
    def find(cls, dist: Path = DEFAULT_DIST) -> MySQLBinaries:
        """The binaries in ``dist/root``; raises :class:`ServerNotInstalled` naming the fix when absent."""
        root = Path(dist).resolve() / "root"
        if not (root / "usr" / "sbin" / "mysqld").is_file():
            raise ServerNotInstalled(
                f"no MySQL server unpacked at {root} (usr/sbin/mysqld): run `make setup` or scripts/install-mysql.sh"
            )
        loaders = sorted(root.glob("usr/lib/*-linux-gnu*/ld-linux*.so.*")) + sorted(root.glob("lib*/ld-linux*.so.*"))
        libdirs = [p for p in (*root.glob("usr/lib/*-linux-gnu*"), *root.glob("lib/*-linux-gnu*")) if p.is_dir()]
        libdirs += [p / "mysql" / "private" for p in libdirs if (p / "mysql" / "private").is_dir()]
        return cls(root, loaders[0] if loaders else None, os.pathsep.join(str(p) for p in libdirs))

    def argv(self, program: str, *args: str) -> list[str]:
        """The command line running ``program`` (``sbin/mysqld``, ``bin/mysql``, ...) with ``args``."""
        path = str(self.root / "usr" / program)
        if self.loader is None:
            return [path, *args]
        return [str(self.loader), "--library-path", self.library_path, path, *args]

    def version(self) -> str:
        """``mysqld --version``'s line, e.g. ``... Ver 9.7.4-2 for Linux on x86_64 ((Debian))``."""
        return subprocess.run(self.argv("sbin/mysqld", "--version"), check=True, capture_output=True, text=True).stdout


class MySQLServer(LocalServer):
    """A MySQL server process with all its files under ``basedir``, run from the unpacked binaries."""

    engine = "MySQL"

    def __init__(
        self,
        basedir: Path = LOCAL_DIR / "mysql",
        port: int = 3308,
        host: str = "127.0.0.1",
        root_password: str = "",
        extra_args: tuple[str, ...] = (),
        dist: Path = DEFAULT_DIST,
    ):
        """As :class:`LocalServer`; ``dist`` is the folder ``scripts/install-mysql.sh`` unpacked into."""
        super().__init__(basedir, port=port, host=host, root_password=root_password, extra_args=extra_args)
        self.dist = Path(dist)
        self.filesdir = self.basedir / "files"

    def _common_args(self, binaries: MySQLBinaries) -> list[str]:
        share = binaries.root / "usr" / "share" / "mysql"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        return [
            "--no-defaults",  # must come first: no /etc/mysql/my.cnf of the system
            f"--basedir={binaries.root / 'usr'}",
            f"--datadir={self.datadir}",
            f"--lc-messages-dir={share}",
            f"--character-sets-dir={share / 'charsets'}",
            f"--plugin-dir={binaries.root / 'usr' / 'lib' / 'mysql' / 'plugin'}",
            f"--log-error={self.errlog}",
            # 100 MB of redo log by default: a test server needs little, and its datadir stays small
            "--innodb-redo-log-capacity=16M",
            *as_root,
        ]

    def up(self, timeout_s: float = 120.0) -> bool:
        """Start the server; a new datadir is first initialised (see :meth:`_initialise`).

        Returns False when it was already running, True when started. A new datadir gets
        ``root@localhost`` (socket) and ``root@127.0.0.1`` (TCP: ``--skip-name-resolve``
        never maps 127.0.0.1 to localhost) with :attr:`root_password`, and the time zones.
        """
        if self.is_running():
            self._restrict()
            self._ensure_tcp_root()
            self.load_time_zones()
            return False
        binaries = MySQLBinaries.find(self.dist)
        self.basedir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.basedir, 0o700)
        self.tmpdir.mkdir(exist_ok=True)
        self.filesdir.mkdir(exist_ok=True)
        if not (self.datadir / "mysql.ibd").exists():
            if self.datadir.exists():  # a half-initialised datadir from an interrupted run
                shutil.rmtree(self.datadir)
            self._initialise(binaries)
        if self.socket.exists():
            self.socket.unlink()
        args = [
            *self._common_args(binaries),
            f"--socket={self.socket}", f"--port={self.port}", f"--bind-address={self.host}",
            f"--pid-file={self.pidfile}", f"--tmpdir={self.tmpdir}", f"--secure-file-priv={self.filesdir}",
            "--mysqlx=OFF",  # the X protocol would take a second port (33060) shared by every server
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            "--skip-name-resolve", "--default-time-zone=+00:00", "--max-allowed-packet=64M",
            "--innodb-buffer-pool-size=256M", "--local-infile=1",
            # a throw-away server: no binary log to keep (RDS has one; nothing here reads it)
            "--disable-log-bin",
            *self.extra_args,
        ]  # fmt: skip
        with open(os.devnull, "wb") as devnull:
            subprocess.Popen(
                binaries.argv("sbin/mysqld", *args), stdout=devnull, stderr=devnull, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.is_running():
                self._restrict()
                self._ensure_tcp_root()
                self.load_time_zones()
                return True
            time.sleep(0.2)
        raise ServerStartError(f"MySQL did not start within {timeout_s:.0f}s; {self.errlog}:\n{self._log_tail()}")

    def _initialise(self, binaries: MySQLBinaries) -> None:
        """A new datadir: a copy of the unpacked binaries' pristine one, made by ``--initialize-insecure`` once.

        Initialising takes 10-15 s; the copy (about 100 MB) well under one. The pristine datadir
        (``<root>/.datadir-template``: replaced with the binaries) is taken before any start and
        without its server UUID (``auto.cnf``) and keys (``*.pem``); root has no password yet.
        Each copy makes its own UUID and keys at first start.
        """
        template = binaries.root / ".datadir-template"
        if not (template / "mysql.ibd").exists():
            scratch = Path(f"{template}.{os.getpid()}")
            shutil.rmtree(scratch, ignore_errors=True)
            args = self._common_args(binaries)
            args = [a if not a.startswith("--datadir=") else f"--datadir={scratch}" for a in args]
            init = subprocess.run(
                binaries.argv("sbin/mysqld", *args, "--initialize-insecure"),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            if init.returncode != 0:
                shutil.rmtree(scratch, ignore_errors=True)
                detail = f"{init.stderr[-2000:]}\n{self._log_tail()}"
                raise ServerStartError(f"mysqld --initialize-insecure failed:\n{detail}")
            # the server UUID and the TLS and RSA keys: each server makes its own at first start
            for own in [scratch / "auto.cnf", *scratch.glob("*.pem")]:
                own.unlink()
            try:  # another session may have made it meanwhile: then keep that one
                scratch.rename(template)
            except OSError:
                shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(template, self.datadir)

    def _log_tail(self) -> str:
        return self.errlog.read_text(errors="replace")[-2000:] if self.errlog.exists() else ""

    def _ensure_tcp_root(self) -> None:
        """``root@127.0.0.1`` with :attr:`root_password` and every privilege: the project's tools connect over TCP."""
        with self.admin_connection() as conn, conn.cursor() as cur:
            cur.execute("create user if not exists 'root'@'127.0.0.1' identified by %s", (self.root_password,))
            cur.execute("grant all privileges on *.* to 'root'@'127.0.0.1' with grant option")

    def load_time_zones(self, zoneinfo: Path = ZONEINFO) -> bool:
        """Load the named time zones from ``zoneinfo`` with the unpacked ``mysql_tzinfo_to_sql``, unless loaded.

        Returns True when it loaded them, False when they were there already or when the tz
        database (Debian package ``tzdata``) is missing (a note on stderr).
        """
        with self.admin_connection() as conn, conn.cursor() as cur:
            cur.execute("select count(*) from mysql.time_zone_name")
            if cur.fetchone()[0] > 0:
                return False
        if not (zoneinfo / "Europe" / "Berlin").exists():
            note = f"no tz database at {zoneinfo} (apt-get install tzdata); convert_tz with named zones returns NULL"
            print(f"note: {note}", file=sys.stderr)
            return False
        binaries = MySQLBinaries.find(self.dist)
        # warnings about zone files it cannot read (leap seconds, iso3166.tab) go to stderr
        tz_sql = subprocess.run(binaries.argv("bin/mysql_tzinfo_to_sql", str(zoneinfo)), check=True,
                                capture_output=True).stdout  # fmt: skip
        subprocess.run(
            binaries.argv("bin/mysql", "--no-defaults", f"--socket={self.socket}", "--user=root", "mysql"),
            input=tz_sql, check=True, capture_output=True,
            env=dict(os.environ, MYSQL_PWD=self.root_password),  # never on the command line (ps shows it)
        )  # fmt: skip
        return True


def server_version(conn: pymysql.Connection) -> str:
    """``select version()`` on ``conn``: ``9.7.4-2`` (MySQL), ``10.11.6-MariaDB-0+deb12u1`` (MariaDB)."""
    with conn.cursor() as cur:
        cur.execute("select version()")
        return cur.fetchone()[0]
