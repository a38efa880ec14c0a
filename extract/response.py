"""The two values every source passes around: a :class:`RequestSpec` (what to ask) and a
:class:`Response` (what came back), the one response type from the HTTP client through the
recorder and the replay reader to the parsers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RequestSpec:
    """A logical request: ``source``, its ``key``, the absolute ``url`` and query ``params`` (without secrets)."""

    source: str
    key: dict[str, Any]
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    method: str = "GET"


@dataclass(frozen=True)
class Response:
    """One response, fetched live (:meth:`extract.http.HttpClient.fetch`) or read from a recording.

    - ``source``/``key``: the request it answers (``key`` e.g. ``{"city": "Berlin"}``);
    - ``url``: without query string; ``params``: the query parameters as sent, minus API keys;
    - ``fetched_at``: aware UTC instant the response arrived (or was recorded);
    - ``status``: HTTP status; ``content_type`` as served; ``body``: the raw bytes.
    """

    source: str
    key: dict[str, Any]
    method: str
    url: str
    params: dict[str, Any]
    fetched_at: datetime
    status: int
    content_type: str
    body: bytes = b""

    def text(self) -> str:
        """The body as text (UTF-8, invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def with_body(self, body: bytes) -> Response:
        """The same response carrying ``body``."""
        return replace(self, body=body)
