"""The registry of sources: one module per source, each declaring one :class:`~extract.sources.base.Source`.

:data:`REGISTRY` maps source names to their declarations in run order (a source may use
what an earlier one landed: flights use the airports found). To add a source, follow the
checklist in ``docs/sources.md``: one module here, one migration, its dbt models and docs, the
template's schedule and alarm; the CLI, grants, retention and the tests' expectations derive from
this registry.
"""

from __future__ import annotations

from extract import loader
from extract.response import RequestSpec, Response
from extract.sources.aerodatabox import AIRPORTS, FLIGHTS
from extract.sources.base import ParseError, RunContext, Source, load_json, require
from extract.sources.gbfs import GBFS
from extract.sources.open_meteo import OPEN_METEO
from extract.sources.openweather import OPENWEATHER
from extract.sources.wikipedia import WIKIPEDIA

#: source name -> declaration, in run order
REGISTRY: dict[str, Source] = {s.name: s for s in (WIKIPEDIA, OPEN_METEO, OPENWEATHER, AIRPORTS, FLIGHTS, GBFS)}
#: the source names, in run order
SOURCES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> Source:
    """The declaration of source ``name``; :class:`ValueError` naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}") from None


# rows built from a source name (tests, replays of stored rows) find their declaration here; the loader
# imports no source module
loader.use_registry(get)


def apis() -> dict[str, list[str]]:
    """API name (HTTP client and rate budget) -> the sources using it."""
    out: dict[str, list[str]] = {}
    for source in REGISTRY.values():
        out.setdefault(source.api, []).append(source.name)
    return out


__all__ = [
    "REGISTRY",
    "SOURCES",
    "ParseError",
    "RequestSpec",
    "Response",
    "RunContext",
    "Source",
    "apis",
    "get",
    "load_json",
    "require",
]
