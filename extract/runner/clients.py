"""The HTTP side of a live run: each API's root URL and one rate-limited :class:`HttpClient` per API."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests

from extract.http import HttpClient
from extract.settings import Settings
from extract.sources import REGISTRY


def resolve_base_urls(settings: Settings, base_urls: Mapping[str, str] | None = None) -> dict[str, str]:
    """API root per API name (:attr:`Source.api`: ``wikipedia``, ``openweather``, ``aerodatabox``).

    Each source's :meth:`Source.base_url` from ``settings`` (``*_BASE_URL``), overridden by ``base_urls``
    (tests, ``--base-url``, ``GANS_API_BASE_URLS``). Raises :class:`ValueError` for an unknown API name.
    """
    urls = {source.api: source.base_url(settings) for source in REGISTRY.values()}
    unknown = set(base_urls or {}) - set(urls)
    if unknown:
        raise ValueError(f"unknown API(s) {', '.join(sorted(unknown))}; expected some of {', '.join(urls)}")
    return {**urls, **(base_urls or {})}


def make_clients(
    settings: Settings,
    sources: Sequence[str],
    *,
    base_urls: Mapping[str, str] | None = None,
    session_factory: Callable[[], requests.Session] | None = None,
    http_options: Mapping[str, Any] | None = None,
    rate_share: float = 1.0,
) -> dict[str, HttpClient]:
    """One :class:`HttpClient` per API needed by ``sources``, keyed by API name (one rate budget each).

    Keys, headers and rates come from each source's :meth:`Source.client_options`; ``base_urls``
    overrides the API roots; ``http_options`` are extra :class:`HttpClient` arguments that win over
    the sources' (tests: ``sleep``, ``backoff_factor``, ``rate_per_minute``). ``rate_share`` (0 < share
    <= 1) scales every API's rate: a fan-out worker among ``n`` concurrent ones gets ``1/n`` of the
    API's limit, so the workers together never exceed it. Raises :class:`ValueError` for a share
    outside (0, 1].
    """
    if not 0 < rate_share <= 1:
        raise ValueError(f"rate_share must be in (0, 1], got {rate_share!r}")
    urls = resolve_base_urls(settings, base_urls)
    common: dict[str, Any] = {
        "timeout": settings.http_timeout_s,
        "connect_timeout": settings.http_connect_timeout_s,
        "max_retries": settings.http_max_retries,
        "host_failure_limit": settings.http_host_failures,
    }
    common.update(http_options or {})
    clients: dict[str, HttpClient] = {}
    for name in sources:
        source = REGISTRY[name]
        if source.api in clients:
            continue
        session = session_factory() if session_factory is not None else None
        options = {**source.client_options(settings), **common}
        if options.get("rate_per_minute", 0) > 0:  # 0 disables the limit: no share of nothing
            options["rate_per_minute"] = options["rate_per_minute"] * rate_share
        clients[source.api] = HttpClient(source.api, base_url=urls[source.api], session=session, **options)
    return clients
