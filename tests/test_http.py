"""HTTP client behaviour against a local pytest-httpserver: retries, Retry-After, 204, rate limit, no key leaks.

Waits go through an injected ``sleep`` (recorded, not slept) and the rate limiter (pyrate-limiter)
runs non-blocking on a fake clock, so a request over the limit is refused instead of waited for and
nothing here depends on wall-clock time.
"""

from __future__ import annotations

import json
import logging
import socket

import pytest
from pyrate_limiter import AbstractClock
from werkzeug.wrappers import Response

from extract.http import HttpClient, HttpError, RateLimited, RateLimiter, redact, redact_body, register_secret

SECRET = "sEcReT-api-key-5551234"


class FakeClock(AbstractClock):
    """pyrate-limiter clock (integer milliseconds) that only moves when the test says so."""

    def __init__(self):
        self.ms = 1_000_000

    def now(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += round(seconds * 1000)


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


@pytest.mark.parametrize(
    "status, retry_after, options, wait",
    [
        (429, "3", {"backoff_factor": 10}, 3.0),  # Retry-After, not the (large) backoff
        (503, "86400", {"max_retry_after": 5}, 5.0),  # a day asked: capped
    ],
    ids=["honoured_on_429", "capped"],
)
def test_retry_after(httpserver, status, retry_after, options, wait):
    httpserver.expect_oneshot_request("/x").respond_with_data(
        "busy", status=status, headers={"Retry-After": retry_after}
    )
    httpserver.expect_request("/x").respond_with_data("fine")
    sleeps: list[float] = []
    client = _client(httpserver, sleep=sleeps.append, **options)
    assert client.get("/x").status == 200
    assert sleeps == [wait]
    assert client.retry_waits == [("Retry-After", wait)]


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


def test_rate_limit_holds_back_the_request_over_the_limit(httpserver):
    httpserver.expect_request("/x").respond_with_data("ok")
    clock = FakeClock()
    limiter = RateLimiter(2, burst=2, blocking=False, clock=clock, name="test")
    client = _client(httpserver, limiter=limiter)
    assert client.get("/x").status == 200
    assert client.get("/x").status == 200
    with pytest.raises(RateLimited, match="2/min"):
        client.get("/x")
    assert len(httpserver.log) == 2  # the third request was never sent
    clock.advance(29.9)
    with pytest.raises(RateLimited):
        client.get("/x")  # 2/min refills one token per 30 s
    clock.advance(0.1)
    assert client.get("/x").status == 200
    assert len(httpserver.log) == 3
    assert limiter.granted == 3


def test_rate_limit_spaces_requests_without_burst(httpserver):
    httpserver.expect_request("/x").respond_with_data("ok")
    clock = FakeClock()
    client = _client(httpserver, limiter=RateLimiter(60, blocking=False, clock=clock))
    client.get("/x")
    with pytest.raises(RateLimited):
        client.get("/x")  # burst 1: the next token comes a second later
    clock.advance(1.0)
    client.get("/x")
    assert len(httpserver.log) == 2


def test_retries_take_rate_limit_tokens(httpserver):
    httpserver.expect_ordered_request("/x").respond_with_data("", status=502)
    httpserver.expect_ordered_request("/x").respond_with_data("", status=502)
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    clock = FakeClock()
    limiter = RateLimiter(2, burst=2, blocking=False, clock=clock)
    client = _client(httpserver, limiter=limiter, backoff_factor=0)
    with pytest.raises(RateLimited):
        client.get("/x")  # first attempt and first retry take both tokens; the second retry is refused
    assert len(httpserver.log) == 2
    assert limiter.granted == 2


def test_rate_limit_zero_disables_it(httpserver):
    httpserver.expect_request("/x").respond_with_data("ok")
    limiter = RateLimiter(0, blocking=False, clock=FakeClock())
    client = _client(httpserver, limiter=limiter)
    for _ in range(20):
        assert client.get("/x").status == 200
    assert not limiter.enabled and limiter.granted == 20


def test_client_builds_a_limiter_at_its_rate(httpserver):
    client = _client(httpserver, rate_per_minute=30, burst=3)
    assert client.limiter.enabled and client.limiter.blocking
    assert (client.limiter.bucket.rates[0].limit, client.limiter.bucket.rates[0].burst) == (30, 3)


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


def test_redact_body_keeps_other_bytes_and_hides_keys():
    register_secret("body-secret-key-2718")
    latin1 = "Zürich".encode("latin-1") + b" \xff\x00 body-secret-key-2718 ?appid=unregistered-1"
    cleaned = redact_body(latin1)
    assert cleaned == "Zürich".encode("latin-1") + b" \xff\x00 *** ?appid=***"  # undecodable bytes kept
    assert redact_body(latin1, patterns=False).endswith(b"*** ?appid=unregistered-1")
    clean = b'{"temp": 20.5}'
    assert redact_body(clean) is clean


def test_per_host_limit_gives_each_origin_its_own_bucket(httpserver):
    """GBFS: every operator is its own server; one host's spent limit does not hold back another's."""
    httpserver.expect_request("/x").respond_with_data("ok")
    port = httpserver.port
    clock = FakeClock()
    per_host = RateLimiter(60, blocking=False, clock=clock, per_host=True)
    client = HttpClient("gbfs", limiter=per_host, sleep=lambda s: None)
    assert client.get(f"http://127.0.0.1:{port}/x").status == 200
    assert client.get(f"http://localhost:{port}/x").status == 200  # another origin: its own token
    with pytest.raises(RateLimited):
        client.get(f"http://127.0.0.1:{port}/x")  # 127.0.0.1's token is spent for a second
    clock.advance(1.0)
    assert client.get(f"http://127.0.0.1:{port}/x").status == 200
    assert len(httpserver.log) == 3 and per_host.granted == 3
    assert sorted(per_host._hosts) == [f"127.0.0.1:{port}", f"localhost:{port}"]

    shared = HttpClient("one", limiter=RateLimiter(60, blocking=False, clock=FakeClock()), sleep=lambda s: None)
    shared.get(f"http://127.0.0.1:{port}/x")
    with pytest.raises(RateLimited):
        shared.get(f"http://localhost:{port}/x")  # without per_host every origin shares the one bucket


def test_interleave_by_host_takes_hosts_in_turn():
    from extract.http import interleave_by_host

    items = ["a1", "a2", "a3", "b1", "c1", "b2"]
    assert interleave_by_host(items, lambda s: s[0]) == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert interleave_by_host([], lambda s: s) == []
