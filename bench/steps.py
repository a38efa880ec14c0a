"""Steps that the benchmark runs in a fresh child process (cold imports, own peak RSS).

``python -m bench.steps replay DIR`` | ``dbt ARG...`` | ``lambda-bake DIR`` | ``lambda EVENT_JSON``

Each prints one JSON object on its last stdout line with its own timings in seconds
(``import_s``: module imports; the rest: the work itself). The parent reads the
child's peak RSS from ``os.wait4``. Connection settings come from the ``GANS_*``
environment the parent sets.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from extract.settings import PROJECT_ROOT

DBT_PROJECT = PROJECT_ROOT / "dbt_project"


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process image in MB (Linux ``VmHWM``), None where unavailable.

    Not ``ru_maxrss``: on Linux a child's ``ru_maxrss`` starts at its parent's RSS at
    fork, so it would report the harness's memory, not the step's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _emit(result: dict) -> None:
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


def step_replay(recordings: str) -> dict:
    """Land every recording of ``recordings`` through extract.runner.replay."""
    t0 = time.perf_counter()
    from extract.runner import replay
    from extract.settings import Settings

    t1 = time.perf_counter()
    summary = replay(Settings(), Path(recordings), trigger="bench", progress=False)
    t2 = time.perf_counter()
    return {"import_s": t1 - t0, "replay_s": t2 - t1, "summary": repr(summary)[:500]}


def dbt_paths() -> dict:
    """Target, log and profiles folders of the benchmark's dbt runs (under the git-ignored work folder)."""
    work = Path(os.environ.get("GANS_BENCH_WORK", PROJECT_ROOT / "bench" / "work"))
    return {"target_path": work / "dbt_target", "log_path": work / "dbt_logs", "profiles_dir": work / "dbt_profiles"}


def step_dbt(args: list[str]) -> dict:
    """One dbt invocation through transform.dbt_runner.run_dbt (dbtRunner in this process)."""
    t0 = time.perf_counter()
    from extract.settings import Settings
    from transform.dbt_runner import run_dbt

    t1 = time.perf_counter()
    res = run_dbt(args, Settings(), **dbt_paths())
    t2 = time.perf_counter()
    nodes = len(res.result) if isinstance(getattr(res, "result", None), list | tuple) else None
    if nodes is None and hasattr(res.result, "results"):
        nodes = len(res.result.results)
    failed = []
    if hasattr(res.result, "results"):
        failed = [str(r.node.unique_id) for r in res.result.results if str(r.status) in ("error", "fail")]
    return {
        "import_s": t1 - t0,
        "dbt_s": t2 - t1,
        "success": bool(res.success),
        "nodes": nodes,
        "failed": failed[:20],
        "exception": repr(res.exception)[:500] if res.exception else None,
    }


def step_lambda_bake(target_dir: str) -> dict:
    """The image build's ``dbt parse`` into ``target_dir`` (the shipped manifest)."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(PROJECT_ROOT / "lambda"))
    from gans_lambda import transform_handler

    transform_handler.bake(Path(target_dir))
    return {"bake_s": time.perf_counter() - t0}


def step_lambda(event_json: str) -> dict:
    """Import the transform handler cold, then invoke it twice in the same process."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(PROJECT_ROOT / "lambda"))
    from gans_lambda import transform_handler

    t1 = time.perf_counter()
    event = json.loads(event_json)
    first = transform_handler.handler(event, None)
    t2 = time.perf_counter()
    warm = transform_handler.handler(event, None)
    t3 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "first_s": t2 - t1,
        "warm_s": t3 - t2,
        "first_result": _short(first),
        "warm_result": _short(warm),
    }


def _short(value) -> str:
    try:
        return json.dumps(value, default=str)[:300]
    except (TypeError, ValueError):
        return repr(value)[:300]


def main(argv: list[str]) -> int:
    """Dispatch ``argv[0]`` (replay, dbt, lambda); exit 0 on success, 1 when the work failed."""
    step, rest = argv[0], argv[1:]
    if step == "replay":
        result = step_replay(rest[0])
    elif step == "dbt":
        result = step_dbt(rest)
    elif step == "lambda-bake":
        result = step_lambda_bake(rest[0])
    elif step == "lambda":
        result = step_lambda(rest[0])
    else:
        raise SystemExit(f"unknown step {step!r}")
    _emit(result)
    return 0 if result.get("success", True) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
