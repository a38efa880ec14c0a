"""What a source is: one :class:`Source` subclass per source module holds everything an endpoint needs.

Like a singer-sdk stream, a source declares its name, landing table, request-key fields,
the settings it needs, its API (base URL, auth, rate budget), the HTTP statuses it accepts,
how to build its requests for a run and how to parse a response into landing rows, and its
default schedule. The runner (:mod:`extract.runner`), loader, CLI, recorder and the Lambda
handlers iterate over :data:`extract.sources.REGISTRY`; nothing outside a source's own module
knows about one source in particular.

Parsing is pure (no I/O): live runs and replays share it exactly. The runner checks the
status (:attr:`Source.ok_statuses`) and the request key (:meth:`Source.check_key`) before
:meth:`Source.parse` is called, so parsers only see responses they accept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from extract.loader import LandingRow
from extract.response import RequestSpec, Response

if TYPE_CHECKING:
    from extract.cities import City
    from extract.settings import Settings


class ParseError(ValueError):
    """A response could not be turned into landing rows; the message says what was wrong."""


@dataclass
class RunContext:
    """What a source's :meth:`Source.requests` may use during one extraction call.

    - ``settings``; ``cities``: the tracked cities chosen for the call;
    - ``base_url``: the root of this source's API for the call (setting, or a test override);
    - ``window``: aware ``(start, end)`` asked for (flights), or None for the source's default;
    - ``options``: per-call options (``direction`` for flights);
    - ``asked``: the sources of this call, in run order; ``state``: shared between the sources
      of one call (the airports found feed the flights requests);
    - ``conn``: the loader's connection (read the latest landed rows when a dependency did not run);
    - ``error(key, error_type, message)``: record an ``extract_errors`` row for this source's run;
    - ``skip(key, reason)``: count a request deliberately not made (GBFS: a feed still within its ttl);
      reported in the summary, not an error.
    """

    settings: Settings
    cities: Sequence[City]
    base_url: str
    window: tuple[datetime, datetime] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    asked: Sequence[str] = ()
    state: dict[str, Any] = field(default_factory=dict)
    conn: Any = None
    error: Callable[[dict | None, str, str], None] = lambda key, error_type, message: None
    skip: Callable[[dict, str], None] = lambda key, reason: None


class Source:
    """Base class of a source declaration; subclasses set the class attributes and override the methods.

    Class attributes: ``name`` (as in the CLI, the manifest and ``extract_runs.source``),
    ``landing_table`` (in ``gans_raw``), ``key_fields`` (fields of the request key),
    ``required_settings`` (:class:`~extract.settings.Settings` field names that must be set),
    ``api`` (the HTTP client and rate budget: sources of one API share them), ``base_url_setting``
    (the Settings field holding the API root), ``ok_statuses``, ``extra_columns`` (landing columns
    beyond the common ones, filled from :attr:`LandingRow.extra`), ``schedule`` (default
    EventBridge Scheduler expression, Europe/Berlin, as deployed by ``lambda/template.yaml``),
    ``plan_by`` (how :mod:`extract.fanout` splits the source into batches: ``"request"``, the keys of
    :meth:`requests` built without HTTP; ``"city"`` for a source whose requests need earlier responses
    (a discovery document, then the feeds it lists), batched by city at ``calls_per_city`` calls each, or as
    :meth:`plan_calls` counts them), ``calls_per_unit`` (a source rate-limited per host: the calls one unit
    of work makes to one host, e.g. a GBFS system's discovery and feeds, which the plan expects the
    source to make feed by feed across its units, the hosts in turn), ``retention_setting`` (None: landing
    rows kept for ever; else the Settings field holding the days they are kept, applied by
    :func:`extract.retention.purge_all`, which the loader may run: it holds DELETE on those tables only).
    """

    name: ClassVar[str]
    landing_table: ClassVar[str]
    key_fields: ClassVar[tuple[str, ...]]
    required_settings: ClassVar[tuple[str, ...]] = ()
    api: ClassVar[str]
    base_url_setting: ClassVar[str]
    ok_statuses: ClassVar[frozenset[int]] = frozenset({200})
    extra_columns: ClassVar[tuple[str, ...]] = ()
    schedule: ClassVar[str]
    plan_by: ClassVar[str] = "request"
    calls_per_city: ClassVar[int] = 1
    calls_per_unit: ClassVar[int] = 1
    retention_setting: ClassVar[str | None] = None

    def retention_days(self, settings: Settings) -> int | None:
        """Days this source's landing rows are kept (:attr:`retention_setting`'s value), or None: kept for ever."""
        return None if self.retention_setting is None else int(getattr(settings, self.retention_setting))

    def base_url(self, settings: Settings) -> str:
        """The API root from ``settings`` (no trailing slash)."""
        return str(getattr(settings, self.base_url_setting)).rstrip("/")

    def client_options(self, settings: Settings) -> dict[str, Any]:
        """Keyword arguments of :class:`extract.http.HttpClient` for this source's API: ``headers``,
        ``secret_params`` (API keys, never recorded) and ``rate_per_minute``."""
        return {}

    def check_options(self, options: dict[str, Any]) -> None:
        """Raise :class:`ValueError` for a per-call option this source cannot use (checked before any request)."""

    def requests(self, ctx: RunContext) -> Iterable[RequestSpec]:
        """The requests of one run, in order. A list, or a generator: the runner takes each next request after
        the previous response was parsed and passed to :meth:`landed`, so a source may build later requests from
        earlier responses (a discovery document, then the feeds it lists). Sources run in registry order, so one
        may also use what an earlier source found in the same call (``ctx.state``)."""
        raise NotImplementedError

    def parse(self, response: Response) -> list[LandingRow]:
        """Landing rows of an accepted response; :class:`ParseError` (with the reason) when it is not usable."""
        raise NotImplementedError

    def plan_calls(self, settings: Settings, keys: Sequence[dict[str, Any]]) -> list[list[str]]:
        """For each key the fan-out plans (:mod:`extract.fanout`), the rate-limit bucket of every call it is
        expected to cost, in order. Default: one call per key (``calls_per_city`` for ``plan_by = "city"``),
        all to the API's one bucket (:attr:`api`). A source rate-limited per host names the hosts."""
        calls = self.calls_per_city if self.plan_by == "city" else 1
        return [[self.api] * calls for _ in keys]

    def landed(self, spec: RequestSpec, rows: list[LandingRow], ctx: RunContext) -> None:
        """Called after a response of this source was parsed into ``rows`` (e.g. to feed a later source)."""

    def check_key(self, key: Any) -> dict[str, Any]:
        """``key`` when it holds exactly :attr:`key_fields`, each a non-blank, trimmed string (a ``city`` also
        within the seed's column width, :func:`extract.cities.check_city_name`); :class:`ParseError` otherwise.

        Called by the runner for every response, live and replayed, before :meth:`parse`.
        """
        from extract.cities import check_city_name

        if not isinstance(key, dict) or set(key) != set(self.key_fields):
            raise ParseError(f"request key {str(key)[:300]!r} should have the fields {', '.join(self.key_fields)}")
        for name in self.key_fields:
            value = key[name]
            if not isinstance(value, str) or not value.strip():
                raise ParseError(f"request key {key!r}: {name!r} should be a non-blank string")
            if value != value.strip():
                raise ParseError(f"request key {key!r}: {name!r} has leading or trailing whitespace")
            if name == "city":
                try:
                    check_city_name(value)
                except ValueError as exc:
                    raise ParseError(f"request key {str(key)[:300]}: {exc}") from None
        return key

    def row(self, response: Response, payload: Any, **extra: str | None) -> LandingRow:
        """The landing row of ``response`` holding ``payload`` (and values of :attr:`extra_columns`)."""
        return LandingRow(
            source=self.name,
            request_key=dict(response.key),
            request_params=response.params,
            fetched_at=response.fetched_at,
            http_status=response.status,
            payload=payload,
            extra=extra,
            declaration=self,
        )

    def __repr__(self) -> str:
        return f"<source {self.name}>"


def load_json(response: Response) -> Any:
    """The body parsed as JSON; :class:`ParseError` when it is not JSON."""
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ParseError(f"body is not valid JSON: {exc}") from None


def require(obj: Any, path: str, kind: type | tuple[type, ...], where: str = "payload") -> Any:
    """``obj[a][b]...`` for ``path`` ``"a.b"``; :class:`ParseError` naming the path when absent or of another type."""
    current = obj
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            raise ParseError(f"{where}: missing key {path!r}")
        current = current[part]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(current, kinds) or (isinstance(current, bool) and bool not in kinds):
        names = "/".join(t.__name__ for t in kinds)
        raise ParseError(f"{where}: {path!r} should be {names}, got {type(current).__name__}")
    return current
