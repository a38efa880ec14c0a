"""Instants and windows: the one parser and formatter of UTC instants, and the "coming day".

Every instant the project reads or writes as text (manifest ``fetched_at``, CLI ``--from``/``--to``,
Lambda ``scheduled_time`` and windows, test and benchmark fixtures) goes through
:func:`parse_instant`/:func:`format_instant`; every "the day after" flight window through
:func:`coming_day`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def parse_instant(text: str, *, naive_is_utc: bool = False) -> datetime:
    """Aware UTC datetime of ISO 8601 ``text`` (``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` with ``Z`` or an offset).

    A text without offset raises :class:`ValueError`, unless ``naive_is_utc`` (then it is read as
    UTC). Malformed text raises :class:`ValueError` too (``datetime.fromisoformat``'s message).
    """
    if not isinstance(text, str):
        raise ValueError(f"instant must be text, got {type(text).__name__}")
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise ValueError(f"instant {text!r} has no time zone (add Z or an offset such as +02:00)")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_instant(moment: datetime) -> str:
    """UTC text of an aware datetime: ``YYYY-MM-DDTHH:MM:SSZ``, or ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
    when it has microseconds (so :func:`parse_instant` gives back the same instant). Raises
    :class:`ValueError` for a naive datetime."""
    if moment.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def coming_day(zone: tzinfo, after: datetime | date | None = None) -> tuple[datetime, datetime]:
    """The calendar day after ``after`` in ``zone``: ``(00:00, next day 00:00)``, both aware in ``zone``.

    ``after`` is an aware instant (e.g. a schedule's scheduled time: its local date in ``zone``
    counts), a local ``date``, or None for now. On DST days the span is 23 or 25 hours.
    """
    if after is None:
        day = datetime.now(zone).date()
    elif isinstance(after, datetime):
        if after.tzinfo is None:
            raise ValueError("after must be timezone-aware")
        day = after.astimezone(zone).date()
    else:
        day = after
    start = day + timedelta(days=1)
    return (
        datetime.combine(start, time(0, 0), tzinfo=zone),
        datetime.combine(start + timedelta(days=1), time(0, 0), tzinfo=zone),
    )
