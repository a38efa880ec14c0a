"""GBFS (General Bikeshare Feed Specification) vehicle availability of competitors' systems -> one landing row per feed.

Operators (Dott/TIER, Lime, Voi, Bolt, Bird...) publish their fleets' real-time availability as
open GBFS feeds, without a key, one *system* per city. The systems followed are the seed
``dbt_project/seeds/gbfs_systems.csv`` (``operator, system_id, discovery_url, city_name``,
``is_enabled`` ...), written from MobilityData's catalogue by ``python -m gans gbfs-systems refresh``
(:mod:`extract.gbfs_catalogue`) and reviewed by analysts; the enabled systems of the tracked
cities chosen for a run are fetched.

Requests, per system: the auto-discovery document ``gbfs.json`` (key ``{"system_id", "feed": "gbfs"}``),
then the feeds it lists among :data:`FEEDS`: ``system_information``, ``vehicle_types``, the
free-floating vehicles, ``free_bike_status`` (v1.x, v2.x) or ``vehicle_status`` (v3.x), and the
docked (station-based) systems' ``station_information`` (stations' positions, capacity) and
``station_status`` (vehicles and docks available per station), each keyed ``{"system_id", "feed"}``
with the feed's name as GBFS gives it. Landing table ``gbfs_feeds``; the vehicles are staged by
``stg_gbfs__vehicles``, the stations by ``stg_gbfs__station_status`` and
``stg_gbfs__station_information``.

TTL: every GBFS document says for how many seconds it stays valid (``ttl``). A feed whose latest
landed snapshot (``gans_raw.gbfs_feeds.fetched_at``, UTC) is younger than that snapshot's ``ttl`` is
not fetched again; the skip is counted in the run's summary (not as an error). A discovery
document still fresh is read back from the landing table instead of fetched.

Shapes accepted (MobilityData's GBFS reference and JSON schemas, v1.0 to v3.0): a JSON object with
``ttl`` (integer seconds >= 0), ``data`` (object) and ``last_updated`` (POSIX seconds in v1/v2, an
RFC 3339 string in v3). A document without ``last_updated`` (Vélib' Métropole's 2022 feeds name it
``lastUpdatedOther``) is landed all the same: staging cannot date its records and rejects each one
with the reason "snapshot last_updated missing or not a time" (counted in ``landing_rejects`` and
``landing_reconciliation``), so a nonstandard system shows up as rejects, not as silence. The
discovery document lists its feeds as ``data.<language>.feeds`` (v1/v2) or ``data.feeds`` (v3),
each ``{"name", "url"}``; ``free_bike_status`` holds ``data.bikes`` and ``vehicle_status``
``data.vehicles`` (lists, possibly empty); ``vehicle_types`` holds ``data.vehicle_types``;
``system_information`` holds ``data.system_id``; ``station_information`` and ``station_status``
hold ``data.stations``. Anything else raises :class:`ParseError` (the body goes to
``extract_errors``). Values inside a vehicle or station (string coordinates, numeric station ids,
0/1 booleans, missing ``vehicle_type_id``) are left to staging, which stages or rejects each one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from extract.http import interleave_by_host, url_origin
from extract.loader import LandingRow
from extract.response import RequestSpec, Response
from extract.seeds import read_rows
from extract.sources.base import ParseError, RunContext, Source, load_json, require

log = logging.getLogger(__name__)

DISCOVERY = "gbfs"
#: the feeds fetched after discovery, in this order (vehicle types before the vehicles that refer to them,
#: stations' positions before their status)
FEEDS = (
    "system_information",
    "vehicle_types",
    "station_information",
    "free_bike_status",
    "vehicle_status",
    "station_status",
)
#: the list each feed must hold under ``data`` (system_information: an id)
_DATA_KEYS = {
    "free_bike_status": ("bikes", list),
    "vehicle_status": ("vehicles", list),
    "vehicle_types": ("vehicle_types", list),
    "system_information": ("system_id", str),
    "station_information": ("stations", list),
    "station_status": ("stations", list),
}
SYSTEM_COLUMNS = ("operator", "system_id", "discovery_url", "city_name")
#: calls a system typically costs in one run, for the fan-out's per-host plan: discovery, system_information,
#: vehicle_types and its vehicles (free-floating), or discovery, system_information, station_information and
#: station_status (docked). A docked system that also lists vehicle_types costs 5, one publishing both free
#: vehicles and stations (Lyft's) 6: the plan underestimates those; the per-host rate limit holds regardless.
CALLS_PER_SYSTEM = 4


class SystemsError(ValueError):
    """The GBFS systems file is missing, lacks a column or has a bad row; the message names file and line."""


@dataclass(frozen=True)
class System:
    """One operator's GBFS system in one city: the request key's ``system_id`` and its discovery URL.

    ``is_enabled`` is False for a system listed but not fetched (one that needs authentication,
    or a URL not checked yet): the seed's optional ``is_enabled`` column (``true``/``false``).
    """

    operator: str
    system_id: str
    discovery_url: str
    city_name: str
    is_enabled: bool = True


def load_systems(path: str | Path) -> list[System]:
    """All systems of the CSV at ``path`` (columns :data:`SYSTEM_COLUMNS`, optional ``is_enabled``), in file order.

    The seed is written by ``python -m gans gbfs-systems refresh`` (extract/gbfs_catalogue.py),
    with more columns (versions, attribution ...) that extraction does not need. Raises
    :class:`SystemsError` on a missing file or column, an empty field, a URL that is not http(s),
    an ``is_enabled`` other than true/false, or a duplicate ``system_id`` (case ignored).
    """
    path = Path(path)
    systems: list[System] = []
    for line_no, row in read_rows(path, SYSTEM_COLUMNS, SystemsError, "GBFS systems file"):
        values = {c: (row[c] or "").strip() for c in SYSTEM_COLUMNS}
        empty = [c for c, v in values.items() if not v]
        if empty:
            raise SystemsError(f"{path}:{line_no}: empty {', '.join(empty)}")
        if urlsplit(values["discovery_url"]).scheme not in ("http", "https"):
            raise SystemsError(f"{path}:{line_no}: discovery_url should be an http(s) URL")
        enabled = (row.get("is_enabled") or "true").strip().casefold()
        if enabled not in ("true", "false", "1", "0"):
            raise SystemsError(f"{path}:{line_no}: is_enabled should be true or false, got {enabled!r}")
        systems.append(System(**values, is_enabled=enabled in ("true", "1")))
    # the database compares ids case-insensitively (utf8mb4_unicode_ci)
    ids = [s.system_id.casefold() for s in systems]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemsError(f"{path}: duplicate system_id {', '.join(duplicates)}")
    return systems


def discovered_feeds(payload: dict) -> dict[str, str]:
    """Feed name -> URL listed by a discovery document (v1/v2: the ``en`` language if present, else the first)."""
    data = payload.get("data") or {}
    feeds = data.get("feeds")
    if feeds is None:  # v1.x / v2.x: one feed list per language
        languages = [v for v in data.values() if isinstance(v, dict) and isinstance(v.get("feeds"), list)]
        chosen = data.get("en") if isinstance(data.get("en"), dict) else (languages[0] if languages else {})
        feeds = chosen.get("feeds", [])
    return {f["name"]: f["url"] for f in feeds if isinstance(f, dict) and "name" in f and "url" in f}


def validate(feed: str, payload: object) -> dict:
    """Check a GBFS document's envelope and its feed's list; returns it, or raises :class:`ParseError`."""
    if not isinstance(payload, dict):
        raise ParseError(f"payload should be a JSON object, got {type(payload).__name__}")
    if "last_updated" in payload:  # absent: landed, and staging rejects every record undated (see module doc)
        require(payload, "last_updated", (int, str))
    ttl = require(payload, "ttl", int)
    if ttl < 0:
        raise ParseError(f"payload: 'ttl' should be >= 0, got {ttl}")
    require(payload, "data", dict)
    if feed == DISCOVERY:
        if not discovered_feeds(payload):
            raise ParseError("payload: the discovery document lists no feeds (data.feeds or data.<language>.feeds)")
    elif feed in _DATA_KEYS:
        name, kind = _DATA_KEYS[feed]
        require(payload, f"data.{name}", kind)
    return payload


class Gbfs(Source):
    """The GBFS source (key ``{"system_id", "feed"}``; no API key; systems from ``GANS_GBFS_SYSTEMS_FILE``)."""

    name = "gbfs"
    landing_table = "gbfs_feeds"
    key_fields = ("system_id", "feed")
    api = "gbfs"
    base_url_setting = "gbfs_base_url"
    # every 15 minutes; the template's GbfsScheduleExpression parameter (default this) sets the deployed rate
    schedule = "rate(15 minutes)"
    # discovery, then feeds listed in it: the fan-out plans GBFS by city (not by request key), each
    # city costing CALLS_PER_SYSTEM calls per system on the system's host (plan_calls)
    plan_by = "city"
    calls_per_unit = CALLS_PER_SYSTEM
    # raw snapshots are 1-3 MB each, every 15 minutes: kept GANS_GBFS_RETENTION_DAYS (extract.retention)
    retention_setting = "gbfs_retention_days"

    def base_url(self, settings) -> str:
        """``GBFS_BASE_URL`` (empty by default: the systems' own URLs are used as listed)."""
        return str(settings.gbfs_base_url).rstrip("/")

    def client_options(self, settings) -> dict:
        # each operator serves its feeds from its own host: the limit applies per host, not to all at once
        return {
            "headers": {"Accept": "application/json"},
            "rate_per_minute": settings.gbfs_rate_per_minute,
            "per_host": True,
        }

    def plan_calls(self, settings, keys) -> list[list[str]]:
        """Per city key, the host of each call its systems cost (discovery and feeds, assumed on the discovery
        document's host, :data:`CALLS_PER_SYSTEM` a system): the fan-out balances each host's calls."""
        base = self.base_url(settings)
        hosts: dict[str, list[str]] = {}
        for system in load_systems(settings.gbfs_systems_file):
            if not system.is_enabled:  # never requested (requests() skips it)
                continue
            host = url_origin(self._url(system.discovery_url, base))
            hosts.setdefault(system.city_name.casefold(), []).extend([host] * CALLS_PER_SYSTEM)
        return [hosts.get(str(key.get("city", "")).casefold(), []) for key in keys]

    def _url(self, url: str, base_url: str) -> str:
        """``url``, its scheme and host replaced by ``base_url`` when one is set (a mirror, a test server)."""
        if not base_url:
            return url
        parts = urlsplit(url)
        return base_url + parts.path + (f"?{parts.query}" if parts.query else "")

    def _latest(self, ctx: RunContext, system_id: str, feed: str) -> tuple[datetime, int] | None:
        """(fetched_at as aware UTC, ttl) of the latest landed snapshot of the feed, or None."""
        if ctx.conn is None:
            return None
        with ctx.conn.cursor() as cur:
            cur.execute(
                "select fetched_at, ttl_s from gbfs_feeds where system_id = %s and feed = %s"
                " order by fetched_at desc limit 1",
                (system_id, feed),
            )
            row = cur.fetchone()
        ctx.conn.commit()  # end the read transaction: the next look sees what was landed since
        return None if row is None else (row[0].replace(tzinfo=UTC), int(row[1] or 0))

    def _fresh(self, ctx: RunContext, system_id: str, feed: str, now: datetime) -> bool:
        latest = self._latest(ctx, system_id, feed)
        return latest is not None and latest[0] + timedelta(seconds=latest[1]) > now

    def _landed_discovery(self, ctx: RunContext, system_id: str) -> dict[str, str]:
        if ctx.conn is None:
            return {}
        with ctx.conn.cursor() as cur:
            cur.execute(
                "select payload from gbfs_feeds where system_id = %s and feed = %s order by fetched_at desc limit 1",
                (system_id, DISCOVERY),
            )
            row = cur.fetchone()
        ctx.conn.commit()
        return discovered_feeds(json.loads(row[0])) if row else {}

    def requests(self, ctx: RunContext) -> Iterator[RequestSpec]:
        """The discovery document of every enabled system of the chosen cities, then each of :data:`FEEDS` (in that
        order) of every system that lists it and is not fresh.

        The systems are taken round-robin over their hosts (:func:`interleave_by_host`), feed by feed:
        each operator's host is rate-limited apart, so consecutive requests go to different hosts and
        none waits on another's limit.
        """
        cities = {c.name.casefold() for c in ctx.cities}
        systems = [
            s for s in load_systems(ctx.settings.gbfs_systems_file) if s.city_name.casefold() in cities and s.is_enabled
        ]
        systems = interleave_by_host(systems, lambda s: url_origin(self._url(s.discovery_url, ctx.base_url)))
        found: dict[str, dict[str, str]] = ctx.state.setdefault("gbfs_feeds", {})
        for system in systems:
            key = {"system_id": system.system_id, "feed": DISCOVERY}
            if self._fresh(ctx, system.system_id, DISCOVERY, datetime.now(UTC)):
                ctx.skip(key, "discovery document still within its ttl")
                found[system.system_id] = self._landed_discovery(ctx, system.system_id)
            else:
                yield RequestSpec(self.name, key, self._url(system.discovery_url, ctx.base_url))
        listed: dict[str, dict[str, str]] = {}
        for system in systems:  # every discovery was handled (landed() filled ``found``) before this line runs
            feeds = found.get(system.system_id) or self._landed_discovery(ctx, system.system_id)
            if feeds:
                listed[system.system_id] = feeds
            else:
                key = {"system_id": system.system_id, "feed": DISCOVERY}
                ctx.error(key, "NoFeeds", f"no discovery document for {system.system_id}: its feeds are unknown")
        for feed in FEEDS:
            for system_id, feeds in listed.items():
                if feed not in feeds:
                    continue
                key = {"system_id": system_id, "feed": feed}
                if self._fresh(ctx, system_id, feed, datetime.now(UTC)):
                    ctx.skip(key, "latest snapshot still within its ttl")
                    continue
                yield RequestSpec(self.name, key, self._url(feeds[feed], ctx.base_url))

    def parse(self, response: Response) -> list[LandingRow]:
        """One landing row holding the whole document; :class:`ParseError` when it is not a valid GBFS document."""
        return [self.row(response, validate(response.key.get("feed", ""), load_json(response)))]

    def landed(self, spec: RequestSpec, rows: list[LandingRow], ctx: RunContext) -> None:
        """A discovery document just parsed gives the system's feed URLs to the next requests."""
        if spec.key.get("feed") == DISCOVERY:
            ctx.state.setdefault("gbfs_feeds", {})[spec.key["system_id"]] = discovered_feeds(rows[0].payload)

    def check_key(self, key):
        key = super().check_key(key)
        if key["feed"] != DISCOVERY and key["feed"] not in FEEDS:
            raise ParseError(f"request key {key!r}: feed should be gbfs or one of {', '.join(FEEDS)}")
        return key


GBFS = Gbfs()
parse = GBFS.parse
