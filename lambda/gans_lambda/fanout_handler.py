"""Lambda steps of the fan-out state machine (``ExtractStateMachine`` in ``template.yaml``).

EventBridge Scheduler starts one execution per schedule with the extract event of
:mod:`gans_lambda.extract_handler` (``schedule``, ``scheduled_time``, ``sources``, ``window``,
``transform``). The state machine calls this function with ``{"step": ..., ...}``:

- ``{"step": "plan", "event": <the schedule's event>}``: plan every source of the event
  (:func:`extract.fanout.plan`, no HTTP) and store the batches; returns the state the machine
  carries: ``{"plan_key", "sources", "window", "cities", "concurrency", "round": 0, "items",
  "batches", "keys", "problems", "transform"}``. ``items`` are small references
  (``{plan_key, source, round, batch, keys}``), the keys stay in ``gans_raw.extract_plan_batches``;
  ``max_rounds`` (``GANS_FANOUT_MAX_ROUNDS``) and ``tolerated_failure_percentage``
  (``GANS_FANOUT_TOLERATED_FAILURE_PCT``) are read by the Map and the round loop.
  The plan key is ``<schedule>@<scheduled_time UTC>`` (so a re-run of the same scheduled time
  finds its plan), or the event's ``idempotency_key``.
- ``{"step": "batch", "item": <item>, "window", "cities", "concurrency"}``: run one batch
  (:func:`extract.fanout.run_batch`) with ``1/min(concurrency, batches of the API in the round)`` of
  the API's rate (:func:`extract.fanout.rate_parallelism`) and a deadline of the
  invocation's remaining time minus ``GANS_FANOUT_MARGIN_S`` (default 90 s); keys left are stored
  for the next round. Per-key failures (a bad city, after the HTTP client's own retries) are
  reported, not raised; raises :class:`BatchFailed` when every request of the batch failed (API
  down, key revoked) so Step Functions retries the batch with backoff.
- ``{"step": "collect", "state": <the carried state, with "map_error" when the Map failed>}``:
  :func:`extract.fanout.collect`; returns the carried state with ``round`` + 1, the next round's
  ``items``, ``landed_total``
  (rows every batch of the plan landed, all attempts), ``errors``/``error_keys``/``failed_runs`` and
  ``ok`` (nothing failed and the Map completed). The machine runs the next round while there are
  items and rounds left, then the transform once when ``landed_total`` is above 0.

``GANS_FANOUT_CONCURRENCY`` (the template's ``ExtractConcurrency``, also the Map's
``MaxConcurrency``) is the most batches running at once, which share the rate; ``GANS_FANOUT_MAX_BATCH_S``
(default 600) the API time a batch may plan. ``GANS_API_BASE_URLS`` and ``GANS_SPOOL_DIR`` as for
the extract function.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from gans_lambda import aws_secrets
from gans_lambda.extract_handler import BadExtractEvent, _base_urls, _instant, log_freshness, parse_event

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

DEFAULT_MARGIN_S = 90.0
DEFAULT_MAX_ROUNDS = 3
DEFAULT_TOLERATED = 10.0


class BatchFailed(RuntimeError):
    """Every request of a batch failed: worth a retry of the whole batch (Step Functions does it)."""


def _concurrency(value: Any = None) -> int:
    raw = value if value is not None else os.environ.get("GANS_FANOUT_CONCURRENCY", "1")
    try:
        concurrency = int(raw)
    except (TypeError, ValueError):
        raise BadExtractEvent(f"concurrency must be an integer, got {raw!r}") from None
    if concurrency < 1:
        raise BadExtractEvent(f"concurrency must be at least 1, got {concurrency}")
    return concurrency


def _window_out(window) -> dict[str, str] | None:
    return None if window is None else {"start": window[0].isoformat(), "end": window[1].isoformat()}


def _window_in(value: Any):
    if value is None:
        return None
    return _instant(value.get("start"), "window.start"), _instant(value.get("end"), "window.end")


def plan_step(event: dict[str, Any], settings=None) -> dict[str, Any]:
    """The ``plan`` step: plan and store every source of the schedule's event (see the module docstring)."""
    from extract import db
    from extract.fanout import MAX_BATCH_API_SECONDS, plan, save_plan

    request = parse_event(event)
    plan_key = request["idempotency_key"]
    if not plan_key:
        raise BadExtractEvent("a fan-out needs a schedule and scheduled_time, or an idempotency_key")
    settings = settings or aws_secrets.load_settings()
    concurrency = _concurrency(event.get("concurrency"))
    max_batch_s = float(os.environ.get("GANS_FANOUT_MAX_BATCH_S", MAX_BATCH_API_SECONDS))
    items, problems, keys = [], [], 0
    conn = db.connect(settings, "loader")
    try:
        for source in request["sources"]:
            planned = plan(
                settings,
                source,
                plan_key=plan_key,
                concurrency=concurrency,
                cities=request["cities"],
                window=request["window"],
                max_batch_seconds=max_batch_s,
                conn=conn,
            )
            stored = save_plan(conn, planned)
            items += [b.item() for b in stored]
            keys += sum(len(b.request_keys) for b in stored)
            problems += [
                {"source": source, "request_key": k, "error_type": t, "message": m} for k, t, m in planned.problems
            ]
    finally:
        conn.close()
    state = {
        "plan_key": plan_key,
        "sources": request["sources"],
        "window": _window_out(request["window"]),
        "cities": request["cities"],
        "concurrency": concurrency,
        "max_rounds": int(os.environ.get("GANS_FANOUT_MAX_ROUNDS", DEFAULT_MAX_ROUNDS)),
        "tolerated_failure_percentage": float(os.environ.get("GANS_FANOUT_TOLERATED_FAILURE_PCT", DEFAULT_TOLERATED)),
        "round": 0,
        "items": items,
        "batches": len(items),
        "keys": keys,
        "problems": problems[:20],
        "problem_count": len(problems),
        "transform": request["transform"] or {},
    }
    log.info("plan %s: %d batches, %d keys, %d problems", plan_key, len(items), keys, len(problems))
    return state


def batch_step(event: dict[str, Any], context: Any = None, settings=None) -> dict[str, Any]:
    """The ``batch`` step: run one stored batch under the invocation's time guard."""
    from extract.fanout import run_batch

    item = event.get("item")
    if not isinstance(item, dict) or not {"plan_key", "source", "round", "batch"} <= set(item):
        raise BadExtractEvent("item must be a plan item {plan_key, source, round, batch}")
    deadline = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        margin = float(os.environ.get("GANS_FANOUT_MARGIN_S", DEFAULT_MARGIN_S))
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000.0 - margin
    settings = settings or aws_secrets.load_settings()
    result = run_batch(
        settings,
        item,
        concurrency=_concurrency(event.get("concurrency")),
        window=_window_in(event.get("window")),
        cities=event.get("cities"),
        deadline=deadline,
        trigger="lambda",
        base_urls=_base_urls(),
        spool_dir=os.environ.get("GANS_SPOOL_DIR", "/tmp/gans/spool"),
    )
    log.info("batch result %s", json.dumps(result))
    if result["status"] == "failed" and result["requests"] > 0 and result["errors"] >= result["requests"]:
        raise BatchFailed(
            f"batch {result['idempotency_key']}: all {result['requests']} requests failed; see extract_errors"
        )
    return result


def collect_step(event: dict[str, Any], settings=None) -> dict[str, Any]:
    """The ``collect`` step: totals of the plan so far and the next round's items."""
    from extract.fanout import collect

    settings = settings or aws_secrets.load_settings()
    round_no = int(event.get("round", 0))
    found = collect(settings, event["plan_key"], event["sources"], round_no)
    map_error = event.get("map_error")
    state = {k: v for k, v in event.items() if k not in ("step", "map_error", "items", "transform_result")}
    state.update(
        {
            "round": round_no + 1,
            "items": found["next_items"],
            "landed_total": found["landed_total"],
            "runs": found["runs"],
            "failed_runs": found["failed_runs"],
            "running_runs": found["running_runs"],
            "errors": found["errors"],
            "error_keys": found["error_keys"],
            "map_failed": bool(map_error) or bool(event.get("map_failed")),
        }
    )
    state["ok"] = (
        not state["map_failed"]
        and found["errors"] == 0
        and found["failed_runs"] == 0
        and found["running_runs"] == 0
        and not event.get("problem_count")
    )
    log.info("collect %s", json.dumps({k: v for k, v in state.items() if k != "items"}, default=str))
    try:  # the schedules run through here, not the extract function: the freshness alarms read these lines
        log_freshness(settings)
    except Exception:  # the metric is a nicety next to the plan's own outcome
        log.exception("could not log the sources' freshness")
    return state


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point: dispatch on ``event["step"]`` (``plan``, ``batch`` or ``collect``)."""
    step = event.get("step") if isinstance(event, dict) else None
    if step == "plan":
        inner = event.get("event")
        if not isinstance(inner, dict):
            raise BadExtractEvent("the plan step needs the schedule's event under 'event'")
        return plan_step({**inner, **({"concurrency": event["concurrency"]} if "concurrency" in event else {})})
    if step == "batch":
        return batch_step(event, context)
    if step == "collect":
        state = event.get("state")
        if not isinstance(state, dict) or "plan_key" not in state:
            raise BadExtractEvent("the collect step needs the carried state under 'state'")
        return collect_step(state)
    raise BadExtractEvent(f"step must be plan, batch or collect, got {step!r}")


__all__ = ["BatchFailed", "batch_step", "collect_step", "handler", "plan_step"]
