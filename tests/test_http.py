"""HTTP client behaviour against a local pytest-httpserver: retries, Retry-After, 204, rate limit, no key leaks.

Waits go through an injected ``sleep`` (recorded, not slept) and the rate limiter runs on a
fake clock, so nothing here depends on wall-clock time.
"""

from __future__ import annotations

import json
import logging
import socket

import pytest
from werkzeug.wrappers import Response

from extract.http import HttpClient, HttpError, TokenBucket, redact

SECRET = "sEcReT-api-key-5551234"


class FakeClock:
    """Monotonic clock that only moves when someone sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(server, **kwargs) -> HttpClient:
    kwargs.setdefault("sleep", lambda s: None)
    kwargs.setdefault("rate_per_minute", 0)
    return HttpClient("test", base_url=server.url_for("/"), **kwargs)


def test_retry_on_503_then_success(httpserver):
    httpserver.expect_oneshot_request("/x").respond_with_data("busy", status=503)
    httpserver.expect_request("/x").respond_with_json({"ok": True})
    sleeps: list[float] = []
    client = _client(httpserver, sleep=sleeps.append, backoff_factor=0.25)
    response = client.get("/x")
    assert response.status == 200 and json.loads(response.body) == {"ok": True}
    assert len(httpserver.log) == 2
    assert sleeps == [0.25]  # one backoff of backoff_factor * 2**0


def test_retry_after_is_honoured_on_429(httpserver):
    httpserver.expect_oneshot_request("/x").respond_with_data("slow down", status=429, headers={"Retry-After": "3"})
    httpserver.expect_request("/x").respond_with_data("fine")
    sleeps: list[float] = []
    client = _client(httpserver, sleep=sleeps.append, backoff_factor=10)
    assert client.get("/x").status == 200
    assert sleeps == [3.0]  # Retry-After, not the (large) backoff
    assert client.retry_waits == [("Retry-After", 3.0)]


def test_retry_after_is_capped(httpserver):
    httpserver.expect_oneshot_request("/x").respond_with_data("", status=503, headers={"Retry-After": "86400"})
    httpserver.expect_request("/x").respond_with_data("fine")
    sleeps: list[float] = []
    client = _client(httpserver, sleep=sleeps.append, max_retry_after=5)
    assert client.get("/x").status == 200
    assert sleeps == [5.0]


def test_500_after_retries_returns_last_response(httpserver):
    httpserver.expect_request("/x").respond_with_data("broken body", status=500)
    sleeps: list[float] = []
    client = _client(httpserver, sleep=sleeps.append, max_retries=3, backoff_factor=1)
    response = client.get("/x")
    assert (response.status, response.body) == (500, b"broken body")
    assert len(httpserver.log) == 4  # first attempt + 3 retries
    assert sleeps == [1, 2, 4]  # exponential backoff


def test_4xx_is_not_retried(httpserver):
    httpserver.expect_request("/x").respond_with_data("nope", status=404)
    client = _client(httpserver)
    assert client.get("/x").status == 404
    assert len(httpserver.log) == 1


def test_204_is_returned_as_is(httpserver):
    httpserver.expect_request("/flights").respond_with_response(Response(status=204))
    response = _client(httpserver).get("/flights")
    assert (response.status, response.body) == (204, b"")
    assert len(httpserver.log) == 1


def test_rate_limit_spaces_requests_on_a_fake_clock(httpserver):
    httpserver.expect_request("/x").respond_with_data("ok")
    clock = FakeClock()
    limiter = TokenBucket(60, capacity=1, clock=clock, sleep=clock.sleep)
    client = _client(httpserver, limiter=limiter)
    for _ in range(5):
        client.get("/x")
    assert len(limiter.acquired_at) == 5
    gaps = [b - a for a, b in zip(limiter.acquired_at, limiter.acquired_at[1:], strict=False)]
    assert all(gap >= 1.0 - 1e-9 for gap in gaps)  # 60/min: one per second
    assert sum(clock.sleeps) == pytest.approx(4.0)


def test_retries_take_rate_limit_tokens(httpserver):
    httpserver.expect_oneshot_request("/x").respond_with_data("", status=502)
    httpserver.expect_request("/x").respond_with_data("ok")
    clock = FakeClock()
    limiter = TokenBucket(30, capacity=1, clock=clock, sleep=clock.sleep)
    client = _client(httpserver, limiter=limiter, backoff_factor=0)
    client.get("/x")
    assert len(limiter.acquired_at) == 2
    assert limiter.acquired_at[1] - limiter.acquired_at[0] >= 2.0 - 1e-9  # 30/min


def test_token_bucket_burst():
    clock = FakeClock()
    bucket = TokenBucket(60, capacity=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(1.0)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_key_never_in_errors_or_logs_on_connection_failure(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    client = HttpClient(
        "openweather",
        base_url=f"http://127.0.0.1:{_closed_port()}",
        secret_params={"appid": SECRET},
        max_retries=2,
        backoff_factor=0,
        rate_per_minute=0,
        timeout=2,
    )
    with pytest.raises(HttpError) as info:
        client.get("/data/2.5/forecast", {"lat": 1, "lon": 2})
    assert SECRET not in str(info.value)
    assert "openweather" in str(info.value)
    assert "retry" in caplog.text.lower()  # urllib3 and our retry lines were logged...
    assert SECRET not in caplog.text  # ...without the key
    assert info.value.__cause__ is None


def test_key_sent_but_never_returned_or_logged(httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    httpserver.expect_oneshot_request("/data").respond_with_data("", status=503)
    httpserver.expect_request("/data").respond_with_json({"ok": 1})
    client = _client(
        httpserver,
        secret_params={"appid": SECRET},
        headers={"X-RapidAPI-Key": SECRET + "h", "X-RapidAPI-Host": "example"},
    )
    response = client.get("/data", {"lat": 1})
    request = httpserver.log[-1][0]
    assert request.args["appid"] == SECRET and request.headers["X-RapidAPI-Key"] == SECRET + "h"
    assert response.params == {"lat": 1}
    assert SECRET not in repr(response)
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]  # werkzeug is the test server's log
    assert any(r.name.startswith("urllib3") for r in ours)
    assert all(SECRET not in r.getMessage() for r in ours)


def test_redact():
    from extract.http import register_secret

    register_secret(SECRET)
    assert redact(f"GET /x?appid={SECRET}&lat=1 and {SECRET}") == "GET /x?appid=***&lat=1 and ***"
    assert redact("https://h/p?key=abc123&x=1") == "https://h/p?key=***&x=1"


def test_user_agent_sent(httpserver):
    httpserver.expect_request(
        "/wiki/Berlin", headers={"User-Agent": "GansTest/1.0 (ops@example.org)"}
    ).respond_with_data("<html></html>")
    client = _client(httpserver, headers={"User-Agent": "GansTest/1.0 (ops@example.org)"})
    assert client.get("/wiki/Berlin").status == 200
