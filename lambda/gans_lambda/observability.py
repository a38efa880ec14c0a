"""Logging set-up shared by the handlers: the project's loggers reach CloudWatch.

Lambda's runtime puts one handler on the root logger. With the functions' logging
config (``template.yaml``: ``LogFormat: JSON``, ``ApplicationLogLevel: INFO``) that
handler writes every record as one JSON object (timestamp, level, message, logger,
requestId) plus the record's ``extra`` keys, and Lambda passes the level in
``AWS_LAMBDA_LOG_LEVEL``. Without that config the root logger stays at WARNING, so the
INFO lines of ``extract.*``, ``transform.*`` and ``gans_lambda.*`` would be dropped
before they reach it: :func:`configure` sets those loggers' own level, and their records
then propagate to the runtime's handler whatever the root's level.

Structured lines the alarms read (``template.yaml``'s metric filters):
``{"event": "extract_source", "source", "status", "run_id", "requests", "landed",
"landed_total", "duplicates", "errors", "idempotency_key", "schedule"}``, one per source
and invocation. Why no aws-lambda-powertools: the runtime's JSON formatter already
renders ``extra`` keys, and metric filters turn these lines into the per-source
metrics, so neither package (zip, image) nor the dev environment needs another
dependency.
"""

from __future__ import annotations

import logging
import os

#: loggers whose INFO lines must reach CloudWatch
PROJECT_LOGGERS = ("extract", "transform", "gans_lambda")


def configure() -> None:
    """Set the project's loggers to ``AWS_LAMBDA_LOG_LEVEL`` (default INFO); idempotent.

    ``TRACE`` (a Lambda level) maps to DEBUG; an unknown name falls back to INFO.
    """
    name = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
    level = logging.getLevelName("DEBUG" if name == "TRACE" else name)
    if not isinstance(level, int):
        level = logging.INFO
    for logger in PROJECT_LOGGERS:
        logging.getLogger(logger).setLevel(level)
