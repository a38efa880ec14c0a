"""`make bench`: measure the pipeline against its references in one run, on a throw-away MariaDB.

Usage::

    python -m bench.run [--quick] [--only load,e2e,incremental,lambda,fanout,gbfs] [--recordings DIR]

Starts its own MariaDB (:class:`localdb.LocalServer`) in ``bench/work`` on a free
port, builds workloads from the real recordings (:mod:`bench.workloads`), and measures:

1. ``load``: landing throughput (rows/s, MB/s of JSON payload) of
   :class:`extract.loader.Loader` vs ``LOAD DATA LOCAL INFILE`` of the same rows vs
   pandas ``json_normalize`` + ``DataFrame.to_sql`` (SQLAlchemy + PyMySQL);
2. ``e2e``: replay of the whole shared corpus + ``dbt build``, each a fresh process,
   with dbt's fixed start-up (a ``dbt build`` that selects nothing) split off;
3. ``incremental``: ``dbt build`` after one new cycle on top of 1, 30 and 365 days of history
   (the median of ``inc_builds`` builds, each after its own new cycle);
4. peak RSS (MB) of the replay process and of the dbt build process (their own ``VmHWM``);
5. ``lambda``: the transform handler's first (cold imports done) vs warm invoke;
6. ``fanout``: planned batches and extraction wall time per schedule (:mod:`bench.fanout`);
7. ``gbfs``: landing throughput of 15-minute GBFS snapshots, the first full ``dbt run`` of a week of
   them for 20 systems (the catalogue's volume, scaled) and the build after one new full-size
   snapshot per system (:mod:`bench.gbfs`).

Writes ``bench/results/latest.json`` and ``bench/results/latest.md`` and prints the
table. A measurement that cannot be made (module missing, failure) is ``null`` with
its reason under ``not_measured``; nothing is estimated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from bench import workloads as wl
from extract import db
from extract.loader import Loader
from extract.runlog import RunLog
from extract.settings import PROJECT_ROOT, Settings
from extract.sources import REGISTRY
from localdb import LocalServer, ensure_credentials

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
MB = 1024 * 1024

#: workload sizes; "quick" must finish in under two minutes on 2 cores
PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "load_cities": 100,
        "load_cycles": 8,  # one day of 3-hourly forecasts for 100 cities
        "load_boards": 100,  # one 12-hour arrivals+departures board per city airport
        "inc_cities": 100,
        "inc_days": (1, 30, 365),
        "inc_slots": 8,  # history forecasts: one fetch a day, first 24 h of slots kept
        "inc_max_flights": 10,  # history boards: first 10 movements per direction
        "inc_builds": 3,  # timed builds per history size (one new cycle each); the median is reported
    },
    "quick": {
        "load_cities": 16,
        "load_cycles": 2,
        "load_boards": 4,
        "inc_cities": 10,
        "inc_days": (1, 7),
        "inc_slots": 8,
        "inc_max_flights": 5,
        "inc_builds": 1,
    },
}


class StepTimeout(RuntimeError):
    """A child step ran past its time box and was stopped; its item is reported as not measured."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bench:
    """One benchmark run: the server, the settings pointing at it, and the results so far."""

    def __init__(self, profile: str, recordings: Path, work: Path):
        self.profile_name = profile
        self.p = dict(PROFILES[profile])
        self.build_timeout_s = 900.0
        self.recordings = recordings
        self.work = work
        self.results: dict[str, Any] = {
            "profile": profile,
            "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
            "load_rows_per_s": None,
            "load_data_infile_rows_per_s": None,
            "to_sql_rows_per_s": None,
            "e2e_replay_s": None,
            "dbt_startup_s": None,
            "incremental_build_s": {str(d): None for d in self.p["inc_days"]},
            "peak_rss_mb": {"extract": None, "dbt": None},
            "lambda_transform_first_s": None,
            "lambda_transform_warm_s": None,
            "not_measured": {},
        }
        self.server: LocalServer | None = None
        self.env: dict[str, str] = {}
        self._templates: wl.Templates | None = None

    # -- infrastructure -----------------------------------------------------------------
    @property
    def templates(self) -> wl.Templates:
        if self._templates is None:
            self._templates = wl.Templates(self.recordings)
        return self._templates

    def start_server(self) -> None:
        """Start a throw-away MariaDB in the work folder and point GANS_* at it."""
        base = self.work / "mariadb"
        shutil.rmtree(base, ignore_errors=True)
        credentials = ensure_credentials(base / "credentials.env")
        self.server = LocalServer(base / "server", port=free_port(), root_password=credentials["GANS_ADMIN_PASSWORD"])
        # a private tmpdir (mariadbd takes TMPDIR's): others' clean-ups of /tmp must not hit its temp tables
        tmpdir = base / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        saved_tmp = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = str(tmpdir)
        try:
            self.server.up()
        finally:
            if saved_tmp is None:
                os.environ.pop("TMPDIR")
            else:
                os.environ["TMPDIR"] = saved_tmp
        self.env = {
            "GANS_DB_HOST": self.server.host,
            "GANS_DB_PORT": str(self.server.port),
            "GANS_DB_SOCKET": "",
            "GANS_DB_SSL_CA": "",
            "GANS_ADMIN_USER": "root",
            "GANS_BENCH_WORK": str(self.work),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            **credentials,
        }
        self._saved_env = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        self.reset()

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.destroy()
            self.server = None
        for key, value in getattr(self, "_saved_env", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def settings(self) -> Settings:
        return Settings()

    def reset(self) -> None:
        """Databases dropped and recreated empty, migrated, users granted."""
        db.bootstrap(self.settings(), reset=True)

    def not_measured(self, name: str, reason: str) -> None:
        self.results["not_measured"][name] = reason
        print(f"  not measured: {name}: {reason}", flush=True)

    def child(self, *args: str, check: bool = True, timeout_s: float = 1800) -> tuple[float, float, dict]:
        """Run ``python -m bench.steps ARGS`` in a fresh process.

        Returns (wall seconds, peak RSS in MB, the step's JSON result). Raises
        RuntimeError with the output tail when ``check`` and the step failed.
        """
        out_path = self.work / "child.out"
        with open(out_path, "wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.steps", *args],
                cwd=PROJECT_ROOT,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            deadline = t0 + timeout_s
            try:
                pid, status, usage = self._wait(proc, args, deadline)
            except BaseException:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                raise
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
        return self._child_result(out_path, proc, args, check, wall, usage)

    @staticmethod
    def _kill_dbt_sessions() -> None:
        """End the stopped dbt's statements still running on the server (they hold metadata locks)."""
        settings = Settings()
        conn = db.connect(settings, "admin", database="", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("select id from information_schema.processlist where user = %s", (settings.dbt_user,))
                for (session,) in cur.fetchall():
                    try:
                        cur.execute(f"kill {int(session)}")
                    except Exception:  # the session may have ended meanwhile
                        pass
        finally:
            conn.close()

    @staticmethod
    def _wait(proc: subprocess.Popen, args: tuple, deadline: float):
        """Reap ``proc`` with its resource usage; stop it and raise :class:`StepTimeout` past ``deadline``."""
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                return pid, status, usage
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                Bench._kill_dbt_sessions()
                raise StepTimeout(f"step {' '.join(args)} did not finish in its time box (stopped)")
            time.sleep(0.05)

    @staticmethod
    def _child_result(out_path: Path, proc, args, check: bool, wall: float, usage) -> tuple[float, float, dict]:
        text = out_path.read_text(errors="replace")
        result: dict = {}
        for line in reversed(text.splitlines()):
            if line.startswith("{"):
                try:
                    result = json.loads(line)
                    break
                except ValueError:
                    continue
        if check and (proc.returncode != 0 or not result):
            raise RuntimeError(f"step {' '.join(args)} failed (exit {proc.returncode}):\n{text[-3000:]}")
        result["returncode"] = proc.returncode
        # the step's own VmHWM; ru_maxrss of a child includes the parent's RSS at fork on Linux
        rss = result.get("peak_rss_mb") or usage.ru_maxrss / 1024
        return wall, rss, result

    # -- 1. landing throughput ----------------------------------------------------------
    def bench_load(self) -> None:
        """Loader vs LOAD DATA LOCAL INFILE vs json_normalize + to_sql, on the same responses."""
        p = self.p
        t = self.templates
        cities = t.cities(p["load_cities"])
        responses = list(t.operation(cities, [400], cycles_per_day=p["load_cycles"], flight_airports=p["load_boards"]))
        n = len(responses)
        payload_mb = sum(r.payload_bytes() for r in responses) / MB
        print(f"[1/5] landing load: {n} responses, {payload_mb:.1f} MB of JSON payload", flush=True)
        out: dict[str, Any] = {"responses": n, "payload_mb": round(payload_mb, 2)}

        # the project's loader: LandingRow construction (hashing) + land(), one transaction per source
        self.reset()
        settings = self.settings()
        conn = db.connect(settings, "loader")
        try:
            runs = {s: RunLog(conn).start(s, "bench") for s in REGISTRY}
            conn.commit()
            t0 = time.perf_counter()
            by_source: dict[str, list] = {}
            for r in responses:
                by_source.setdefault(r.source, []).append(r.landing_row())
            t1 = time.perf_counter()
            landed = 0
            for source, rows in by_source.items():
                landed += Loader(conn).land(runs[source].id, rows).landed
            loader_s = time.perf_counter() - t0
            out["loader_row_build_s"] = t1 - t0  # JSON serialisation + SHA-256 in LandingRow
            out["loader_land_s"] = loader_s - out["loader_row_build_s"]  # escaping, INSERTs, commit
        finally:
            conn.close()
        if landed != n:
            raise RuntimeError(f"loader landed {landed} of {n} rows")
        out["loader_s"] = loader_s

        # LOAD DATA LOCAL INFILE of the same rows (file written beforehand: the server's limit)
        self.reset()
        conn = db.connect(settings, "loader", local_infile=True)
        try:
            runs = {s: RunLog(conn).start(s, "bench") for s in REGISTRY}
            conn.commit()
            files = []
            t0 = time.perf_counter()
            for source, rows in by_source.items():
                path = self.work / f"load_{source}.tsv"
                wl.write_tsv(path, rows, runs[source].id)
                files.append((path, REGISTRY[source].landing_table))
            out["load_data_file_prep_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            loaded = 0
            with conn.cursor() as cur:
                for path, table in files:
                    loaded += cur.execute(wl.load_data_sql(path, table))
            conn.commit()
            infile_s = time.perf_counter() - t0
        finally:
            conn.close()
        if loaded != n:
            raise RuntimeError(f"LOAD DATA stored {loaded} of {n} rows")
        out["load_data_infile_s"] = infile_s

        # the usual way: json_normalize each response, DataFrame.to_sql (SQLAlchemy + PyMySQL)
        out["to_sql_s"], out["to_sql_flat_rows"] = self._to_sql(responses)

        res = self.results
        res["load_rows_per_s"] = round(n / loader_s, 1)
        res["load_mb_per_s"] = round(payload_mb / loader_s, 2)
        res["load_data_infile_rows_per_s"] = round(n / infile_s, 1)
        res["load_data_infile_mb_per_s"] = round(payload_mb / infile_s, 2)
        res["to_sql_rows_per_s"] = round(n / out["to_sql_s"], 1)
        res["to_sql_mb_per_s"] = round(payload_mb / out["to_sql_s"], 2)
        res["load_vs_load_data_ratio"] = round(infile_s / loader_s, 3)
        res["load_vs_to_sql_ratio"] = round(out["to_sql_s"] / loader_s, 2)
        res["load_detail"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}

    def _to_sql(self, responses: list[wl.Response]) -> tuple[float, int]:
        import pandas as pd
        import sqlalchemy

        settings = self.settings()
        admin = db.connect(settings, "admin", database="", autocommit=True)
        with admin.cursor() as cur:
            cur.execute("drop database if exists bench_pandas")
            cur.execute("create database bench_pandas character set utf8mb4")
        admin.close()
        url = sqlalchemy.engine.URL.create(
            "mysql+pymysql",
            username=settings.admin_user,
            password=settings.admin_password.get_secret_value() or None,
            host=settings.db_host,
            port=settings.db_port,
            database="bench_pandas",
            query={"charset": "utf8mb4"},
        )
        engine = sqlalchemy.create_engine(url)
        flat_rows = 0
        try:
            t0 = time.perf_counter()
            frames: dict[str, list] = {}
            for r in responses:
                if r.source == "openweather":
                    df = pd.json_normalize(r.payload["list"], sep="_")
                    df["weather"] = df["weather"].map(lambda w: w[0]["main"] if w else None)
                    df["city"] = r.key["city"]
                    df["fetched_at"] = r.fetched_at.replace(tzinfo=None)
                    frames.setdefault("weather", []).append(df)
                elif r.source == "aerodatabox_flights":
                    df = pd.json_normalize(r.payload.get("arrivals", []), sep="_")
                    df = df.drop(columns=[c for c in df.columns if df[c].map(type).eq(list).any()])
                    df["airport_icao"] = r.key["airport_icao"]
                    df["fetched_at"] = r.fetched_at.replace(tzinfo=None)
                    frames.setdefault("flights", []).append(df)
                elif r.source == "aerodatabox_airports":
                    df = pd.json_normalize(r.payload["items"], sep="_")
                    df["city"] = r.key["city"]
                    frames.setdefault("airports", []).append(df)
            for table, dfs in frames.items():
                df = pd.concat(dfs, ignore_index=True)
                flat_rows += len(df)
                df.to_sql(table, con=engine, if_exists="append", index=False)
            elapsed = time.perf_counter() - t0
        finally:
            engine.dispose()
        return elapsed, flat_rows

    # -- 2 + 4. end to end on the shared corpus, peak memory ----------------------------
    def _dbt_available(self) -> str | None:
        if not any((PROJECT_ROOT / "dbt_project" / "models").rglob("*.sql")):
            return "dbt_project has no models yet"
        if find_spec("transform.dbt_runner") is None:
            return "transform.dbt_runner (run_dbt) does not exist yet"
        return None

    def bench_e2e(self) -> None:
        """Replay of the shared corpus (fresh process) + dbt build (fresh process), timed apart."""
        print("[2/5] end to end: replay of the shared corpus + dbt build", flush=True)
        missing_replay = None if find_spec("extract.runner") else "extract.runner (replay) does not exist yet"
        missing_dbt = self._dbt_available()
        self.reset()
        res = self.results
        if missing_dbt is None:
            # set-up: a full parse, cached as partial_parse.msgpack like the Lambda image's manifest
            wall, _, _ = self.child("dbt", "parse")
            res["dbt_full_parse_s"] = round(wall, 2)
        replay_wall = None
        if missing_replay:
            self.not_measured("e2e_replay_s", missing_replay)
            self.not_measured("peak_rss_mb.extract", missing_replay)
        else:
            replay_wall, rss, out = self.child("replay", str(self.recordings))
            res["replay_s"] = round(replay_wall, 2)
            res["replay_work_s"] = round(out["replay_s"], 2)
            res["peak_rss_mb"]["extract"] = round(rss, 1)
        if missing_dbt:
            self.not_measured("dbt_startup_s", missing_dbt)
            self.not_measured("e2e_replay_s", missing_dbt)
            self.not_measured("peak_rss_mb.dbt", missing_dbt)
            return
        build_wall, rss, out = self.child("dbt", "build", check=False, timeout_s=self.build_timeout_s)
        res["dbt_build_s"] = round(build_wall, 2)
        res["dbt_build_success"] = bool(out.get("success"))
        res["peak_rss_mb"]["dbt"] = round(rss, 1)
        # dbt's fixed start-up: a fresh process, parse (partial), connect, select nothing
        repeats = 1 if self.profile_name == "quick" else 2
        startup = [self.child("dbt", "build", "--select", "tag:bench_selects_nothing")[0] for _ in range(repeats)]
        res["dbt_startup_s"] = round(min(startup), 2)
        res["dbt_work_s"] = round(build_wall - min(startup), 2)
        if not out.get("success"):
            # a failed build's time is not the pipeline's time: keep it in the detail only
            self.not_measured("e2e_replay_s", f"dbt build on the shared corpus failed: {_failure(out)}")
        elif replay_wall is not None:
            res["e2e_replay_s"] = round(replay_wall + build_wall, 2)

    # -- 3. incremental cost in history -------------------------------------------------
    def bench_incremental(self) -> None:
        """dbt build after one new cycle, on top of 1/30/365 days of history."""
        missing = self._dbt_available()
        if missing:
            for days in self.p["inc_days"]:
                self.results["incremental_build_s"][str(days)] = None
            self.not_measured("incremental_build_s", missing)
            return
        p = self.p
        t = self.templates
        cities = t.cities(p["inc_cities"])
        # the timed cycle is the latest one before now, the history the days before it; history rows get
        # loaded_at = fetched_at + 2 min, as if they had been landed during that year (incremental models
        # select on loaded_at, so history loaded seconds before the timed build would all count as new)
        new_day = t.days_until(datetime.now(UTC)) - 1
        detail = {}
        timed_out: dict[str, str] = {}  # a timed dbt call that ran past the time box is not run on more history
        for days in p["inc_days"]:
            print(f"[4/5] incremental: {len(cities)} cities, {days} days of history", flush=True)
            self.reset()
            settings = self.settings()
            history = t.operation(
                cities,
                range(new_day - days, new_day),
                cycles_per_day=1,
                slots=p["inc_slots"],
                max_flights=p["inc_max_flights"],
            )
            t0 = time.perf_counter()
            stats = self._load_history(settings, history)
            stats["history_load_s"] = round(time.perf_counter() - t0, 2)
            # set-up (excluded): seeds and a full run of the models on the history; tests are left to the timed build
            setup_s = 0.0
            for args in (("seed",), ("run",)):
                try:
                    wall, rss, out = self.child("dbt", *args, check=False, timeout_s=self.build_timeout_s)
                except StepTimeout:
                    out = {"failed": f"set-up ran past {self.build_timeout_s:.0f} s and was stopped"}
                if not out.get("success"):
                    raise RuntimeError(f"set-up dbt {args[0]} at {days} d of history failed: {_failure(out)}")
                setup_s += wall
            stats["setup_seed_run_s"] = round(setup_s, 2)
            stats["setup_nodes"] = self._node_times()
            # cycles 3 h apart, each landed with the server clock set back to its own time: the first is
            # processed by a timed `dbt run` (models only), each of the next `inc_builds` by a timed `dbt build`;
            # the figure is the median of those builds (samples kept in the detail), so one run's noise on a
            # shared 2-core machine does not decide the ratio
            board_day = new_day + wl._days_after_flights(t)
            steps = [(("run",), "incremental_models_s")] + [(("build",), "incremental_build_s")] * p["inc_builds"]
            samples: dict[str, list[float]] = {}
            for n, (args, key) in enumerate(steps):
                cycle = [t.forecast(c, t.cycle_start(new_day, n), None) for c in cities]
                cycle += [t.flight_board(c.airport_icao, board_day + n, p["inc_max_flights"]) for c in cities]
                self._land_cycle(settings, cycle, hours_ago=3 * (len(steps) - 1 - n))
                if key in timed_out:
                    stats[key] = None
                    self.not_measured(f"{key}.{days}", f"not run: already ran past the time box at {timed_out[key]}")
                    continue
                try:
                    wall, rss, out = self.child("dbt", *args, check=False, timeout_s=self.build_timeout_s)
                except StepTimeout:
                    stats[key] = None
                    reason = (
                        f"dbt {args[0]} after one cycle on {days} d of history ran past {self.build_timeout_s:.0f} s"
                    )
                    self.not_measured(f"{key}.{days}", f"{reason} and was stopped")
                    timed_out[key] = f"{days} d of history"
                    continue
                if not out.get("success"):
                    raise RuntimeError(f"dbt {args[0]} after one cycle at {days} d of history failed: {_failure(out)}")
                samples.setdefault(key, []).append(round(wall, 2))
                stats[f"{key}_rss_mb"] = max(stats.get(f"{key}_rss_mb", 0), round(rss, 1))
                stats[f"{key}_nodes"] = self._node_times()  # the last sample's
            for key, values in samples.items():
                if key in timed_out:
                    continue
                stats[key] = round(statistics.median(values), 2)
                stats[f"{key}_samples"] = values
                self.results.setdefault(key, {})[str(days)] = stats[key]
            detail[str(days)] = stats
            print(f"      {json.dumps(stats)}", flush=True)
        self.results["incremental_detail"] = detail
        keys = [str(d) for d in p["inc_days"]]
        models = self.results.get("incremental_models_s") or {}
        if models.get(keys[0]) and models.get(keys[-1]):
            self.results["incremental_models_ratio"] = round(models[keys[-1]] / models[keys[0]], 3)
        first, last = self.results["incremental_build_s"][keys[0]], self.results["incremental_build_s"][keys[-1]]
        if first and last:
            self.results["incremental_ratio"] = round(last / first, 3)
            startup = self.results.get("dbt_startup_s")
            if startup and first > startup:
                self.results["incremental_work_ratio"] = round((last - startup) / (first - startup), 3)

    def _land_cycle(self, settings: Settings, cycle: list[wl.Response], hours_ago: int) -> None:
        """Land ``cycle`` through the loader; ``loaded_at`` is the server clock set back ``hours_ago`` hours."""
        conn = db.connect(settings, "loader")
        try:
            if hours_ago:
                with conn.cursor() as cur:
                    cur.execute("set timestamp = unix_timestamp() - %s", (hours_ago * 3600,))
            for source in ("openweather", "aerodatabox_flights"):
                run = RunLog(conn).start(source, "bench")
                Loader(conn).land(run.id, [r.landing_row() for r in cycle if r.source == source])
        finally:
            conn.close()

    def _node_times(self) -> dict:
        """Seconds the last dbt build spent in models, in tests, and its slowest nodes (run_results.json)."""
        path = self.work / "dbt_target" / "run_results.json"
        try:
            results = json.loads(path.read_text())["results"]
        except (OSError, ValueError, KeyError):
            return {}
        models = sum(r["execution_time"] for r in results if r["unique_id"].startswith(("model.", "seed.")))
        tests = sum(r["execution_time"] for r in results if r["unique_id"].startswith("test."))
        slowest = sorted(results, key=lambda r: -r["execution_time"])[:4]
        return {
            "models_s": round(models, 2),
            "tests_s": round(tests, 2),
            "slowest": {r["unique_id"].split(".")[-1][:60]: round(r["execution_time"], 2) for r in slowest},
        }

    def _load_history(self, settings: Settings, responses) -> dict:
        """LOAD DATA the history straight into landing (one TSV per source)."""
        conn = db.connect(settings, "loader", local_infile=True)
        stats = {"rows": 0, "payload_mb": 0.0}
        loaded_after = timedelta(minutes=2)
        try:
            runs = {s: RunLog(conn).start(s, "bench-history") for s in REGISTRY}
            conn.commit()
            files = {s: open(self.work / f"history_{s}.tsv", "w", encoding="utf-8", newline="\n") for s in runs}
            try:
                for r in responses:
                    row = r.landing_row()
                    values = (*row.values(runs[r.source].id), row.fetched_at.replace(tzinfo=None) + loaded_after)
                    files[r.source].write("\t".join(wl._tsv_field(v) for v in values) + "\n")
                    stats["rows"] += 1
                    stats["payload_mb"] += len(wl._plain(values[6])) / MB
            finally:
                for fh in files.values():
                    fh.close()
            with conn.cursor() as cur:
                for source in runs:
                    path = self.work / f"history_{source}.tsv"
                    cur.execute(wl.load_data_sql(path, REGISTRY[source].landing_table, wl.LOAD_COLUMNS + ", loaded_at"))
            conn.commit()
        finally:
            conn.close()
        stats["payload_mb"] = round(stats["payload_mb"], 1)
        return stats

    # -- 5. transform Lambda ------------------------------------------------------------
    def bench_lambda(self) -> None:
        """The transform handler in a fresh process: first invoke vs warm invoke."""
        print("[3/5] transform Lambda handler: first vs warm invoke", flush=True)
        handler = PROJECT_ROOT / "lambda" / "gans_lambda" / "transform_handler.py"
        if not handler.exists():
            self.not_measured("lambda_transform_first_s", "lambda/gans_lambda/transform_handler.py does not exist yet")
            self.not_measured("lambda_transform_warm_s", "lambda/gans_lambda/transform_handler.py does not exist yet")
            return
        # like the image: a baked parse (the shipped manifest), the project read from the repo,
        # target/logs/profiles in a fresh writable folder (Lambda's /tmp); secrets from GANS_* (no AWS)
        baked, tmp = self.work / "lambda_baked", self.work / "lambda_tmp"
        shutil.rmtree(baked, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        lambda_env = {
            "GANS_DBT_WORK_DIR": str(tmp),
            "GANS_DBT_BAKED_TARGET": str(baked),
            "GANS_DBT_PROJECT_DIR": str(PROJECT_ROOT / "dbt_project"),
        }
        self.env.update(lambda_env)
        try:
            self.child("lambda-bake", str(baked))  # set-up: the image build
            shutil.rmtree(tmp, ignore_errors=True)
            event = {"select": "tracked_cities source:gans_raw.openweather_forecasts+"}
            wall, rss, out = self.child("lambda", json.dumps(event))
        finally:
            for key in lambda_env:
                self.env.pop(key)
        res = self.results
        res["lambda_transform_import_s"] = round(out["import_s"], 2)
        res["lambda_transform_first_s"] = round(out["first_s"], 2)
        res["lambda_transform_warm_s"] = round(out["warm_s"], 2)
        res["lambda_transform_rss_mb"] = round(rss, 1)
        res["lambda_transform_result"] = out.get("first_result")

    def bench_gbfs(self) -> None:
        """Item 7: GBFS landing throughput and the incremental build after one new snapshot (bench/gbfs.py)."""
        from bench import gbfs

        missing = self._dbt_available()
        if missing or not gbfs.CAPTURES.is_dir():
            self.not_measured("gbfs", missing or f"no GBFS captures at {gbfs.CAPTURES}")
            return
        self.results["gbfs"] = gbfs.measure(self, self.profile_name)

    def bench_fanout(self) -> None:
        """Item 6: planned batches and extraction wall time per schedule (see bench/fanout.py)."""
        from bench import fanout

        self.results["fanout"] = fanout.measure(self.settings(), self.recordings, self.work)

    # -- driver -------------------------------------------------------------------------
    def run(self, only: set[str]) -> dict:
        # lambda runs on the corpus that e2e replayed and built; incremental resets the databases
        steps = [("load", self.bench_load), ("e2e", self.bench_e2e), ("lambda", self.bench_lambda),
                 ("incremental", self.bench_incremental), ("fanout", self.bench_fanout),
                 ("gbfs", self.bench_gbfs)]  # fmt: skip
        t0 = time.perf_counter()
        self.start_server()
        try:
            for name, step in steps:
                if name not in only:
                    continue
                try:
                    step()
                except Exception as exc:  # a failed item is reported, the others still run
                    traceback.print_exc()
                    self.not_measured(name, f"{type(exc).__name__}: {str(exc)[:1500]}")
        finally:
            self.stop_server()
        self.results["bench_wall_s"] = round(time.perf_counter() - t0, 1)
        self.results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        return self.results


def _failure(out: dict) -> str:
    """A one-line reason from a failed dbt step's JSON."""
    return f"failed nodes {out.get('failed')}, exception {out.get('exception')}, exit {out.get('returncode')}"


# --------------------------------------------------------------------------------------
# Report


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        value = f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return f"{value}{unit}"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def markdown(res: dict) -> str:
    """A short markdown table of the results, each against its reference and target."""
    rows = []
    lr, ld, ts = res.get("load_rows_per_s"), res.get("load_data_infile_rows_per_s"), res.get("to_sql_rows_per_s")
    half = lr / ld if lr and ld else None
    five = lr / ts if lr and ts else None
    rows.append(("Loader throughput", f"{_fmt(lr, ' rows/s')} ({_fmt(res.get('load_mb_per_s'), ' MB/s')})", "", ""))
    ld_mb = _fmt(res.get("load_data_infile_mb_per_s"), " MB/s")
    rows.append(("LOAD DATA LOCAL INFILE", f"{_fmt(ld, ' rows/s')} ({ld_mb})",
                 f"loader = {_fmt(half)}× LOAD DATA",
                 f"≥ 0.5×: {_verdict(half >= 0.5 if half else None)}"))  # fmt: skip
    rows.append(("json_normalize + to_sql", f"{_fmt(ts, ' rows/s')} ({_fmt(res.get('to_sql_mb_per_s'), ' MB/s')})",
                 f"loader = {_fmt(five)}× to_sql", f"≥ 5×: {_verdict(five >= 5 if five else None)}"))  # fmt: skip
    e2e = res.get("e2e_replay_s")
    rows.append(("End to end (replay + dbt build)", _fmt(e2e, " s"),
                 f"replay {_fmt(res.get('replay_s'), ' s')}, dbt build {_fmt(res.get('dbt_build_s'), ' s')}",
                 f"≤ 20 s: {_verdict(e2e <= 20 if e2e else None)}"))  # fmt: skip
    rows.append(("dbt fixed start-up (no-op build)", _fmt(res.get("dbt_startup_s"), " s"),
                 f"dbt real work {_fmt(res.get('dbt_work_s'), ' s')}", ""))  # fmt: skip
    inc = res.get("incremental_build_s") or {}
    keys = list(inc)
    detail = res.get("incremental_detail") or {}
    for k in keys:
        samples = (detail.get(k) or {}).get("incremental_build_s_samples") or []
        seen = f"median of {', '.join(_fmt(v, ' s') for v in samples)}" if len(samples) > 1 else ""
        rows.append((f"dbt build after one cycle, {k} d history", _fmt(inc[k], " s"), seen, ""))
    if keys and inc.get(keys[0]) and inc.get(keys[-1]):
        ratio = inc[keys[-1]] / inc[keys[0]]
        rows.append((f"incremental {keys[-1]} d / {keys[0]} d", _fmt(ratio, "×"),
                     f"work only: {_fmt(res.get('incremental_work_ratio'), '×')}",
                     f"≤ 1.3×: {_verdict(ratio <= 1.3)}"))  # fmt: skip
    models = res.get("incremental_models_s") or {}
    for k in models:
        rows.append((f"dbt run (models only) after one cycle, {k} d history", _fmt(models[k], " s"), "", ""))
    if res.get("incremental_models_ratio"):
        rows.append((f"models only {keys[-1]} d / {keys[0]} d", _fmt(res["incremental_models_ratio"], "×"), "", ""))
    rss = res.get("peak_rss_mb") or {}
    rows.append(("Peak RSS extract (replay)", _fmt(rss.get("extract"), " MB"), "", ""))
    rows.append(("Peak RSS dbt (build)", _fmt(rss.get("dbt"), " MB"), "", ""))
    rows.append(("Transform Lambda first invoke", _fmt(res.get("lambda_transform_first_s"), " s"),
                 f"imports {_fmt(res.get('lambda_transform_import_s'), ' s')}", ""))  # fmt: skip
    rows.append(("Transform Lambda warm invoke", _fmt(res.get("lambda_transform_warm_s"), " s"), "", ""))
    if res.get("fanout"):
        from bench import fanout

        fo = res["fanout"]
        rows.append(("Fan-out per-call time (fake API, landing included)", _fmt(fo["per_call_s"], " s"),
                     f"{fo['concurrency']} workers, rates {fo['rates_per_minute']}", ""))  # fmt: skip
        rows += fanout.markdown_rows(fo)
    if res.get("gbfs"):
        from bench import gbfs

        rows += gbfs.markdown_rows(res["gbfs"])
    lines = [
        f"Benchmark ({res.get('profile')}) {res.get('started_at')}"
        f" on {res.get('cpu_count')} CPUs, {res.get('machine')}",
        "",
        "| measure | value | against the reference | target |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
    ]
    if res.get("not_measured"):
        lines += ["", "Not measured:", *[f"- {k}: {v.splitlines()[0][:300]}" for k, v in res["not_measured"].items()]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status (0 unless the harness itself failed)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small workloads (under two minutes)")
    parser.add_argument(
        "--only", default="load,e2e,incremental,lambda,fanout,gbfs", help="comma-separated subset of the items"
    )
    parser.add_argument("--recordings", type=Path, default=wl.RECORDINGS, help="real recordings (manifest format)")
    parser.add_argument("--work", type=Path, default=wl.WORK_DIR, help="scratch folder (git-ignored)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where latest.json and latest.md go")
    parser.add_argument("--inc-days", help="history sizes in days for item 3, e.g. 1,30,365 (overrides the profile)")
    parser.add_argument("--inc-cities", type=int, help="cities for item 3 (overrides the profile)")
    parser.add_argument(
        "--build-timeout", type=float, default=240, help="seconds one dbt build may take before it is stopped"
    )
    args = parser.parse_args(argv)
    if not (args.recordings / "manifest.jsonl").exists():
        parser.error(f"no recordings at {args.recordings} (expected manifest.jsonl there)")
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Bench("quick" if args.quick else "full", args.recordings.resolve(), args.work)
    if args.inc_days:
        bench.p["inc_days"] = tuple(int(d) for d in args.inc_days.split(","))
        bench.results["incremental_build_s"] = {str(d): None for d in bench.p["inc_days"]}
    if args.inc_cities:
        bench.p["inc_cities"] = args.inc_cities
    bench.build_timeout_s = args.build_timeout
    results = bench.run({s.strip() for s in args.only.split(",") if s.strip()})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = markdown(results)
    (args.out / "latest.md").write_text(table)
    print()
    print(table)
    print(f"written: {args.out / 'latest.json'}, {args.out / 'latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
