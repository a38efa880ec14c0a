"""The built extract zip, imported and invoked the way Lambda's Python 3.12 runtime runs it.

``lambda/package.sh`` builds ``extract.zip`` (once per session, into a temporary folder);
it is unzipped, and a fresh ``python3.12 -I -S`` interpreter whose ``sys.path`` holds only
the standard library, the unzipped folder and a boto3 installed for it (the runtime
provides boto3) imports ``gans_lambda.extract_handler`` and invokes it with the scheduled
forecasts event of ``lambda/events/``. Secrets come from moto in server mode (boto3 in
the child reaches it through ``AWS_ENDPOINT_URL``), the APIs from a local server
answering with the real recordings, the database is the test MariaDB. A dependency
missing from ``lambda/requirements-extract.txt``, a wheel that does not exist for 3.12,
or code that does not run on 3.12 fails here rather than on the first deploy.

Skips when no CPython 3.12 or 3.13 interpreter is found (``GANS_LAMBDA_PYTHON`` names one).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from tests.conftest import _free_port
from tests.test_lambda_handlers import OPENWEATHER_KEY, RecordedApis

PROJECT = Path(__file__).resolve().parent.parent
EVENTS = PROJECT / "lambda" / "events"
LOCK = PROJECT / "requirements.lock"


def _lambda_python() -> str | None:
    """A CPython 3.12+ interpreter: ``GANS_LAMBDA_PYTHON``, ``python3.12``/``python3.13``, or pyenv's."""
    candidates = [os.environ.get("GANS_LAMBDA_PYTHON", "")]
    candidates += [shutil.which(name) or "" for name in ("python3.12", "python3.13")]
    candidates += sorted(glob.glob("/root/.pyenv/versions/3.1[23].*/bin/python3"))
    # pyenv's shims are scripts that pick a version from the environment: not an interpreter
    return next((c for c in candidates if c and "/shims/" not in c and os.access(c, os.X_OK)), None)


def _pinned(name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)$", LOCK.read_text(), re.MULTILINE | re.IGNORECASE)
    assert match, f"{name} is not pinned in requirements.lock"
    return f"{name}=={match.group(1)}"


@pytest.fixture(scope="session")
def lambda_python() -> str:
    found = _lambda_python()
    if found is None:
        pytest.skip("no CPython 3.12/3.13 interpreter (the extract function's runtime); set GANS_LAMBDA_PYTHON")
    return found


@pytest.fixture(scope="session")
def extract_zip(tmp_path_factory) -> Path:
    """``extract.zip`` as ``make package`` builds it (no RDS CA download), in a temporary folder."""
    build = tmp_path_factory.mktemp("build")
    env = {**os.environ, "BUILD": str(build), "PY": sys.executable, "SKIP_TRANSFORM": "1", "NO_RDS_CA_DOWNLOAD": "1"}
    subprocess.run([str(PROJECT / "lambda" / "package.sh")], cwd=PROJECT, env=env, check=True, capture_output=True)
    return build / "extract.zip"


@pytest.fixture(scope="session")
def task_root(extract_zip, tmp_path_factory) -> Path:
    """The zip unpacked, as Lambda unpacks it to ``/var/task``."""
    root = tmp_path_factory.mktemp("var-task")
    with zipfile.ZipFile(extract_zip) as archive:
        archive.extractall(root)
    return root


@pytest.fixture(scope="session")
def runtime_boto3(lambda_python, tmp_path_factory) -> Path:
    """boto3 (the lock's version) installed for the 3.12 interpreter in its own folder: what the runtime provides."""
    folder = tmp_path_factory.mktemp("runtime-boto3")
    pins = [_pinned(n) for n in ("boto3", "botocore", "jmespath", "s3transfer", "python-dateutil", "six", "urllib3")]
    subprocess.run(
        [lambda_python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--target", str(folder), *pins],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder


@pytest.fixture
def moto_server(monkeypatch):
    """moto's Secrets Manager as a real HTTP server (the child process reaches it over TCP)."""
    try:
        import flask  # noqa: F401  (moto's server mode needs it; pinned in requirements.lock)
    except ImportError:
        pytest.skip("flask is not installed: reinstall the venv from requirements.lock (moto's server mode)")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_the_zip_carries_its_dependencies_and_nothing_dbt(extract_zip):
    names = zipfile.ZipFile(extract_zip).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    for package in ("extract", "gans_lambda", "pyrate_limiter", "pymysql", "requests", "pydantic_core", "lxml"):
        assert package in tops, f"{package} is not in the extract zip"
    assert not any(t == "dbt" or t.startswith(("dbt_core", "dbt_mysql", "mysql")) for t in tops)
    # only what extraction needs: no dbt runner, no local database manager, no CLI, no transform handler
    assert not {"transform", "localdb", "gans", "tests", "bench"} & tops
    assert "gans_lambda/transform_handler.py" not in names and "gans_lambda/extract_handler.py" in names
    # the seeds extraction reads: the tracked cities and the GBFS systems
    assert {"dbt_project/seeds/tracked_cities.csv", "dbt_project/seeds/gbfs_systems.csv"} <= set(names)
    assert "boto3" not in tops  # the runtime provides it
    # wheels for the function's runtime, not the dev venv's 3.11
    compiled = [n for n in names if n.endswith(".so") and "cpython-" in n]
    assert compiled and all("cpython-312" in n for n in compiled), compiled[:3]


CHILD = r"""
import json, logging, sys
sys.path[:0] = [TASK_ROOT, BOTO3]
# Lambda's root logger: one handler, level WARNING unless the logging config says otherwise
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
import gans_lambda.extract_handler as h
event = json.load(open(EVENT))
result = h.handler(event, None)
import pydantic, pyrate_limiter
print(json.dumps({"result": result, "python": list(sys.version_info[:2]),
                  "handler_file": h.__file__, "pyrate_limiter": pyrate_limiter.__file__,
                  "modules_outside": sorted({m.__file__ for m in list(sys.modules.values())
                                             if getattr(m, "__file__", None) and not (
                                                m.__file__.startswith((TASK_ROOT, BOTO3, sys.base_prefix)))})}))
"""


def test_built_zip_runs_a_scheduled_event_on_python_312(
    lambda_python, task_root, runtime_boto3, moto_server, settings, recordings, httpserver, tmp_path
):
    region = "eu-central-1"
    client = boto3.client(
        "secretsmanager", endpoint_url=moto_server, region_name=region,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    loader = {"username": settings.loader_user, "password": settings.loader_password.get_secret_value()}
    loader_arn = client.create_secret(Name="gans/db/loader", SecretString=json.dumps(loader))["ARN"]
    keys = {"OPENWEATHER_API_KEY": OPENWEATHER_KEY, "AERODATABOX_API_KEY": "adb-unused"}
    keys_arn = client.create_secret(Name="gans/api-keys", SecretString=json.dumps(keys))["ARN"]

    apis = RecordedApis(recordings, settings)
    httpserver.expect_request(re.compile("^/")).respond_with_handler(apis)
    root = httpserver.url_for("/").rstrip("/")
    expected = {c.name for c in apis.cities} & set(apis.latest["openweather"])
    assert expected

    # only what the function's environment holds (template.yaml), plus the test endpoints
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_server,
        "GANS_DB_HOST": settings.db_host,
        "GANS_DB_PORT": str(settings.db_port),
        "GANS_DB_SECRET_LOADER": loader_arn,
        "GANS_API_KEYS_SECRET": keys_arn,
        "GANS_API_BASE_URLS": json.dumps({"openweather": root, "wikipedia": root, "aerodatabox": root}),
        "GANS_HTTP_MAX_RETRIES": "0",
        "OPENWEATHER_RATE_PER_MINUTE": "6000",
        "GANS_SPOOL_DIR": str(tmp_path / "spool"),
    }
    code = (
        CHILD.replace("TASK_ROOT", repr(str(task_root)))
        .replace("BOTO3", repr(str(runtime_boto3)))
        .replace("EVENT", repr(str(EVENTS / "scheduler-forecasts.json")))
    )
    done = subprocess.run(
        [lambda_python, "-I", "-S", "-c", code], cwd=task_root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["python"][0] == 3 and out["python"][1] >= 12
    assert out["handler_file"].startswith(str(task_root))
    assert out["pyrate_limiter"].startswith(str(task_root))
    assert out["modules_outside"] == []  # nothing came from the dev venv or a site-packages

    result = out["result"]
    event = json.loads((EVENTS / "scheduler-forecasts.json").read_text())
    assert result["ok"] is True and result["landed"] == len(expected)
    assert result["transform"] == event["transform"]
    [source] = result["sources"]
    assert source["idempotency_key"] == f"{event['schedule']}@{event['scheduled_time']}/openweather"

    conn = __import__("extract.db", fromlist=["connect"]).connect(settings, "admin")
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*), count(distinct run_id) from openweather_forecasts")
            assert cur.fetchone() == (len(expected), 1)
            cur.execute("select run_trigger, status from extract_runs where id = %s", (source["run_id"],))
            assert cur.fetchone() == ("lambda", "succeeded")
    finally:
        conn.close()

    # INFO lines of extract.* and the per-source line reach the runtime's root handler
    assert re.search(r"^extract\.\S+ INFO ", done.stderr, re.MULTILINE), done.stderr[-2000:]
    assert f"extract openweather: succeeded, {len(expected)} landed" in done.stderr
    assert OPENWEATHER_KEY not in done.stderr and OPENWEATHER_KEY not in done.stdout


# --------------------------------------------------------------------------------------
# The transform image's contents, run as Lambda runs them: a non-root user, the task root
# read-only, only /tmp writable. No Docker engine is needed: the image's steps are
# reproduced from lambda/Dockerfile (its pip install is the dev venv, which holds the same
# pinned transform requirements).

NOBODY = 65534


def _dockerfile_copies(dockerfile: Path) -> list[tuple[str, str]]:
    """``(source in the context, destination under the task root)`` of the Dockerfile's COPY lines."""
    copies = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"COPY (\S+) \$\{LAMBDA_TASK_ROOT\}/(\S*)$", line.strip())
        if match:
            copies.append((match.group(1).rstrip("/"), match.group(2).rstrip("/")))
    return copies


@pytest.fixture
def image_root(mariadb, tmp_path_factory):
    """The transform image's context built by package.sh for the test server's host and port."""
    build = tmp_path_factory.mktemp("image-build")
    env = {
        **os.environ,
        "BUILD": str(build),
        "PY": sys.executable,
        "NO_RDS_CA_DOWNLOAD": "1",
        "IMAGE_DB_HOST": mariadb.host,
        "IMAGE_DB_PORT": str(mariadb.port),
    }
    subprocess.run([str(PROJECT / "lambda" / "package.sh")], cwd=PROJECT, env=env, check=True, capture_output=True)
    # a world-readable folder (pytest's are root-only), removed afterwards
    root = Path(__import__("tempfile").mkdtemp(prefix="gans-image-", dir="/tmp"))
    root.chmod(0o755)
    yield build / "transform-image", root
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.mark.dbt
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_transform_image_contents_run_as_non_root_with_a_read_only_task_root(image_root, settings):
    context, root = image_root
    settings_env = dict(
        line.split("=", 1) for line in (context / "image-settings.env").read_text().splitlines() if "=" in line
    )
    assert settings_env == {"GANS_DB_HOST": settings.db_host, "GANS_DB_PORT": str(settings.db_port)}

    # the Dockerfile's steps: copy the context, bake the parse (as root, at build time), freeze
    task = root / "var-task"
    task.mkdir()
    for source, destination in _dockerfile_copies(context / "Dockerfile"):
        if source in ("rds-global-bundle.pem",) and not (context / source).exists():
            continue  # not downloadable here; the test database has no TLS
        src = context / source
        if src.is_dir():
            shutil.copytree(src, task / destination)
        else:
            shutil.copy(src, task / destination)
    assert (task / "dbt_project" / "dbt_project.yml").exists() and (task / "gans_lambda").is_dir()
    base_env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LAMBDA_TASK_ROOT": str(task),
        "PYTHONPATH": str(task),
        "GANS_DBT_TARGET": "local",  # the image says rds; the test server has no TLS
        "GANS_DB_SSL_CA": "",
        "GANS_DB_SOCKET": "",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        **settings_env,
    }
    bake_tmp = root / "bake-tmp"
    subprocess.run(
        [sys.executable, "-m", "gans_lambda.transform_handler", "--bake", str(task / "dbt_target")],
        cwd=task, env={**base_env, "HOME": str(bake_tmp), "GANS_DBT_WORK_DIR": str(bake_tmp)},
        check=True, capture_output=True,
    )  # fmt: skip
    shutil.rmtree(bake_tmp)
    subprocess.run(["chmod", "-R", "a-w,a+rX", str(task)], check=True)
    assert (task / "dbt_target" / "partial_parse.msgpack").stat().st_mode & 0o222 == 0
    frozen = _tree(task)

    # a rotated dbt user: same grants, another name, so the profile differs from the baked one
    rotated_user, rotated_password = "gans_dbt_rotated", "rotated-" + os.urandom(6).hex()
    conn = __import__("extract.db", fromlist=["connect"]).connect(settings, "admin", database="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("drop user if exists %s@'%%'", (rotated_user,))
        cur.execute("create user %s@'%%' identified by %s", (rotated_user, rotated_password))
        cur.execute(f"grant select on `{settings.raw_database}`.* to %s@'%%'", (rotated_user,))
        for database in (settings.staging_database, settings.marts_database):
            cur.execute(f"grant all privileges on `{database}`.* to %s@'%%'", (rotated_user,))
    conn.close()

    child = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(task)!r})\n"
        "from gans_lambda import transform_handler as h\n"
        "report = h.handler({'command': 'seed', 'select': 'tracked_cities'}, None)\n"
        "print(json.dumps({'report': report, 'handler_file': h.__file__}))\n"
    )

    def invoke(user: str, password: str, name: str) -> tuple[dict, Path]:
        tmp = Path("/tmp") / f"{root.name}-{name}"  # the container's /tmp: the one writable place
        tmp.mkdir()
        os.chown(tmp, NOBODY, NOBODY)
        env = {**base_env, "HOME": str(tmp), "GANS_DBT_WORK_DIR": str(tmp / "dbt"),
               "GANS_DBT_USER": user, "GANS_DBT_PASSWORD": password}  # fmt: skip
        try:
            done = subprocess.run(
                ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 sys.executable, "-c", child],
                cwd=tmp, env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
            out = json.loads(done.stdout.strip().splitlines()[-1])
            assert out["handler_file"].startswith(str(task))
            written = tmp / "dbt" / "target" / "partial_parse.msgpack"
            return out["report"], written.read_bytes() if written.exists() else b""
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    baked = (task / "dbt_target" / "partial_parse.msgpack").read_bytes()
    same, _ = invoke(settings.dbt_user, settings.dbt_password.get_secret_value(), "same")
    assert same["success"] is True and same["cold_start"] is True
    assert same["parse"] == "partial", same  # the baked parse was reused
    assert same["statuses"]["seed"] == {"success": 1}

    changed, reparsed = invoke(rotated_user, rotated_password, "changed")
    assert changed["success"] is True and changed["cold_start"] is True
    assert changed["parse"] == "full", changed  # profile changed: parsed again, into /tmp
    assert reparsed and reparsed != baked  # the copied parse was writable and was rewritten

    assert _tree(task) == frozen  # nothing written into the task root


def test_the_image_is_baked_for_the_parameters_in_samconfig(tmp_path):
    config = tmp_path / "samconfig.toml"
    config.write_text(
        "version = 0.1\n[default.deploy.parameters]\n"
        'parameter_overrides = ["VpcId=vpc-1", "PrivateZoneName=data.example", "DbPort=3310"]\n'
    )
    env = {**os.environ, "BUILD": str(tmp_path / "build"), "PY": sys.executable, "NO_RDS_CA_DOWNLOAD": "1",
           "SAMCONFIG": str(config)}  # fmt: skip
    env.pop("IMAGE_DB_HOST", None)
    env.pop("IMAGE_DB_PORT", None)
    subprocess.run([str(PROJECT / "lambda" / "package.sh")], cwd=PROJECT, env=env, check=True, capture_output=True)
    baked = (tmp_path / "build" / "transform-image" / "image-settings.env").read_text().split()
    assert baked == ["GANS_DB_HOST=mysql.data.example", "GANS_DB_PORT=3310"]
