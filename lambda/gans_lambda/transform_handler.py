"""Lambda entry point of the transform: one dbt command (default ``build``) run in-process.

Runs in the container image built from ``lambda/Dockerfile``. The dbt project is
read-only there (``/var/task/dbt_project``); dbt's target and log folders, and the
generated ``profiles.yml``, live under ``GANS_DBT_WORK_DIR`` (default ``/tmp/dbt``).
The image build ran ``dbt parse`` (``python -m gans_lambda.transform_handler --bake DIR``)
and kept its target folder at ``GANS_DBT_BAKED_TARGET`` (default ``/var/task/dbt_target``);
on a cold start its ``partial_parse.msgpack`` is copied into the /tmp target folder, so dbt
reuses the parsed manifest instead of parsing the project again (about 2 s saved). The
parse is only reusable when the connection keys (host, port, user, schema) are the ones
of the build: the template gives the database a fixed private DNS name for that reason.

Events (JSON):

- direct: ``{"select": "tracked_cities source:gans_raw.openweather_forecasts+",
  "command": "build", "exclude": null, "full_refresh": false}``; every field is
  optional (``{}`` builds everything: seeds, models, tests);
- a Lambda destination record of the extract function (``requestContext``,
  ``requestPayload``, ``responsePayload``): the ``transform`` object of the extract
  function's result says what to build; when that extraction landed no new row under
  its idempotency key in any attempt (``landed_total``; ``landed``, this attempt's
  count, for records without it) — unchanged data — nothing is run, unless the record's
  transform says ``"force": true``. A retry whose earlier attempt landed the rows and
  then failed does run (its own ``landed`` is 0, ``landed_total`` is not); so does a
  re-delivery of an event that succeeded before (dbt builds are idempotent).

dbt's file log (``GANS_DBT_WORK_DIR/logs``, lost with the container) is off unless the
function's environment sets ``DBT_LOG_LEVEL_FILE`` (e.g. ``debug``); dbt's stdout log
(info) goes to CloudWatch either way.

Returns a JSON summary (command, success, node statuses, rows per mart, how the
project was parsed). Raises :class:`TransformFailed` when dbt failed (a model or a
test erred, or dbt could not run), so the invocation counts as an error: Lambda
retries it and then sends it to the dead-letter queue, and the errors alarm fires.
Tests that only warn do not fail the run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from gans_lambda import aws_secrets, observability

log = logging.getLogger(__name__)
observability.configure()

TASK_ROOT = Path(os.environ.get("LAMBDA_TASK_ROOT", Path(__file__).resolve().parent.parent))
#: dbt commands an event may ask for
COMMANDS = frozenset({"build", "run", "test", "seed", "snapshot"})
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


class TransformFailed(RuntimeError):
    """dbt ran and something failed, or dbt could not run; the message lists what."""


class BadTransformEvent(ValueError):
    """The event asks for something the handler does not do; the message says what."""


def _paths() -> dict[str, Path]:
    work = Path(os.environ.get("GANS_DBT_WORK_DIR", "/tmp/dbt"))
    return {
        "project": Path(os.environ.get("GANS_DBT_PROJECT_DIR", TASK_ROOT / "dbt_project")),
        "baked": Path(os.environ.get("GANS_DBT_BAKED_TARGET", TASK_ROOT / "dbt_target")),
        "work": work,
        "target": work / "target",
        "logs": work / "logs",
        "profiles": work / "profiles",
    }


def plan(event: dict[str, Any] | None) -> dict[str, Any] | None:
    """What to run for ``event``: ``{"command", "select", "exclude", "full_refresh"}``, or None to skip.

    Raises :class:`BadTransformEvent` for an unknown command or a malformed field.
    """
    event = event or {}
    if "requestPayload" in event or "responsePayload" in event:  # Lambda destination record
        response = event.get("responsePayload") or {}
        if not isinstance(response, dict):
            raise BadTransformEvent("destination record without a JSON object responsePayload")
        spec = response.get("transform")
        if not spec:
            return None
        if not isinstance(spec, dict):
            raise BadTransformEvent("responsePayload.transform must be an object")
        landed = response.get("landed_total", response.get("landed"))
        if not spec.get("force") and not landed:
            return None
    else:
        spec = event
    command = spec.get("command", "build")
    if command not in COMMANDS:
        raise BadTransformEvent(f"command {command!r} is not one of {sorted(COMMANDS)}")
    for name in ("select", "exclude"):
        if spec.get(name) is not None and not isinstance(spec[name], str):
            raise BadTransformEvent(f"{name} must be a string of dbt selectors")
    return {
        "command": command,
        "select": spec.get("select") or None,
        "exclude": spec.get("exclude") or None,
        "full_refresh": bool(spec.get("full_refresh", False)),
    }


def dbt_args(step: dict[str, Any]) -> list[str]:
    """dbt command-line arguments of a :func:`plan` result."""
    args = [step["command"]]
    if step["select"]:
        args += ["--select", *step["select"].split()]
    if step["exclude"]:
        args += ["--exclude", *step["exclude"].split()]
    if step["full_refresh"] and step["command"] in ("build", "run", "seed"):
        args.append("--full-refresh")
    return args


def prepare_work_dirs(paths: dict[str, Path]) -> bool:
    """Create the writable folders; seed the target folder with the baked parse once per container.

    Returns True when ``partial_parse.msgpack`` was copied now (a cold start).
    """
    for name in ("target", "logs", "profiles"):
        paths[name].mkdir(parents=True, exist_ok=True)
    baked = paths["baked"] / PARTIAL_PARSE_FILE
    if baked.exists() and not (paths["target"] / PARTIAL_PARSE_FILE).exists():
        # copyfile, not copy2: the image's file is read-only, and a kept mode would stop dbt
        # (Lambda's non-root user) from rewriting it after a re-parse
        shutil.copyfile(baked, paths["target"] / PARTIAL_PARSE_FILE)
        return True
    return False


class _ParseWatch:
    """How dbt parsed, from its events as they are fired (a dbtRunner callback).

    Read from the events, not from the log file: dbt rotates ``dbt.log`` at 10 MB, and a
    build's JSON lines (compiled SQL included) can pass that before the run ends.
    """

    def __init__(self) -> None:
        self.found: dict[str, Any] = {"parse": "unknown"}

    def __call__(self, event) -> None:
        name = event.info.name
        if name == "UnableToPartialParse":
            self.found = {"parse": "full", "parse_reason": event.info.msg}
        elif name in ("PartialParsingSkipParsing", "PartialParsingEnabled") and self.found["parse"] != "full":
            self.found = {"parse": "partial"}


def run(step: dict[str, Any], settings=None) -> dict[str, Any]:
    """Run :func:`plan`'s ``step`` with dbt in-process; return the summary (raises :class:`TransformFailed`)."""
    from transform.dbt_runner import run_dbt, summarize

    paths = _paths()
    cold = prepare_work_dirs(paths)
    os.environ["DBT_LOG_FORMAT_FILE"] = "json"
    parse = _ParseWatch()
    settings = settings if settings is not None else aws_secrets.load_settings()
    args = dbt_args(step)
    started = time.monotonic()
    result = run_dbt(
        args,
        settings,
        project_dir=paths["project"],
        target_path=paths["target"],
        log_path=paths["logs"],
        profiles_dir=paths["profiles"],
        callbacks=[parse],
        # dbt's file log lives in /tmp and is lost with the container (CloudWatch gets
        # dbt's stdout); writing it cost about 2 s of a warm invoke (make bench). Off
        # unless the function's environment sets DBT_LOG_LEVEL_FILE.
        log_level_file="none",
    )
    try:
        summary = summarize(result, settings)
    except Exception as exc:  # counting rows is a nicety: report dbt's outcome anyway
        summary = summarize(result)
        summary.failures.append(f"rows not counted: {type(exc).__name__}")
    report = {
        "command": args,
        "success": bool(result.success),
        "statuses": {kind: dict(counts) for kind, counts in summary.statuses.items()},
        "mart_rows": summary.mart_rows,
        "failures": summary.failures,
        "cold_start": cold,
        "elapsed_s": round(time.monotonic() - started, 1),
        **parse.found,
    }
    log.info("dbt %s", json.dumps(report))
    if not result.success:
        raise TransformFailed(f"dbt {' '.join(args)} failed: " + "; ".join(summary.failures or ["see the log"]))
    return report


def handler(event: dict[str, Any] | None, context: Any = None) -> dict[str, Any]:
    """Lambda entry point: run what ``event`` asks for (see the module docstring)."""
    step = plan(event)
    if step is None:
        log.info("nothing to transform: the extraction landed no new rows")
        return {"skipped": True, "reason": "the extraction landed no new rows"}
    return run(step)


def bake(target_dir: Path) -> None:
    """Image build step: ``dbt parse`` the project into ``target_dir`` (kept in the image).

    Uses the same profile, connection keys and project path as the function will, and
    does not connect to the database. Raises :class:`TransformFailed` if parsing fails.
    """
    from extract.settings import Settings
    from transform.dbt_runner import run_dbt

    paths = _paths()
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    paths["profiles"].mkdir(parents=True, exist_ok=True)
    result = run_dbt(
        ["parse"],
        Settings(),
        project_dir=paths["project"],
        target_path=target_dir,
        log_path=paths["logs"],
        profiles_dir=paths["profiles"],
    )
    if not result.success or not (target_dir / PARTIAL_PARSE_FILE).exists():
        raise TransformFailed(f"dbt parse failed: {result.exception}")


if __name__ == "__main__":  # python -m gans_lambda.transform_handler --bake /var/task/dbt_target
    if len(sys.argv) == 3 and sys.argv[1] == "--bake":
        bake(Path(sys.argv[2]))
    else:
        sys.exit("usage: python -m gans_lambda.transform_handler --bake TARGET_DIR")
