"""Extraction runs: live (:func:`extract`) and from recordings (:func:`replay`), with one code path for landing.

Both produce, per source, one ``extract_runs`` row (trigger ``cli``, ``replay``, ``lambda``, ...)
and a :class:`Summary`. Each response goes through the same steps:

1. counted as a request, and written to the ``--record`` folder when one is given;
2. checked against its source's declaration (:mod:`extract.sources`: a status outside
   ``ok_statuses``, a request key without the source's ``key_fields``) and parsed by the
   source: a bad status, key, page or JSON is written to ``extract_errors`` with the body
   (API keys redacted), and the run carries on with the other keys;
3. landed in batches through :class:`extract.loader.Loader` (idempotent: landing the same
   response twice stores it once). When a batch cannot be landed (database gone), the
   error is recorded if the database still answers, and the batch's responses are
   written to a spool folder in the manifest format (default ``.local/spool/<UTC timestamp>/``)
   so that ``replay`` can land them later; the error message names the folder.

A request that got no response (connection failure after the client's retries) is an
``extract_errors`` row too. After a few consecutive connection failures to one host the HTTP
client stops sending to it (:class:`extract.http.HostCircuitBreaker`): the host's remaining
keys are error rows ``HostUnreachable`` at once, counted apart in the summary
(:attr:`SourceResult.unreachable`, one notice per host), so a dead host costs seconds.

Replay order: the recordings of all sources in one ``fetched_at`` order (ties: manifest
line order), each landed under its source's run (one run per source).

Live order: the registry's (:data:`extract.sources.SOURCES`). Each source builds its
requests when its turn comes (:meth:`Source.requests`), so one may use what an earlier one
found in the same call: the flights of the airports just searched are fetched; when only
``aerodatabox_flights`` is asked for, the airports come from the latest
``aerodatabox_airports`` landing row of each city.

The package's modules, in the order a run goes through them:

- :mod:`extract.runner.live`: :func:`extract`, the live run loop (sources in registry order, fan-out
  batches, deadline);
- :mod:`extract.runner.replays`: :func:`replay`, the recordings in one ``fetched_at`` order;
- :mod:`extract.runner.clients`: the API roots and one rate-limited HTTP client per API;
- :mod:`extract.runner.source_run`: one source's run (count, check, parse, record errors, land in
  batches, spool) and the database session all runs of a call share;
- :mod:`extract.runner.summary`: the progress bar and the :class:`Summary` of a call.
"""

from .clients import make_clients, resolve_base_urls
from .live import extract, missing_settings_notice
from .replays import replay
from .source_run import close_abandoned
from .summary import SourceResult, Summary

__all__ = [
    "SourceResult",
    "Summary",
    "close_abandoned",
    "extract",
    "make_clients",
    "missing_settings_notice",
    "replay",
    "resolve_base_urls",
]
