"""Extraction and loading: public sources into the MySQL landing tables (``gans_raw``).

What the extract Lambda's zip ships, and nothing else: :mod:`extract.sources` (one module
per source: request, parse, keys, schedule), :mod:`extract.runner` (live runs and replays),
:mod:`extract.http` (retries, rate limits, redaction), :mod:`extract.loader` (idempotent
landing), :mod:`extract.recording` (record/replay format), :mod:`extract.runlog` (run and
error log), :mod:`extract.db` (connections, migrations, users), :mod:`extract.settings`.
The dbt runner is :mod:`transform`, the local database :mod:`localdb`, the CLI :mod:`gans`.
"""
