"""HTTP client for the extractors: retries, backoff, Retry-After, timeouts, rate limits, redaction.

One :class:`HttpClient` per API (a source declaration's ``api``: the sources of one API share it and
its rate budget, :func:`extract.sources.apis`). It wraps a :class:`requests.Session` whose adapter
retries with urllib3's :class:`~urllib3.util.Retry`:

- connection errors, read errors, HTTP 429 and every 5xx are retried up to
  ``max_retries`` times, GET only;
- between attempts it waits ``Retry-After`` (seconds or an HTTP date, capped at
  ``max_retry_after`` seconds) when the response carries one, else an exponential
  backoff of ``backoff_factor * 2 ** (attempt - 1)`` seconds (capped at 60 s);
- after the last attempt the final response is returned as it is (e.g. a 500 with
  its body), so the caller can record it; connection failures raise :class:`HttpError`.

Every attempt, first or retried, first takes a token from the client's
:class:`RateLimiter` (a thin wrapper around a pyrate-limiter ``Limiter``: at most
``rate_per_minute`` per minute, bursts of ``burst``), so retries count against the
API's rate limit too. A blocking limiter (the default) waits for the token; a
non-blocking one raises :class:`RateLimited` instead of sending. ``per_host=True`` (GBFS: every
operator is its own server) gives each origin (``host[:port]``) a limit of its own.

A host that cannot be reached costs a few attempts, not minutes per key: each client keeps a
:class:`HostCircuitBreaker`. ``host_failure_limit`` consecutive *connection* failures to one
origin (DNS failure, connection refused, connect timeout, TLS error; attempts and retries alike)
open it: the request being retried stops at once, and every later request to that origin raises
:class:`HostUnreachable` without being sent (nor taking a rate token). Any response, whatever its
status (an HTTP 500 is the API answering), resets the origin's count. Read errors after a
connection was made are not counted. The breaker stays open for the client's life (one
extraction call, or one fan-out batch); other origins are not affected.

Key headers never follow a redirect to another origin (:class:`SecretSafeSession`); a
secret value echoed in a body is replaced before it lands (:func:`scrub_secrets`).

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
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from pyrate_limiter import AbstractClock, Duration, Limiter, Rate, SingleBucketFactory, StateBucket
from pyrate_limiter import TokenBucket as PyrateTokenBucket
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util.retry import Retry

from extract.response import RequestSpec, Response

log = logging.getLogger(__name__)
T = TypeVar("T")

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


def redact(text: str, *, patterns: bool = True) -> str:
    """``text`` with every registered secret, and every ``appid=``/``key=``-style query value, replaced by ``***``.

    ``patterns=False`` replaces only the registered secrets (for response bodies that may
    legitimately contain ``key=...`` links, e.g. Wikipedia pages).
    """
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    return _SECRET_PARAM_RE.sub(r"\1=***", text) if patterns else text


def redact_body(body: bytes, *, patterns: bool = True) -> bytes:
    """A response body with :func:`redact` applied, as bytes; ``body`` itself (same bytes) when nothing matched.

    The bytes are read as UTF-8 with undecodable bytes kept as they are (``surrogateescape``),
    so a body without secrets, or with other encodings, comes back unchanged.
    """
    text = body.decode("utf-8", errors="surrogateescape")
    cleaned = redact(text, patterns=patterns)
    return body if cleaned == text else cleaned.encode("utf-8", errors="surrogateescape")


def scrub_secrets(body: bytes) -> tuple[bytes, int]:
    """``body`` with every registered secret value (not ``key=`` patterns) replaced by ``***``, and how many
    were replaced. A service that echoes the caller's key in a 200 body must not land it in the tables."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    if not secrets or not body:
        return body, 0
    text = body.decode("utf-8", errors="surrogateescape")
    found = 0
    for secret in secrets:
        count = text.count(secret)
        if count:
            found += count
            text = text.replace(secret, "***")
    return (text.encode("utf-8", errors="surrogateescape"), found) if found else (body, 0)


def register_settings_secrets(settings: Any) -> None:
    """Register every secret setting (API keys, passwords: the :class:`pydantic.SecretStr` fields) for redaction,
    so a replay or a run scrubs them from bodies even before an HTTP client registered its own."""
    from pydantic import SecretStr

    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())


class SecretSafeSession(requests.Session):
    """A :class:`requests.Session` that drops the API-key headers (:data:`SECRET_HEADER_NAMES`) on a redirect to
    another origin, as requests itself does only for ``Authorization`` (:meth:`requests.Session.should_strip_auth`:
    scheme, host or port changed, bar http->https on the default ports)."""

    def rebuild_auth(self, prepared_request, response) -> None:
        super().rebuild_auth(prepared_request, response)
        _strip_secret_headers(self, prepared_request, response)


def _strip_secret_headers(session: requests.Session, prepared_request, response) -> None:
    if session.should_strip_auth(response.request.url, prepared_request.url):
        for name in [h for h in prepared_request.headers if h.lower() in SECRET_HEADER_NAMES]:
            del prepared_request.headers[name]
            log.warning("redirect to another origin: %s header not sent to %s", name, redact(prepared_request.url))


def _secret_safe(session: requests.Session) -> requests.Session:
    """``session`` with :class:`SecretSafeSession`'s redirect rule (bound on the instance when it is another class)."""
    if not isinstance(session, SecretSafeSession):
        plain_rebuild = session.rebuild_auth

        def rebuild_auth(prepared_request, response) -> None:
            plain_rebuild(prepared_request, response)
            _strip_secret_headers(session, prepared_request, response)

        session.rebuild_auth = rebuild_auth
    return session


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


class HostUnreachable(HttpError):
    """A request not sent: its host had ``host_failure_limit`` consecutive connection failures in this client.

    The message names the API, the origin, the count and the last failure; never a key.
    ``host``: the origin (``host[:port]``).
    """

    def __init__(self, message: str, host: str = ""):
        super().__init__(message)
        self.host = host


# --------------------------------------------------------------------------------------
# Hosts that cannot be reached

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(scheme: str | None, host: str | None, port: int | None) -> str:
    """``host`` or ``host:port`` (the port only when it is not the scheme's default): the unit of
    :class:`HostCircuitBreaker` and of a per-host :class:`RateLimiter`."""
    host = (host or "").lower()
    return host if port in (None, _DEFAULT_PORTS.get(scheme or "")) else f"{host}:{port}"


def url_origin(url: str) -> str:
    """:func:`origin` of an absolute URL."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a malformed port: requests fails on it with its own error
        port = None
    return origin(parts.scheme, parts.hostname, port)


def interleave_by_host(items: Iterable[T], host_of: Callable[[T], str]) -> list[T]:
    """``items`` reordered round-robin over their hosts: the first of each host (hosts in the order first
    seen), then the second of each, and so on; each host's items keep their order.

    With a rate limit per host, consecutive requests to different hosts need not wait for each other:
    a sequential client then waits only when the busiest host's limit leaves nothing else to do.
    """
    queues: dict[str, list[T]] = {}
    for item in items:
        queues.setdefault(host_of(item), []).append(item)
    out: list[T] = []
    for rank in range(max((len(q) for q in queues.values()), default=0)):
        out += [q[rank] for q in queues.values() if rank < len(q)]
    return out


def is_connection_failure(error: BaseException | None) -> bool:
    """True for a failure to reach a host (DNS, refused, connect timeout, TLS), as urllib3 raises them;
    False for read errors and timeouts after the connection was made, and for responses."""
    if isinstance(error, ProxyError) and error.original_error is not None:
        error = error.original_error
    return isinstance(error, (NewConnectionError, ConnectTimeoutError, Urllib3SSLError))


class HostCircuitBreaker:
    """Consecutive connection failures per origin; ``limit`` of them open the origin for good.

    ``limit`` of 0 or less disables it (never open). Thread-safe. ``failures`` counts every
    connection failure seen (for tests and the summary); :meth:`reason` says why an origin is open.
    """

    def __init__(self, limit: int = 3):
        self.limit = limit
        self._lock = threading.Lock()
        self._consecutive: dict[str, int] = {}
        self._last: dict[str, str] = {}
        self._open: set[str] = set()
        self.failures = 0

    def failed(self, host: str, error: BaseException) -> bool:
        """Count a connection failure to ``host``; True when this one opened it (or it was open)."""
        with self._lock:
            self.failures += 1
            count = self._consecutive.get(host, 0) + 1
            self._consecutive[host] = count
            self._last[host] = redact(f"{type(error).__name__}: {error}")[:300]
            if self.limit > 0 and count >= self.limit:
                if host not in self._open:
                    log.warning(
                        "%s: unreachable after %d consecutive connection failures; not tried again", host, count
                    )
                self._open.add(host)
            return host in self._open

    def answered(self, host: str) -> None:
        """A response came from ``host`` (any status): its count starts again from 0."""
        with self._lock:
            self._consecutive.pop(host, None)

    def is_open(self, host: str) -> bool:
        """True when ``host`` is considered unreachable: requests to it are not sent."""
        with self._lock:
            return host in self._open

    @property
    def open_hosts(self) -> list[str]:
        """The origins found unreachable, sorted."""
        with self._lock:
            return sorted(self._open)

    def reason(self, host: str) -> str:
        """``host unreachable after N consecutive connection failures (last: ...)``."""
        with self._lock:
            count, last = self._consecutive.get(host, 0), self._last.get(host, "?")
        return f"host {host} unreachable after {count} consecutive connection failures (last: {last})"


# --------------------------------------------------------------------------------------
# Rate limit


class RateLimited(HttpError):
    """A non-blocking :class:`RateLimiter` refused a request: the API's rate limit is used up for now.

    Raised before the request (or the retry) is sent; the message names the API and the limit, never a URL.
    """


class RateLimiter:
    """One API's client-side rate limit: a thin wrapper around a :class:`pyrate_limiter.Limiter`.

    At most ``rate_per_minute`` requests per minute, in bursts of at most ``burst``
    (pyrate-limiter's token-bucket algorithm on an in-memory :class:`~pyrate_limiter.StateBucket`:
    the bucket holds ``burst`` tokens, starts full and refills at ``rate_per_minute / 60`` per
    second; ``burst=1`` spaces requests ``60 / rate_per_minute`` seconds apart).
    ``rate_per_minute`` of 0 or less disables the limit. Thread-safe (the Limiter and the
    store each hold a lock); no background thread.

    - ``blocking=True`` (the pipeline): :meth:`acquire` waits (``time.sleep`` inside pyrate-limiter)
      until a token is free;
    - ``blocking=False``: :meth:`acquire` raises :class:`RateLimited` at once instead of waiting;
    - ``clock``: a :class:`pyrate_limiter.AbstractClock` (``now()`` in integer milliseconds,
      monotonic by default); tests inject one they move by hand, with ``blocking=False``;
    - ``per_host``: one bucket per origin given to :meth:`acquire` (created on first use, each
      with the full ``rate_per_minute`` and ``burst``): for an API whose servers are independent
      (GBFS: one per operator). Without it every origin shares one bucket.

    ``granted`` counts the tokens handed out (first attempts and retries alike).
    """

    def __init__(
        self,
        rate_per_minute: float,
        burst: int = 1,
        *,
        blocking: bool = True,
        clock: AbstractClock | None = None,
        name: str = "http",
        per_host: bool = False,
    ):
        self.rate_per_minute = rate_per_minute
        self.burst = max(1, int(burst))
        self.blocking = blocking
        self.name = name
        self.per_host = per_host
        self.granted = 0
        self._clock = clock
        self._count_lock = threading.Lock()
        self._hosts: dict[str, RateLimiter] = {}
        self.bucket: StateBucket | None = None
        self.limiter: Limiter | None = None
        if rate_per_minute > 0 and not per_host:
            self.bucket = StateBucket(
                [_per_minute(rate_per_minute, self.burst)], algorithm=PyrateTokenBucket(), clock=clock
            )
            # a StateBucket has nothing to leak: no Leaker thread. buffer_ms: pyrate-limiter adds 50 ms
            # to every wait by default, which at a fan-out worker's high test rates (and a tenth of a
            # second at 600/min) is dead time; after a wait it tries again anyway, so 1 ms is safe
            self.limiter = Limiter(SingleBucketFactory(self.bucket, schedule_leak=False), buffer_ms=1)

    @property
    def enabled(self) -> bool:
        """False when the limit is disabled (``rate_per_minute <= 0``)."""
        return self.rate_per_minute > 0

    def for_host(self, host: str) -> RateLimiter:
        """The limiter of ``host`` (this one unless ``per_host``)."""
        if not self.per_host:
            return self
        with self._count_lock:
            limiter = self._hosts.get(host)
            if limiter is None:
                limiter = RateLimiter(
                    self.rate_per_minute,
                    self.burst,
                    blocking=self.blocking,
                    clock=self._clock,
                    name=f"{self.name} {host}",
                )
                self._hosts[host] = limiter
        return limiter

    def acquire(self, host: str = "") -> None:
        """Take one token (of ``host``'s bucket when ``per_host``): waits until one is free, or raises
        :class:`RateLimited` when non-blocking."""
        if self.per_host and self.enabled:
            self.for_host(host).acquire()
        elif self.limiter is not None and not self.limiter.try_acquire(self.name, blocking=self.blocking):
            raise RateLimited(f"{self.name}: client-side rate limit of {self.rate_per_minute:g}/min reached")
        with self._count_lock:
            self.granted += 1

    def close(self) -> None:
        """Release the Limiter's resources (none held for the in-memory bucket; safe to call twice)."""
        if self.limiter is not None:
            self.limiter.close()
        for limiter in list(self._hosts.values()):
            limiter.close()


def _per_minute(rate_per_minute: float, burst: int) -> Rate:
    """``rate_per_minute`` as a :class:`pyrate_limiter.Rate` (integer limits: fractions get a 1000-minute window)."""
    if float(rate_per_minute).is_integer():
        return Rate(int(rate_per_minute), Duration.MINUTE, burst=burst)
    return Rate(max(1, round(rate_per_minute * 1000)), Duration.MINUTE * 1000, burst=burst)


# --------------------------------------------------------------------------------------
# Retry


class _Retry(Retry):
    """urllib3 Retry that honours Retry-After on 429 and all 5xx, uses its own backoff and sleep,
    takes a rate-limit token (of the request's origin) before every retried attempt, logs each
    retry (redacted) and reports each attempt's outcome to the client's :class:`HostCircuitBreaker`:
    when a connection failure opens it, the retries stop at once."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES

    # set by HttpClient after construction and carried over by new()
    limiter: RateLimiter | None = None
    sleeper: Callable[[float], None] = staticmethod(time.sleep)
    max_retry_after: float = 120.0
    max_backoff: float = 60.0
    api_name: str = "http"
    waits: list | None = None
    breaker: HostCircuitBreaker | None = None
    host: str = ""

    def new(self, **kw: Any) -> _Retry:
        fresh = super().new(**kw)
        for attr in ("limiter", "sleeper", "max_retry_after", "max_backoff", "api_name", "waits", "breaker", "host"):
            setattr(fresh, attr, getattr(self, attr))
        return fresh

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        host = origin(_pool.scheme, _pool.host, _pool.port) if _pool is not None else self.host
        if self.breaker is not None and host:
            if is_connection_failure(error):
                if self.breaker.failed(host, error):
                    raise MaxRetryError(_pool, url, error)  # no more attempts at this host
            elif response is not None:
                self.breaker.answered(host)
        fresh = super().increment(method, url, response, error, _pool, _stacktrace)
        fresh.host = host
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
            self.limiter.acquire(self.host)


# --------------------------------------------------------------------------------------
# Client


class HttpClient:
    """Rate-limited, retrying GET client for one API.

    - ``name``: for logs and errors (``"openweather"``);
    - ``base_url``: prepended to relative paths given to :meth:`get`;
    - ``headers``: sent with every request (secret ones, e.g. ``X-RapidAPI-Key``, are registered for redaction);
    - ``secret_params``: query parameters added to every request and never recorded (``{"appid": key}``);
    - ``timeout``: seconds, for connect and for each read;
    - ``connect_timeout``: seconds to wait for a connection (default: ``timeout``); a host that does not
      accept one that fast counts as a connection failure;
    - ``rate_per_minute``/``burst``: the client-side rate limit (a blocking :class:`RateLimiter`; or pass
      ``limiter``, e.g. a non-blocking one whose refusals raise :class:`RateLimited`);
      ``per_host``: that limit applies to each origin apart (GBFS operators);
    - ``host_failure_limit``: consecutive connection failures after which an origin is not tried
      again by this client (:class:`HostCircuitBreaker`; 0 disables);
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
        connect_timeout: float | None = None,
        max_retries: int = 5,
        backoff_factor: float = 1.0,
        max_retry_after: float = 120.0,
        rate_per_minute: float = 60.0,
        burst: int = 1,
        per_host: bool = False,
        limiter: RateLimiter | None = None,
        host_failure_limit: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else min(connect_timeout, timeout)
        self.limiter = (
            limiter if limiter is not None else RateLimiter(rate_per_minute, burst, name=name, per_host=per_host)
        )
        self.breaker = HostCircuitBreaker(host_failure_limit)
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
        retry.breaker = self.breaker
        self.session = _secret_safe(session) if session is not None else SecretSafeSession()
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(headers or {})

    def url_for(self, path_or_url: str) -> str:
        """Absolute URL of ``path_or_url`` (relative paths are joined to ``base_url``)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def fetch(self, spec: RequestSpec) -> Response:
        """GET ``spec`` (:meth:`get`), the response tagged with the spec's source and key."""
        return self.get(spec.url, spec.params, source=spec.source, key=spec.key)

    def get(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        source: str = "",
        key: Mapping[str, Any] | None = None,
    ) -> Response:
        """GET with retries and rate limit; returns the final response whatever its status.

        The :class:`~extract.response.Response` carries ``source`` and ``key`` as given, the URL
        without query string, the parameters as sent minus secrets and the UTC arrival instant.

        Raises :class:`HttpError` (message redacted) when no response could be had, its subclass
        :class:`RateLimited` when a non-blocking limiter refuses the request or one of its retries, and
        its subclass :class:`HostUnreachable`, without sending anything, when the URL's origin is open
        in the client's :class:`HostCircuitBreaker`.
        """
        url = self.url_for(path_or_url)
        host = url_origin(url)
        if self.breaker.is_open(host):
            raise HostUnreachable(f"{self.name}: {self.breaker.reason(host)}; not tried", host)
        recorded = strip_secrets(params or {})
        sent = {**(params or {}), **self.secret_params}
        self.limiter.acquire(host)
        started = time.monotonic()
        try:
            resp = self.session.get(url, params=sent, timeout=(self.connect_timeout, self.timeout))
        except requests.RequestException as exc:
            message = redact(f"{self.name}: GET {url} failed: {type(exc).__name__}: {exc}")
            if self.breaker.is_open(host):
                message += f"; {self.breaker.reason(host)}: its other requests are not sent"
            raise HttpError(message) from None
        self.breaker.answered(host)
        fetched_at = datetime.now(UTC)
        log.debug("%s: GET %s -> %s in %.2f s", self.name, url, resp.status_code, time.monotonic() - started)
        return Response(
            source=source,
            key=dict(key or {}),
            method="GET",
            url=url,
            params=recorded,
            fetched_at=fetched_at,
            status=resp.status_code,
            content_type=resp.headers.get("Content-Type", ""),
            body=resp.content,
        )

    def close(self) -> None:
        """Close the session's pooled connections."""
        self.session.close()


def strip_secrets(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without any key-like entry (see :data:`SECRET_PARAM_NAMES`)."""
    return {k: v for k, v in params.items() if k.lower() not in SECRET_PARAM_NAMES}
