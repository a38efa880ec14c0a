"""The run log: runs opened and closed with their counters, errors recorded, idempotency keys."""

from __future__ import annotations

from extract.runlog import RunLog


def test_run_log_records_runs_and_errors(loader_conn):
    runlog = RunLog(loader_conn)
    run = runlog.start("aerodatabox_flights", "test", idempotency_key="sched-1")
    run.counters.requests = 3
    runlog.error(run, {"airport_icao": "EDDB"}, "HTTPError", "503 Service Unavailable", 503, b"<html>busy</html>")
    assert runlog.finish(run) == "failed"
    assert not runlog.already_succeeded("aerodatabox_flights", "sched-1")
    with loader_conn.cursor() as cur:
        cur.execute(
            "select status, requests, errors, finished_at is not null from extract_runs where id = %s", (run.id,)
        )
        assert cur.fetchone() == ("failed", 3, 1, 1)
        cur.execute(
            "select error_type, http_status, body, json_extract(request_key, '$.airport_icao') from extract_errors"
        )
        assert cur.fetchone() == ("HTTPError", 503, "<html>busy</html>", '"EDDB"')
    ok = runlog.start("aerodatabox_flights", "test", idempotency_key="sched-2")
    assert runlog.finish(ok) == "succeeded"
    assert runlog.already_succeeded("aerodatabox_flights", "sched-2")
