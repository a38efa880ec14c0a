"""One module per source: how to build its request for a key, and how to parse its response.

Every source module (:mod:`.wikipedia`, :mod:`.openweather`, :mod:`.aerodatabox`) offers:

- ``KEY_FIELDS``: the fields of its request key (``("city",)`` or the flight window's three);
- a function building a :class:`RequestSpec` for one key (URL and recorded query parameters,
  never an API key: the HTTP client adds those);
- ``parse(fetched) -> list[LandingRow]``: validates a :class:`Fetched` response and turns it
  into landing rows, raising :class:`ParseError` (with the reason) when it cannot.

Parsing is pure (no I/O), so live runs and replays of recordings share it exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from extract.loader import LandingRow


class ParseError(ValueError):
    """A response could not be turned into landing rows; the message says what was wrong."""


@dataclass(frozen=True)
class RequestSpec:
    """A logical request: ``source``, its ``key``, the absolute ``url`` and query ``params`` (without secrets)."""

    source: str
    key: dict[str, Any]
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    method: str = "GET"


@dataclass(frozen=True)
class Fetched:
    """One response, fetched live or read from a recording.

    ``fetched_at`` is an aware UTC datetime; ``body`` the raw bytes; ``params`` the
    query parameters as sent minus API keys.
    """

    source: str
    key: dict[str, Any]
    method: str
    url: str
    params: dict[str, Any]
    fetched_at: datetime
    status: int
    content_type: str
    body: bytes

    def text(self) -> str:
        """The body as text (UTF-8, invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


def load_json(fetched: Fetched) -> Any:
    """The body parsed as JSON; :class:`ParseError` when it is not JSON."""
    try:
        return json.loads(fetched.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"body is not valid JSON: {exc}") from None


def require(obj: Any, path: str, kind: type | tuple[type, ...], where: str = "payload") -> Any:
    """``obj[a][b]...`` for ``path`` ``"a.b"``; :class:`ParseError` naming the path when absent or of another type."""
    current = obj
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            raise ParseError(f"{where}: missing key {path!r}")
        current = current[part]
    if not isinstance(current, kind) or (isinstance(current, bool) and bool not in _as_tuple(kind)):
        names = "/".join(t.__name__ for t in _as_tuple(kind))
        raise ParseError(f"{where}: {path!r} should be {names}, got {type(current).__name__}")
    return current


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def parser_for(source: str) -> Callable[[Fetched], list[LandingRow]]:
    """The ``parse`` function of ``source`` (``wikipedia``, ``openweather``, ``aerodatabox_airports``, ...)."""
    from extract.sources import aerodatabox, openweather, wikipedia

    parsers = {
        "wikipedia": wikipedia.parse,
        "openweather": openweather.parse,
        "aerodatabox_airports": aerodatabox.parse_airports,
        "aerodatabox_flights": aerodatabox.parse_flights,
    }
    try:
        return parsers[source]
    except KeyError:
        raise ValueError(f"unknown source {source!r}") from None
