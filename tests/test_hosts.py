"""Hosts that cannot be reached cost a few connection attempts, not retries with backoff on every key.

Real failures, nothing mocked but the count: a local port nobody listens on (connection refused),
a hostname under ``.invalid`` (RFC 2606: never resolves), and plain HTTP answered to a TLS
handshake (TLS error). Connection attempts are counted by wrapping urllib3's
``create_connection`` (every attempt, first or retried, goes through it), so the tests assert
how many attempts a dead host cost, not how long the run took. The runner tests go through
:func:`extract.runner.extract` and the test MariaDB: every key of a dead host is an
``extract_errors`` row with the reason, the summary counts them, and the keys of the hosts that
answer still land.
"""

from __future__ import annotations

import json
import socket
from collections import Counter

import pytest
import urllib3.util.connection
from db_helpers import query
from pydantic import SecretStr

from extract.http import HostCircuitBreaker, HostUnreachable, HttpClient, HttpError, url_origin
from extract.runner import extract

DEAD_DNS = "gbfs-down.gans-test.invalid"
FAILURES = 3


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def attempts(monkeypatch) -> Counter:
    """Connection attempts per ``host:port``, counted where urllib3 opens every connection."""
    counted: Counter = Counter()
    real = urllib3.util.connection.create_connection

    def create_connection(address, *args, **kwargs):
        counted[f"{address[0]}:{address[1]}"] += 1
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return counted


def _client(base_url: str, **kwargs) -> HttpClient:
    options = {"max_retries": 5, "backoff_factor": 0, "rate_per_minute": 0, "timeout": 5, "sleep": lambda s: None}
    return HttpClient("test", base_url=base_url, **{**options, **kwargs})


def test_refused_port_costs_three_attempts_then_fails_fast(attempts):
    port = _closed_port()
    client = _client(f"http://127.0.0.1:{port}")
    with pytest.raises(HttpError) as first:
        client.get("/a")
    # the first key's retries stop when the breaker opens: 3 attempts, not 1 + 5 retries
    assert attempts[f"127.0.0.1:{port}"] == FAILURES
    assert "unreachable after 3 consecutive connection failures" in str(first.value)
    assert not isinstance(first.value, HostUnreachable)
    for path in ("/b", "/c", "/d"):
        with pytest.raises(HostUnreachable) as later:
            client.get(path)
        assert f"host 127.0.0.1:{port} unreachable" in str(later.value) and "not tried" in str(later.value)
        assert later.value.host == f"127.0.0.1:{port}"
    assert attempts[f"127.0.0.1:{port}"] == FAILURES  # nothing more was sent
    assert client.breaker.open_hosts == [f"127.0.0.1:{port}"]


def test_unresolvable_name_is_a_connection_failure(attempts):
    client = _client(f"http://{DEAD_DNS}")
    with pytest.raises(HttpError):
        client.get("/gbfs.json")
    with pytest.raises(HostUnreachable):
        client.get("/vehicle_status.json")
    assert attempts[f"{DEAD_DNS}:80"] == FAILURES


def test_tls_error_counts_one_attempt_per_key_until_open(httpserver, attempts):
    httpserver.expect_request("/x").respond_with_data("plain http")
    host = f"{httpserver.host}:{httpserver.port}"
    client = _client(f"https://{host}")
    for _ in range(FAILURES):  # urllib3 does not retry a TLS error: one attempt per key
        with pytest.raises(HttpError) as info:
            client.get("/x")
        assert "SSLError" in str(info.value)
    with pytest.raises(HostUnreachable):
        client.get("/x")
    assert attempts[host] == FAILURES


def test_http_error_statuses_never_open_the_host(httpserver, attempts):
    """An HTTP 500 is the API answering: retried as before, never counted as a connection failure."""
    httpserver.expect_request("/x").respond_with_data("down", status=500)
    client = _client(httpserver.url_for("/"), max_retries=2)
    for _ in range(4):
        assert client.get("/x").status == 500
    assert len(httpserver.log) == 4 * 3 and client.breaker.open_hosts == []


def test_a_response_resets_the_count_and_hosts_are_counted_apart():
    breaker = HostCircuitBreaker(3)
    error = ConnectionRefusedError("refused")
    assert not breaker.failed("a", error) and not breaker.failed("a", error)
    breaker.answered("a")
    assert not breaker.failed("a", error) and not breaker.failed("a", error)
    assert not breaker.failed("b", error) and not breaker.is_open("b")
    assert breaker.failed("a", error) and breaker.is_open("a") and not breaker.is_open("b")
    assert HostCircuitBreaker(0).failed("a", error) is False  # 0 disables it
    assert url_origin("https://Data.Lime.bike:443/x") == "data.lime.bike"
    assert url_origin("http://127.0.0.1:8080/x") == "127.0.0.1:8080"


# --------------------------------------------------------------------------------------
# Through the runner and the test MariaDB

V3_DISCOVERY = {
    "last_updated": "2024-05-08T10:00:00+02:00",
    "ttl": 0,
    "version": "3.0",
    "data": {"feeds": [{"name": "system_information", "url": "{root}/live/system_information.json"}]},
}
INFO = {"last_updated": "2024-05-08T10:00:00+02:00", "ttl": 0, "version": "3.0", "data": {"system_id": "live"}}


def test_dead_hosts_end_the_run_in_a_few_attempts_and_the_others_land(settings, httpserver, tmp_path, attempts):
    """Wikipedia's host does not resolve, OpenWeather's port refuses, and among GBFS's systems, four are on a
    refused port, four on a name that does not resolve and two on a server that answers: a few attempts
    per dead host, every key of it an error row with the reason, counted in the summary; the live
    operator's feeds land."""
    root = httpserver.url_for("/").rstrip("/")
    discovery = json.loads(json.dumps(V3_DISCOVERY).replace("{root}", root))
    httpserver.expect_request("/live/gbfs.json").respond_with_json(discovery)
    httpserver.expect_request("/live/system_information.json").respond_with_json(INFO)
    refused = _closed_port()
    lines = ["operator,system_id,discovery_url,city_name"]
    for i in range(4):
        lines.append(f"Refused,refused_{i},http://127.0.0.1:{refused}/{i}/gbfs.json,Berlin")
        lines.append(f"Nxdomain,nxdomain_{i},https://{DEAD_DNS}/{i}/gbfs.json,Hamburg")
    lines += [f"Live,live_{i},{root}/live/gbfs.json,Munich" for i in range(2)]
    systems = tmp_path / "systems.csv"
    systems.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ow_port = _closed_port()
    run_settings = settings.model_copy(
        update={
            "gbfs_systems_file": systems,
            "openweather_api_key": SecretStr("hosts-test-key-1234"),
            "http_max_retries": 5,
        }
    )
    summary = extract(
        run_settings,
        sources=["wikipedia", "openweather", "gbfs"],
        base_urls={"wikipedia": "http://wiki.gans-test.invalid", "openweather": f"http://127.0.0.1:{ow_port}"},
        http_options={"sleep": lambda s: None, "rate_per_minute": 0},
    )

    # a few attempts per dead host, whatever its number of keys (16 cities; 4 systems)
    assert attempts["wiki.gans-test.invalid:80"] == FAILURES
    assert attempts[f"127.0.0.1:{ow_port}"] == FAILURES
    assert attempts[f"127.0.0.1:{refused}"] == FAILURES
    assert attempts[f"{DEAD_DNS}:443"] == FAILURES

    cities = 16
    wiki, ow, gbfs = (summary.result(s) for s in ("wikipedia", "openweather", "gbfs"))
    assert (wiki.requests, wiki.unreachable, wiki.errors, wiki.landed) == (1, cities - 1, cities, 0)
    assert (ow.requests, ow.unreachable, ow.errors, ow.landed) == (1, cities - 1, cities, 0)
    assert wiki.unreachable_hosts == {"wiki.gans-test.invalid": cities - 1}
    # GBFS: the live systems' discovery and feed land; each dead system: its discovery failed, no feeds known
    assert gbfs.landed == 4 and gbfs.requests == 4 + 2
    assert gbfs.unreachable_hosts == {f"127.0.0.1:{refused}": 3, DEAD_DNS: 3}
    assert gbfs.errors == 8 + 8  # a failed or unsent discovery, then "no feeds" for each dead system
    assert not summary.ok and all(r.status == "failed" for r in (wiki, ow, gbfs))
    notices = "\n".join(summary.notices)
    assert f"gbfs: 3 requests not sent: host 127.0.0.1:{refused} unreachable" in notices
    assert "openweather: 15 requests not sent" in notices
    assert "15 not sent (host down)" in str(summary.table().columns[-1]._cells[0])

    rows = query(
        settings,
        "select source, json_unquote(json_extract(request_key, '$.city')), error_type, message"
        " from extract_errors where source in ('wikipedia', 'openweather') order by id",
        role="loader",
    )
    gbfs_rows = query(
        settings,
        "select json_unquote(json_extract(request_key, '$.system_id')), error_type, message"
        " from extract_errors where source = 'gbfs' and error_type <> 'NoFeeds' order by id",
        role="loader",
    )
    landed = query(settings, "select system_id, feed from gbfs_feeds order by system_id, feed", role="loader")
    for source in ("wikipedia", "openweather"):
        mine = [r for r in rows if r[0] == source]
        assert len({r[1] for r in mine}) == cities  # one row per city, each with the reason
        assert [r[2] for r in mine] == ["HttpError"] + ["HostUnreachable"] * (cities - 1)
        assert all("unreachable after 3 consecutive connection failures" in r[3] for r in mine)
        assert all("not tried" in r[3] for r in mine[1:])
    assert sorted(r[0] for r in gbfs_rows) == sorted(
        [f"refused_{i}" for i in range(4)] + [f"nxdomain_{i}" for i in range(4)]
    )
    assert all("unreachable" in r[2] for r in gbfs_rows)
    assert "hosts-test-key-1234" not in json.dumps(rows, default=str)
    assert landed == [
        ("live_0", "gbfs"),
        ("live_0", "system_information"),
        ("live_1", "gbfs"),
        ("live_1", "system_information"),
    ]
