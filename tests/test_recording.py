"""The manifest format: reading the shared corpus, writing with Recorder, round trips, bad lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from extract.http import register_secret
from extract.recording import ManifestError, Recorder, format_instant, parse_instant, read_manifest
from extract.response import Response

SECRET = "rec-secret-key-424242"


def _fetched(key, when, body=b'{"a": 1}', params=None, source="openweather", status=200) -> Response:
    return Response(
        source,
        key,
        "GET",
        f"https://api.example/x?appid={SECRET}",
        params or {},
        when,
        status,
        "application/json",
        body,
    )


@pytest.mark.recordings
def test_shared_manifest_reads_in_fetched_at_order(recordings):
    entries = read_manifest(recordings)
    lines = [line for line in (recordings / "manifest.jsonl").read_text().splitlines() if line.strip()]
    assert len(entries) == len(lines)
    assert [e.fetched_at for e in entries] == sorted(e.fetched_at for e in entries)
    assert all(e.fetched_at.tzinfo is not None for e in entries)
    assert all(e.body_path.is_file() for e in entries)
    first = entries[0]
    assert (first.source, first.key) == (
        "aerodatabox_flights",
        {"airport_icao": "EDDB", "from_local": "2022-10-07T14:00", "to_local": "2022-10-07T23:00"},
    )
    only = read_manifest(recordings, {"wikipedia"})
    assert [e.source for e in only] == ["wikipedia", "wikipedia"]
    assert only[0].fetched_at_estimated is True


def test_round_trip_and_secrets_stripped(tmp_path):
    rec = Recorder(tmp_path)
    t0 = datetime(2024, 6, 18, 10, 30, 5, 123456, tzinfo=UTC)
    rec.record(_fetched({"city": "Zürich"}, t0 + timedelta(hours=1), params={"lat": 1, "appid": SECRET}))
    rec.record(_fetched({"city": "Zürich"}, t0, body=b'{"a": 2}'))
    rec.record(_fetched({"city": "O'Hare; --"}, t0, body=b"<html/>"))
    text = (tmp_path / "manifest.jsonl").read_text(encoding="utf-8")
    assert SECRET not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert set(lines[0]) >= {"source", "key", "request", "fetched_at", "status", "content_type", "body"}
    assert lines[0]["request"]["params"] == {"lat": 1}
    assert lines[0]["fetched_at"] == "2024-06-18T11:30:05.123456Z"  # microseconds kept
    entries = read_manifest(tmp_path)
    assert [e.key["city"] for e in entries] == ["Zürich", "O'Hare; --", "Zürich"]  # by fetched_at, ties by line
    assert [e.read().body for e in entries] == [b'{"a": 2}', b"<html/>", b'{"a": 1}']
    assert len({e.body for e in entries}) == 3  # distinct body files
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize(
    "line, message",
    [
        ("not json", "not JSON"),
        ('{"source": "wikipedia"}', "missing field"),
        (
            '{"source":"x","key":{},"request":{"url":"u"},"fetched_at":"yesterday","status":200,"body":"b"}',
            "bad field",
        ),
        (
            '{"source":"x","key":{},"request":{"url":"u"},"fetched_at":"2024-01-01T00:00:00Z","status":200,'
            '"body":"../../etc/passwd"}',
            "inside the folder",
        ),
    ],
)
def test_bad_lines_name_the_line(tmp_path, line, message):
    (tmp_path / "manifest.jsonl").write_text("\n" + line + "\n")
    with pytest.raises(ManifestError, match=rf"manifest.jsonl:2: .*{message}"):
        read_manifest(tmp_path)


def test_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path)


def test_format_instant_requires_aware():
    with pytest.raises(ValueError):
        format_instant(datetime(2024, 1, 1))


def test_format_instant_keeps_microseconds_and_parses_back():
    exact = datetime(2024, 6, 18, 10, 30, 5, tzinfo=UTC)
    assert format_instant(exact) == "2024-06-18T10:30:05Z"
    fine = datetime(2024, 6, 18, 12, 30, 5, 120, tzinfo=timezone(timedelta(hours=2)))
    assert format_instant(fine) == "2024-06-18T10:30:05.000120Z"
    assert parse_instant(format_instant(fine)) == fine
    assert parse_instant(format_instant(exact)) == exact


def test_recorded_bodies_lose_registered_keys_and_error_pages_their_query_keys(tmp_path):
    register_secret(SECRET)
    rec = Recorder(tmp_path)
    unregistered = "never-registered-key-777"
    echo = f'{{"key": "{SECRET}", "url": "https://api.example/f?lat=1&appid={unregistered}&units=metric"}}'
    error_page = rec.record(_fetched({"city": "A"}, datetime(2024, 1, 1, tzinfo=UTC), body=echo.encode(), status=401))
    page = f'<a href="/w/index.php?key=news4382800.html">news</a> {SECRET}'.encode()
    wiki = rec.record(_fetched({"city": "B"}, datetime(2024, 1, 1, tzinfo=UTC), body=page))
    stored = error_page.body_path.read_bytes()
    assert SECRET.encode() not in stored and unregistered.encode() not in stored
    assert b"appid=***&units=metric" in stored
    # a 2xx body loses only the registered key; its key=... links are data
    assert wiki.body_path.read_bytes() == page.replace(SECRET.encode(), b"***")
