"""What ``make deploy`` ships: ``sam build`` of the real template; each zip function run from its output.

``make deploy`` runs ``sam build`` then ``sam deploy``; what SAM uploads is what
``.aws-sam/build/template.yaml`` points at. This test runs that build with the AWS SAM CLI
(``aws-sam-cli`` from PyPI in its own venv, ``make sam-cli`` installs it under ``.local/sam-cli``;
``GANS_SAM_CLI`` names another ``sam``) on a copy of ``lambda/`` beside a fresh
``package.sh`` build (the template's ``CodeUri`` is ``../build/extract.zip``). The transform
function is left out (``--exclude``): it is an image, and building it needs Docker.

Then every zip function of the built template is unpacked from the artefact the built template
names, as Lambda unpacks it to ``/var/task``, and its handler is imported and invoked in a fresh
``python3.X -I -S`` of the runtime the template declares, holding only the task root and a boto3
(the runtime provides boto3): with the environment the template gives the function, secrets
from moto's server mode, the APIs from the recordings and the test MariaDB. The compiled
modules (pydantic-core, orjson, lxml) must import from the task root: a build that drops
``*.so`` files, or wheels for another Python than the runtime, fails here.

Skips, saying why, without the SAM CLI or without a CPython of the declared runtime.
"""

from __future__ import annotations

import glob
import hashlib
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
import yaml

from extract import db
from tests.template_helpers import DeployedTemplate, load_template
from tests.test_lambda_handlers import OPENWEATHER_KEY, RecordedApis
from tests.test_lambda_package import lambda_python, moto_server, runtime_boto3  # noqa: F401  (fixtures)

PROJECT = Path(__file__).resolve().parent.parent
EVENTS = PROJECT / "lambda" / "events"
REGION = "eu-central-1"


def _sam_cli() -> str | None:
    candidates = [os.environ.get("GANS_SAM_CLI", ""), str(PROJECT / ".local" / "sam-cli" / "bin" / "sam")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def python_for(runtime: str) -> str | None:
    """A CPython interpreter of exactly the version a Lambda runtime names (``python3.12`` -> 3.12.x), or None."""
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    assert match, f"not a Python runtime: {runtime}"
    version = f"{match.group(1)}.{match.group(2)}"
    env = os.environ.get(f"GANS_LAMBDA_PYTHON_{match.group(1)}{match.group(2)}", "")
    candidates = [
        env,
        shutil.which(f"python{version}") or "",
        *sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python3")),
    ]
    for candidate in candidates:
        # pyenv's shims are scripts that pick a version from the environment: not an interpreter
        if not candidate or "/shims/" in candidate or not os.access(candidate, os.X_OK):
            continue
        done = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if done.returncode == 0 and done.stdout.strip() == str((int(match.group(1)), int(match.group(2)))):
            return candidate
    return None


def _package_python() -> str:
    """``EXTRACT_PYTHON``'s default in ``lambda/package.sh``: the CPython the zip's wheels are built for."""
    match = re.search(
        r"^EXTRACT_PYTHON=\$\{EXTRACT_PYTHON:-([\d.]+)\}", (PROJECT / "lambda" / "package.sh").read_text(), re.M
    )
    assert match, "package.sh no longer sets EXTRACT_PYTHON"
    return match.group(1)


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory) -> Path:
    """``sam build`` of the template beside a fresh ``package.sh`` build; returns the ``lambda/`` copy."""
    sam = _sam_cli()
    if sam is None:
        pytest.skip("the AWS SAM CLI is not installed: `make sam-cli` (or GANS_SAM_CLI=path/to/sam)")
    root = tmp_path_factory.mktemp("deploy")
    env = {
        **os.environ,
        "BUILD": str(root / "build"),
        "PY": sys.executable,
        "SKIP_TRANSFORM": "1",
        "NO_RDS_CA_DOWNLOAD": "1",
    }
    subprocess.run([str(PROJECT / "lambda" / "package.sh")], cwd=PROJECT, env=env, check=True, capture_output=True)
    lam = root / "lambda"
    lam.mkdir()
    shutil.copy(PROJECT / "lambda" / "template.yaml", lam / "template.yaml")
    done = subprocess.run(
        [sam, "build", "--template", "template.yaml", "--exclude", "TransformFunction"],
        cwd=lam, env={**os.environ, "SAM_CLI_TELEMETRY": "0"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return lam


def _built_template(lam: Path) -> dict:
    class Loader(yaml.SafeLoader):
        pass

    # the built template keeps the short forms (!Ref, !Sub ...): read them as plain values
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load((lam / ".aws-sam" / "build" / "template.yaml").read_text(), Loader=Loader)


def test_every_zip_function_runs_on_the_python_its_wheels_were_built_for():
    deployed = DeployedTemplate(load_template())
    functions = deployed.zip_functions()
    assert {"ExtractFunction", "BootstrapFunction", "FanoutFunction", "RetentionFunction"} <= functions.keys()
    wanted = f"python{_package_python()}"
    runtimes = {name: props["Runtime"] for name, props in functions.items()}
    assert runtimes == dict.fromkeys(functions, wanted), runtimes
    # and all of them ship the artefact package.sh builds, not a folder SAM would rebuild
    assert {props["CodeUri"] for props in functions.values()} == {"../build/extract.zip"}


def test_sam_build_ships_the_package_zip_with_its_compiled_modules(sam_build):
    built = _built_template(sam_build)
    package_zip = sam_build.parent / "build" / "extract.zip"
    digest = hashlib.sha256(package_zip.read_bytes()).hexdigest()
    template = load_template()
    zip_names = DeployedTemplate(template).zip_functions().keys()
    for name in zip_names:
        code_uri = built["Resources"][name]["Properties"]["CodeUri"]
        artefact = (sam_build / ".aws-sam" / "build" / code_uri).resolve()
        assert artefact.is_file(), f"{name}: {code_uri} is not a file"
        assert hashlib.sha256(artefact.read_bytes()).hexdigest() == digest, f"{name} ships another artefact"
    names = zipfile.ZipFile(package_zip).namelist()
    tag = "cpython-" + _package_python().replace(".", "")
    compiled = [n for n in names if n.endswith(".so")]
    for package in ("pydantic_core", "orjson", "lxml"):
        assert any(n.startswith(f"{package}/") and tag in n for n in compiled), f"no {tag} module of {package}"
    assert all(tag in n for n in compiled if "cpython-" in n), [n for n in compiled if tag not in n][:3]


CHILD = r"""
import importlib, json, sys
sys.path[:0] = [TASK_ROOT, BOTO3]
module, _, name = HANDLER.rpartition(".")
handler = getattr(importlib.import_module(module), name)
results = []
for event in json.load(open(EVENTS)):
    if event == "BATCH_OF_THE_PLAN":  # what the Map's ItemSelector sends for the plan's first item
        plan = results[-1]
        event = {"step": "batch", "item": plan["items"][0], "window": plan["window"],
                 "cities": plan["cities"], "concurrency": plan["concurrency"]}
    results.append(handler(event, None))
import lxml.etree, orjson, pydantic_core  # the compiled modules, from the task root
print(json.dumps({
    "results": results, "python": list(sys.version_info[:2]),
    "compiled": [m.__file__ for m in (lxml.etree, orjson, pydantic_core._pydantic_core)],
    "modules_outside": sorted({m.__file__ for m in list(sys.modules.values())
                               if getattr(m, "__file__", None)
                               and not m.__file__.startswith((TASK_ROOT, BOTO3, sys.base_prefix))}),
}, default=str))
"""


def test_each_zip_function_from_the_sam_build_imports_and_runs_on_its_runtime(
    sam_build,
    moto_server,  # noqa: F811  (the imported fixture)
    runtime_boto3,  # noqa: F811
    settings,
    recordings,
    httpserver,
    tmp_path,
):
    built = _built_template(sam_build)
    secrets = boto3.client(
        "secretsmanager", endpoint_url=moto_server, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    # moto's server mode keeps its state in this process's backends, which other tests' servers share
    run = os.urandom(4).hex()
    arns = {}
    for role in ("admin", "loader", "dbt", "analyst"):
        value = {"username": getattr(settings, f"{role}_user"), "password": getattr(settings, f"{role}_password")}
        value["password"] = value["password"].get_secret_value()
        arns[role] = secrets.create_secret(Name=f"gans/db/{role}-{run}", SecretString=json.dumps(value))["ARN"]
    keys = {"OPENWEATHER_API_KEY": OPENWEATHER_KEY, "AERODATABOX_API_KEY": "adb-unused"}
    arns["keys"] = secrets.create_secret(Name=f"gans/api-keys-{run}", SecretString=json.dumps(keys))["ARN"]
    deployed = DeployedTemplate(
        load_template(),
        physical={
            "LoaderDbSecret": arns["loader"],
            "DbtDbSecret": arns["dbt"],
            "AnalystDbSecret": arns["analyst"],
            "ApiKeysSecret": arns["keys"],
            "Database.MasterUserSecret.SecretArn": arns["admin"],
        },
    )

    apis = RecordedApis(recordings, settings)
    httpserver.expect_request(re.compile("^/")).respond_with_handler(apis)
    root = httpserver.url_for("/").rstrip("/")
    forecasts = json.loads((EVENTS / "scheduler-forecasts.json").read_text())
    expected = {c.name for c in apis.cities} & set(apis.latest["openweather"])
    events = {
        "ExtractFunction": [forecasts],
        "FanoutFunction": [{"step": "plan", "event": {**forecasts, "scheduled_time": "2026-11-21T18:05:00Z"}},
                           "BATCH_OF_THE_PLAN"],
        "BootstrapFunction": [{}],
        "RetentionFunction": [{"schedule": "gans-test-gbfs-retention", "scheduled_time": "2026-11-21T01:45:00Z"}],
    }  # fmt: skip
    assert events.keys() == deployed.zip_functions().keys()  # a new zip function needs its invocation here

    outcomes = {}
    for name, props in deployed.zip_functions().items():
        runtime = built["Resources"][name]["Properties"]["Runtime"]
        python = python_for(runtime)
        if python is None:
            pytest.skip(f"no CPython for {name}'s runtime {runtime} (GANS_LAMBDA_PYTHON_3XX names one)")
        task_root = tmp_path / name / "var-task"
        artefact = (sam_build / ".aws-sam" / "build" / built["Resources"][name]["Properties"]["CodeUri"]).resolve()
        with zipfile.ZipFile(artefact) as archive:
            archive.extractall(task_root)
        events_file = tmp_path / name / "events.json"
        events_file.write_text(json.dumps(events[name]))
        env = {
            **deployed.function_environment(name, with_globals=True),
            # the test endpoints in place of the VPC's: database, Secrets Manager, APIs
            "GANS_DB_HOST": settings.db_host,
            "GANS_DB_PORT": str(settings.db_port),
            "GANS_DB_SSL_CA": "",  # the test server has no TLS (tests/test_tls.py covers it)
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(tmp_path / name),
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": moto_server,
            "GANS_API_BASE_URLS": json.dumps({"openweather": root, "wikipedia": root, "aerodatabox": root}),
            "GANS_HTTP_MAX_RETRIES": "0",
            "OPENWEATHER_RATE_PER_MINUTE": "6000",
            "GANS_SPOOL_DIR": str(tmp_path / name / "spool"),
        }
        code = (
            CHILD.replace("TASK_ROOT", repr(str(task_root)))
            .replace("BOTO3", repr(str(runtime_boto3)))
            .replace("HANDLER", repr(props["Handler"]))
            .replace("EVENTS", repr(str(events_file)))
        )
        done = subprocess.run(
            [python, "-I", "-S", "-c", code], cwd=task_root, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{name} on {runtime}: " + done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert f"python{out['python'][0]}.{out['python'][1]}" == runtime
        assert all(f.startswith(str(task_root)) for f in out["compiled"]), out["compiled"]
        assert out["modules_outside"] == [], out["modules_outside"]
        outcomes[name] = out["results"]

    [extracted] = outcomes["ExtractFunction"]
    assert extracted["ok"] is True and extracted["landed"] == len(expected)
    plan, batch = outcomes["FanoutFunction"]
    assert plan["keys"] == len(apis.cities) and plan["items"], plan
    # the same recorded forecasts the extract function landed: the batch lands them as duplicates
    assert batch["status"] == "succeeded" and batch["requests"] == plan["items"][0]["keys"]
    assert batch["landed"] + batch["duplicates"] == len(expected & set(batch_cities(plan, settings)))
    [boot] = outcomes["BootstrapFunction"]
    assert boot["schema_version"] == max(m.version for m in db.migrations())
    [purged] = outcomes["RetentionFunction"]
    # every source declaring a retention period is purged; GBFS's period is the template's parameter
    from extract.retention import retained_sources
    from extract.sources.gbfs import GBFS

    assert purged["deleted"] == 0 and purged["sources"].keys() == {s.name for s in retained_sources()}
    assert purged["sources"][GBFS.name]["days"] == int(deployed.parameters["GbfsRetentionDays"])

    conn = db.connect(settings, "admin")
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from openweather_forecasts")
            (rows,) = cur.fetchone()
    finally:
        conn.close()
    assert rows == extracted["landed"] + batch["landed"]


def batch_cities(plan: dict, settings) -> list[str]:
    """The cities of the plan's first batch (its keys are stored in ``extract_plan_batches``)."""
    from extract.fanout import stored_batches

    conn = db.connect(settings, "loader")
    try:
        first = stored_batches(conn, plan["plan_key"], "openweather", 0)[0]
    finally:
        conn.close()
    return [k["city"] for k in first.request_keys]
