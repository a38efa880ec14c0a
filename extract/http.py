"""HTTP client for the extractors: retries, backoff, Retry-After, timeouts, rate limits, redaction.

One :class:`HttpClient` per API (Wikipedia, OpenWeather, AeroDataBox). It wraps a
:class:`requests.Session` whose adapter retries with urllib3's :class:`~urllib3.util.Retry`:

- connection errors, read errors, HTTP 429 and every 5xx are retried up to
  ``max_retries`` times, GET only;
- between attempts it waits ``Retry-After`` (seconds or an HTTP date, capped at
  ``max_retry_after`` seconds) when the response carries one, else an exponential
  backoff of ``backoff_factor * 2 ** (attempt - 1)`` seconds (capped at 60 s);
- after the last attempt the final response is returned as it is (e.g. a 500 with
  its body), so the caller can record it; connection failures raise :class:`HttpError`.

Every attempt, first or retried, first takes a token from the client's
:class:`TokenBucket`, so retries count against the API's rate limit too.

Secrets (API keys sent as query parameters or headers) are registered with
:func:`register_secret`; they are replaced by ``***`` in every message of
:class:`HttpError`, in this module's log lines and in urllib3's log records
(whose retry warnings include the request URL with its query string).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

#: statuses that are retried: too many requests and every server error
RETRY_STATUSES = frozenset({429, *range(500, 600)})
#: query parameter names that are never logged, recorded or shown
SECRET_PARAM_NAMES = frozenset({"appid", "api_key", "apikey", "key", "token", "access_token"})
#: header names that are never logged, recorded or shown
SECRET_HEADER_NAMES = frozenset({"x-rapidapi-key", "authorization", "x-api-key"})

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_SECRET_PARAM_RE = re.compile(r"(?i)\b(" + "|".join(sorted(SECRET_PARAM_NAMES)) + r")=([^&\s'\"]+)")


def register_secret(value: str) -> None:
    """Remember ``value`` (an API key) so that :func:`redact` hides it everywhere. Empty values are ignored."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret, and every ``appid=``/``key=``-style query value, replaced by ``***``."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    return _SECRET_PARAM_RE.sub(r"\1=***", text)


class RedactingFilter(logging.Filter):
    """A logging filter that renders the record's message and redacts secrets from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None:
            # the formatted traceback would carry the exception's text (e.g. a URL with a key)
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_FILTER = RedactingFilter()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager", "requests", __name__):
    logging.getLogger(_name).addFilter(_FILTER)


class HttpError(RuntimeError):
    """A request failed without a response (connection refused, timeout, too many retries).

    The message names the API and the redacted URL; it never contains a key.
    """


# --------------------------------------------------------------------------------------
# Rate limit


class TokenBucket:
    """A thread-safe token bucket: at most ``rate_per_minute`` acquisitions per minute, bursts of ``capacity``.

    ``acquire()`` blocks (through ``sleep``) until a token is free. ``clock`` (seconds,
    monotonic) and ``sleep`` are injectable so tests can drive a fake clock; every
    acquisition's clock time is kept in ``acquired_at`` (the last 10,000) for inspection.
    A ``rate_per_minute`` of 0 or less disables the limit.
    """

    def __init__(
        self,
        rate_per_minute: float,
        capacity: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate_per_second = rate_per_minute / 60.0
        self.capacity = max(1.0, capacity)
        self.clock = clock
        self.sleep = sleep
        self._tokens = self.capacity
        self._last = clock()
        self._lock = threading.Lock()
        self.acquired_at: list[float] = []

    def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        if self.rate_per_second <= 0:
            with self._lock:
                self._remember(self.clock())
            return 0.0
        waited = 0.0
        with self._lock:
            while True:
                now = self.clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate_per_second)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    self._remember(now)
                    return waited
                wait = (1.0 - self._tokens) / self.rate_per_second
                self.sleep(wait)
                waited += wait

    def _remember(self, now: float) -> None:
        self.acquired_at.append(now)
        if len(self.acquired_at) > 10_000:
            del self.acquired_at[:5_000]


# --------------------------------------------------------------------------------------
# Retry


class _Retry(Retry):
    """urllib3 Retry that honours Retry-After on 429 and all 5xx, uses its own backoff and sleep,
    takes a rate-limit token before every retried attempt and logs each retry (redacted)."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES

    # set by HttpClient after construction and carried over by new()
    limiter: TokenBucket | None = None
    sleeper: Callable[[float], None] = staticmethod(time.sleep)
    max_retry_after: float = 120.0
    max_backoff: float = 60.0
    api_name: str = "http"
    waits: list | None = None

    def new(self, **kw: Any) -> _Retry:
        fresh = super().new(**kw)
        for attr in ("limiter", "sleeper", "max_retry_after", "max_backoff", "api_name", "waits"):
            setattr(fresh, attr, getattr(self, attr))
        return fresh

    def get_backoff_time(self) -> float:
        attempts = len(self.history)
        if attempts == 0:
            return 0.0
        return min(self.max_backoff, self.backoff_factor * (2 ** (attempts - 1)))

    def sleep(self, response=None) -> None:  # noqa: D401 - urllib3 hook
        wait = None
        reason = "backoff"
        if self.respect_retry_after_header and response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after is not None:
                wait, reason = min(float(retry_after), self.max_retry_after), "Retry-After"
        if wait is None:
            wait = self.get_backoff_time()
        last = self.history[-1] if self.history else None
        cause = (f"HTTP {last.status}" if last.status else redact(repr(last.error))) if last else "?"
        log.warning("%s: %s, retry %d in %.2f s (%s)", self.api_name, cause, len(self.history), wait, reason)
        if self.waits is not None:
            self.waits.append((reason, wait))
        if wait > 0:
            self.sleeper(wait)
        if self.limiter is not None:
            self.limiter.acquire()


# --------------------------------------------------------------------------------------
# Client


@dataclass
class HttpResponse:
    """A response as the pipeline needs it: status, content type, body bytes and the UTC fetch instant.

    ``url`` is the request URL without query string; ``params`` the query
    parameters as sent minus secrets.
    """

    status: int
    content_type: str
    body: bytes
    fetched_at: datetime
    url: str
    params: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


class HttpClient:
    """Rate-limited, retrying GET client for one API.

    - ``name``: for logs and errors (``"openweather"``);
    - ``base_url``: prepended to relative paths given to :meth:`get`;
    - ``headers``: sent with every request (secret ones, e.g. ``X-RapidAPI-Key``, are registered for redaction);
    - ``secret_params``: query parameters added to every request and never recorded (``{"appid": key}``);
    - ``timeout``: seconds, for connect and for each read;
    - ``rate_per_minute``/``burst``: the client-side rate limit (a :class:`TokenBucket`; or pass ``limiter``);
    - ``sleep``: used for backoff and Retry-After waits (tests inject a recorder).
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        secret_params: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_factor: float = 1.0,
        max_retry_after: float = 120.0,
        rate_per_minute: float = 60.0,
        burst: float = 1.0,
        limiter: TokenBucket | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiter = limiter if limiter is not None else TokenBucket(rate_per_minute, burst)
        self.secret_params = dict(secret_params or {})
        self.retry_waits: list[tuple[str, float]] = []
        for value in self.secret_params.values():
            register_secret(value)
        for header, value in (headers or {}).items():
            if header.lower() in SECRET_HEADER_NAMES:
                register_secret(value)
        retry = _Retry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=0,
            redirect=5,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=True,
        )
        retry.limiter = self.limiter
        retry.sleeper = sleep
        retry.max_retry_after = max_retry_after
        retry.api_name = name
        retry.waits = self.retry_waits
        self.session = session or requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(headers or {})

    def url_for(self, path_or_url: str) -> str:
        """Absolute URL of ``path_or_url`` (relative paths are joined to ``base_url``)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> HttpResponse:
        """GET with retries and rate limit; returns the final response whatever its status.

        Raises :class:`HttpError` (message redacted) when no response could be had.
        """
        url = self.url_for(path_or_url)
        recorded = {k: v for k, v in (params or {}).items() if k.lower() not in SECRET_PARAM_NAMES}
        sent = {**(params or {}), **self.secret_params}
        self.limiter.acquire()
        started = time.monotonic()
        try:
            resp = self.session.get(url, params=sent, timeout=self.timeout)
        except requests.RequestException as exc:
            message = redact(f"{self.name}: GET {url} failed: {type(exc).__name__}: {exc}")
            raise HttpError(message) from None
        fetched_at = datetime.now(UTC)
        log.debug("%s: GET %s -> %s in %.2f s", self.name, url, resp.status_code, time.monotonic() - started)
        return HttpResponse(
            status=resp.status_code,
            content_type=resp.headers.get("Content-Type", ""),
            body=resp.content,
            fetched_at=fetched_at,
            url=url,
            params=recorded,
            headers={k: v for k, v in resp.headers.items() if k.lower() not in SECRET_HEADER_NAMES},
        )

    def close(self) -> None:
        """Close the session's pooled connections."""
        self.session.close()


def strip_secrets(params: Mapping[str, Any], extra: Iterable[str] = ()) -> dict[str, Any]:
    """``params`` without any key-like entry (see :data:`SECRET_PARAM_NAMES`) or one named in ``extra``."""
    drop = SECRET_PARAM_NAMES | {e.lower() for e in extra}
    return {k: v for k, v in params.items() if k.lower() not in drop}
