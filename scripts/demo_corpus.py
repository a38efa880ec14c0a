"""Rebuild ``demo/`` (the redistributable demo corpus) from the team's ``../shared`` captures.

Only responses whose licence allows redistribution are taken (see ``demo/ATTRIBUTION.md``):
Wikipedia articles (CC BY-SA 4.0), the Open-Meteo capture (CC BY 4.0) and Oslo Bysykkel's GBFS
station feeds of 2022-10-23 (NLOD 2.0, stated on the operator's open-data page). The Wikipedia pages are
cut down to what the parser reads (the ``<head>`` with the ``wgRevisionId`` script config, the
``h1#firstHeading`` and the settlement infobox, each the exact served bytes); the script refuses
to write a page whose parsed payload or ``infobox_html`` differs from the full page's. The
Open-Meteo and GBFS bodies are copied byte for byte. Run from the project root::

    .venv/bin/python scripts/demo_corpus.py [--shared ../shared]

Writes ``demo/manifest.jsonl`` and the bodies; ``demo/ATTRIBUTION.md`` is written by hand.
Raises ``SystemExit`` when a capture is missing or a trimmed page parses differently.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from extract.sources.wikipedia import parse_html

ROOT = Path(__file__).resolve().parents[1]

#: (city, body name in demo/, capture under ../shared, manifest entry it was replayed from)
WIKIPEDIA = [
    (
        "Berlin",
        "wikipedia/berlin_2022-10_rev1113830351.html",
        "recordings",
        "wikipedia/berlin_2022-10_rev1113830351.html",
    ),
    (
        "Berlin",
        "wikipedia/berlin_2025-11_rev1321491080.html",
        "recordings",
        "wikipedia/berlin_2025-11_rev1321491080.html",
    ),
    (
        "Paris",
        "wikipedia/paris_2023-10_rev1180165088.html",
        "recordings-extra",
        "wikipedia/paris_2023-10_rev1180165088.html",
    ),
]
OPEN_METEO = (
    "captures/openmeteo/openmeteo_forecast_multimodel_45.75N12.75E-veneto_2025-11-24_capture-0829Z_TheLuck1987.json"
)


#: Oslo Bysykkel's docked feeds (../shared/captures/gbfs, from github.com/Kalli/bysykkel-data): the
#: station_information and the four station_status snapshots of 2022-10-23 (three of them 1 and 17 minutes
#: apart, so gbfs_trip_events has station changes to count). (feed, capture time, layout, note)
GBFS_URL = "https://gbfs.urbansharing.com/oslobysykkel.no/{feed}.json"
GBFS_CAPTURES = "captures/gbfs/oslobysykkel_oslo_{feed}_v2.2_2022-10-23T{time}Z_{layout}_Kalli.json"
PRETTY = "2-space pretty-printed as uploaded by the capturer (not the served layout)"
FLAT = "as stored by the githubocto/flat action (the served layout, it appears)"
OSLO = [
    ("station_information", "1801", "pretty", PRETTY),
    ("station_status", "1903", "pretty", PRETTY),
    ("station_status", "2028", "flat", FLAT),
    ("station_status", "2029", "flat", FLAT),
    ("station_status", "2045", "flat", FLAT),
]


def _element(html: str, start: int, tag: str) -> str:
    """The element opening at ``start`` up to its matching close tag (nested same-name tags counted)."""
    pattern = re.compile(rf"<(/?){tag}\b[^>]*>", re.IGNORECASE)
    depth = 0
    for match in pattern.finditer(html, start):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return html[start : match.end()]
    raise SystemExit(f"unclosed <{tag}> at {start}")


def trim_page(html: str) -> str:
    """The page cut to ``<head>``, the first heading and the settlement infobox (served bytes of each)."""
    head = re.search(r"<head\b.*?</head>", html, re.DOTALL | re.IGNORECASE)
    heading = re.search(r"<h1\b[^>]*\bid=\"firstHeading\"", html)
    box = re.search(r"<table\b[^>]*class=\"[^\"]*\binfobox ib-settlement\b", html)
    if head is None or box is None:
        raise SystemExit("page without <head> or settlement infobox")
    parts = [html[: head.end()], "\n<body>\n"]
    if heading is not None:
        parts += [_element(html, heading.start(), "h1"), "\n"]
    parts += [_element(html, box.start(), "table"), "\n</body>\n</html>\n"]
    return "".join(parts)


def _manifest(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build(shared: Path, out: Path) -> list[dict]:
    """Write the bodies and ``manifest.jsonl`` under ``out``; return the manifest entries."""
    entries = []
    for city, name, corpus, body in WIKIPEDIA:
        original = next(e for e in _manifest(shared / corpus / "manifest.jsonl") if e["body"] == body)
        html = (shared / corpus / body).read_text(encoding="utf-8")
        trimmed = trim_page(html)
        url = original["request"]["url"]
        if parse_html(trimmed, city, url) != parse_html(html, city, url):
            raise SystemExit(f"{body}: the trimmed page parses differently from the full page")
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(trimmed, encoding="utf-8")
        note = (original.get("note") or "").strip()
        entry = {**original, "body": name}
        entry["note"] = (note + "; " if note else "") + "trimmed to <head>, h1 and the settlement infobox (demo/)"
        entries.append(entry)
    body = (shared / OPEN_METEO).read_bytes()
    payload = json.loads(body)
    models = sorted({k[len("temperature_2m_") :] for k in payload["hourly"] if k.startswith("temperature_2m_")})
    name = "open_meteo/veneto_2025-11-24.json"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(body)
    entries.append(
        {
            "source": "open_meteo",
            "key": {"city": "Veneto"},
            "request": {
                "method": "GET",
                "url": "https://api.open-meteo.com/v1/forecast",
                # the capture's exact query is not known: these are the parameters its body shows
                "params": {
                    "latitude": payload["latitude"],
                    "longitude": payload["longitude"],
                    "timezone": payload["timezone"],
                    "models": ",".join(models),
                },
            },
            "fetched_at": "2025-11-24T08:29:00Z",
            "fetched_at_estimated": True,
            "status": 200,
            "content_type": "application/json; charset=utf-8",
            "note": "verbatim; fetched_at is the commit time, an upper bound (hourly starts 2025-11-24T00:00 GMT)",
            "captured_by": "https://github.com/TheLuck1987/python-meteo open-meteo.json",
            "body": name,
        }
    )
    entries += _gbfs(shared, out)
    entries.sort(key=lambda e: e["fetched_at"])
    with (out / "manifest.jsonl").open("w", encoding="utf-8") as fh:
        for entry in entries:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entries


def _gbfs(shared: Path, out: Path) -> list[dict]:
    """Copy the Oslo Bysykkel captures (bytes unchanged) under ``out/gbfs``; their manifest entries.

    The fetch time was not recorded: ``fetched_at`` is the document's ``last_updated`` + 5 s, marked
    estimated (the feed's ttl is 10 s, so a fetch was within seconds of it).
    """
    entries = []
    for feed, time, layout, how in OSLO:
        body = (shared / GBFS_CAPTURES.format(feed=feed, time=time, layout=layout)).read_bytes()
        payload = json.loads(body)
        if payload.get("version") != "2.2" or not payload["data"]["stations"]:
            raise SystemExit(f"{feed} {time}: not a GBFS 2.2 document with stations")
        fetched = datetime.fromtimestamp(payload["last_updated"] + 5, UTC)
        name = f"gbfs/oslobysykkel_{feed}_2022-10-23T{time}Z.json"
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(body)
        entries.append(
            {
                "source": "gbfs",
                "key": {"system_id": "oslobysykkel", "feed": feed},
                "request": {"method": "GET", "url": GBFS_URL.format(feed=feed), "params": {}},
                "fetched_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fetched_at_estimated": True,
                "status": 200,
                "content_type": "application/json",
                "note": f"verbatim, {how}; fetched_at is last_updated + 5 s (the fetch time was not recorded)",
                "captured_by": "https://github.com/Kalli/bysykkel-data station_information.json / station_status.json",
                "body": name,
            }
        )
    return entries


def main() -> None:
    """Command line: ``--shared`` (default ``../shared``), ``--out`` (default ``demo``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "demo")
    args = parser.parse_args()
    for entry in build(args.shared, args.out):
        print(entry["body"], (args.out / entry["body"]).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
