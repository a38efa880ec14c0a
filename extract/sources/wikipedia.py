"""Wikipedia: a city's article HTML -> its infobox facts as one landing row.

Request: ``GET {base}/wiki/{title}`` (no query parameters), with a descriptive
User-Agent (Wikimedia's policy), one request at a time. Key: ``{"city": <name>}``.

Landing payload (JSON; the dbt staging models depend on this exact shape)::

    {"city": str,                  # the request key's city
     "page_title": str, "page_url": str, "revision_id": int,
     "country": str | None,
     "latitude": float | None, "longitude": float | None,   # decimal degrees, S and W negative
     "populations": [{"kind": "city" | "urban" | "metro", "value": int,
                      "as_of_date": "YYYY-MM-DD" | None,     # first day of the period
                      "as_of_precision": "day" | "month" | "year" | None,
                      "figure_type": "census" | "estimate" | None,
                      "label": str}],                        # row label as on the page, bullet and footnotes removed
     "parser_version": int}

plus ``infobox_html``: the ``table.infobox.ib-settlement`` element as served.

Population rules: only rows of the Population section count (the same
"• City/State" label also occurs under Area and GDP). A row inherits the section
header's as-of date and figure type ("Population (2022 census)") unless its own
label carries a date ("• Estimate (Dec 2024)"). Density, rank and other non-count
rows are skipped. Footnote markers (``[4]``, ``[ 4 ]``, ``[note 1]``) are removed.
Pretty-printed HTML (text padded with whitespace) parses the same.

Coordinates: ``span.geo-dec``, else the hidden ``span.geo`` ("52.52; 13.405"), else
DMS ``span.latitude``/``span.longitude``; first in the infobox, then anywhere on the page.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from urllib.parse import quote

from bs4 import BeautifulSoup, Tag

from extract.loader import LandingRow
from extract.response import RequestSpec, Response
from extract.sources.base import ParseError, RunContext, Source

DEFAULT_BASE_URL = "https://en.wikipedia.org"
#: bump when the payload produced from the same HTML changes
PARSER_VERSION = 1

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
_MONTH_RE = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_FOOTNOTE_RE = re.compile(r"\[\s*[^\[\]]{0,30}?\s*\]")
_SPACE_RE = re.compile(r"[\s\u00a0\u202f\u2009\ufeff\u200b\u200e\u200f]+")
_NUMBER_RE = re.compile(r"\d{1,3}(?:[,\u00a0\u202f\u2009 .]\d{3})+(?!\d)|\d+")
_SKIP_LABEL_RE = re.compile(r"density|rank|demonym|household|growth|change|%", re.I)
_CITY_LABEL_RE = re.compile(
    r"^(city|city/state|city proper|state|total|municipality|commune|capital|population|estimate|census|"
    r"municipal|land|comune|proper|urban\s*\+\s*rural)",
    re.I,
)


def page_request(city: str, title: str, base_url: str = DEFAULT_BASE_URL) -> RequestSpec:
    """The article request for ``city`` (key ``{"city": city}``) on page ``title`` (spaces become underscores)."""
    path = quote(title.replace(" ", "_"), safe="_(),'!-.:")
    return RequestSpec(Wikipedia.name, {"city": city}, f"{base_url.rstrip('/')}/wiki/{path}", {})


def _text(tag: Tag | None) -> str:
    """Text of ``tag`` with footnote markers removed and whitespace collapsed."""
    if tag is None:
        return ""
    raw = tag.get_text(" ")
    return _clean(raw)


def _clean(raw: str) -> str:
    text = _FOOTNOTE_RE.sub(" ", _SPACE_RE.sub(" ", raw))
    text = _SPACE_RE.sub(" ", text).strip()
    # "( 2022 census )" -> "(2022 census)"
    return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))


def parse_as_of(text: str) -> tuple[str | None, str | None, str | None]:
    """Date, precision and figure type in ``text`` such as "(2022 census)" or "(31 December 2020)".

    Returns ``(iso_date, precision, figure_type)``; the date is the first day of the
    period (``"2022-01-01"``, ``"year"``); each part is ``None`` when absent.
    """
    low = text.lower()
    figure_type = None
    if "census" in low:
        figure_type = "census"
    elif re.search(r"\best(imate[sd]?|\.|\b)", low):
        figure_type = "estimate"
    patterns: list[tuple[str, str]] = [
        (r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", "ymd"),
        (r"\b(\d{1,2})\s+" + _MONTH_RE + r",?\s+(\d{4})\b", "dmy"),
        (r"\b" + _MONTH_RE + r"\s+(\d{1,2}),?\s+(\d{4})\b", "mdy"),
        (r"\b" + _MONTH_RE + r",?\s+(\d{4})\b", "my"),
        (r"\b(1[5-9]\d\d|2\d\d\d)\b", "y"),
    ]
    for pattern, shape in patterns:
        match = re.search(pattern, low)
        if not match:
            continue
        g = match.groups()
        try:
            if shape == "ymd":
                return date(int(g[0]), int(g[1]), int(g[2])).isoformat(), "day", figure_type
            if shape == "dmy":
                return date(int(g[2]), _MONTHS[g[1]], int(g[0])).isoformat(), "day", figure_type
            if shape == "mdy":
                return date(int(g[2]), _MONTHS[g[0]], int(g[1])).isoformat(), "day", figure_type
            if shape == "my":
                return date(int(g[1]), _MONTHS[g[0]], 1).isoformat(), "month", figure_type
            return date(int(g[0]), 1, 1).isoformat(), "year", figure_type
        except ValueError:  # e.g. 31 February: try the coarser shapes
            continue
    return None, None, figure_type


def _parse_count(text: str) -> int | None:
    """The first count in ``text`` ("3,596,999", "3 596 999", "3.6 million"); None when there is none."""
    million = re.search(r"(\d+(?:[.,]\d+)?)\s*million", text, re.I)
    if million and text.strip().startswith(million.group(1)):
        return round(float(million.group(1).replace(",", ".")) * 1_000_000)
    match = _NUMBER_RE.search(text)
    if not match:
        return None
    digits = re.sub(r"\D", "", match.group(0))
    return int(digits) if digits else None


def _kind(label_base: str) -> str | None:
    if _SKIP_LABEL_RE.search(label_base):
        return None
    low = label_base.lower()
    if "metro" in low:
        return "metro"
    if "urban" in low and not re.search(r"urban\s*\+\s*rural", low):
        return "urban"
    if _CITY_LABEL_RE.match(label_base.strip()):
        return "city"
    return None


def _row_parts(row: Tag) -> tuple[Tag | None, Tag | None]:
    header = row.find("th", recursive=False)
    data = row.find("td", recursive=False)
    return header, data


def _is_population_header(row: Tag) -> bool:
    header, _ = _row_parts(row)
    return header is not None and _text(header).lower().startswith("population")


def _section_ends(row: Tag) -> bool:
    classes = row.get("class") or []
    header, _ = _row_parts(row)
    if header is not None and "infobox-header" in (header.get("class") or []):
        return True
    if "mergedtoprow" in classes:
        return True
    if not classes:  # infoboxes without merged-row classes: a sub-row's label starts with a bullet
        return not _text(header).startswith("•")
    return False


def _figure(label: str, value_text: str, own: tuple, head: tuple) -> dict[str, Any] | None:
    """One population figure from a row, or None when the row is not a count of people."""
    value = _parse_count(value_text)
    if value is None:
        return None
    base = re.sub(r"\(.*?\)", " ", label)
    kind = _kind(base)
    if kind is None:
        return None
    own_iso, own_precision, own_type = own
    if "estimate" in base.lower():
        own_type = own_type or "estimate"
    if own_iso is not None:
        as_of, precision, figure_type = own_iso, own_precision, own_type
    else:
        as_of, precision, figure_type = head[0], head[1], own_type or head[2]
    return {
        "kind": kind,
        "value": value,
        "as_of_date": as_of,
        "as_of_precision": precision,
        "figure_type": figure_type,
        "label": label,
    }


def _populations(box: Tag) -> list[dict[str, Any]]:
    """The figures of the first Population section of the infobox (see the module docstring)."""
    rows = box.find_all("tr")
    for index, row in enumerate(rows):
        if not _is_population_header(row):
            continue
        out: list[dict[str, Any]] = []
        header, data = _row_parts(row)
        head = parse_as_of(_text(header)[len("population") :])
        if data is not None and _text(data):
            # "Population (2020) | 123,456" on one row: the city total
            out.append(_figure("Population", _text(data), (None, None, None), head))
        for sub in rows[index + 1 :]:
            if _section_ends(sub):
                break
            label_tag, value_tag = _row_parts(sub)
            if label_tag is None or value_tag is None:
                continue
            label = _text(label_tag).lstrip("•·- ").strip()
            paren = re.findall(r"\(([^()]*)\)", label)
            own = parse_as_of(" ".join(paren)) if paren else (None, None, None)
            if own[0] is None:
                value_paren = re.findall(r"\(([^()]*)\)", _text(value_tag))
                own_value = parse_as_of(" ".join(value_paren)) if value_paren else (None, None, None)
                if own_value[0] is not None:
                    own = own_value
            out.append(_figure(label, _text(value_tag), own, head))
        return [f for f in out if f is not None]
    return []


def _country(box: Tag) -> str | None:
    for row in box.find_all("tr"):
        header, data = _row_parts(row)
        if header is None or data is None:
            continue
        if _text(header).lower() in ("country", "sovereign state"):
            value = _text(data)
            return value or None
    return None


def _dms_to_decimal(text: str) -> float | None:
    match = re.search(
        r"(\d+(?:\.\d+)?)\s*°\s*(?:(\d+(?:\.\d+)?)\s*[′']\s*)?(?:(\d+(?:\.\d+)?)\s*[″\"]\s*)?([NSEW])", text
    )
    if not match:
        return None
    deg, minutes, seconds, hemi = match.groups()
    value = float(deg) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    return round(-value if hemi in "SW" else value, 6)


def _coordinates(scopes: list[Tag]) -> tuple[float | None, float | None]:
    for scope in scopes:
        for span in scope.select("span.geo-dec"):
            match = re.search(r"(\d+(?:\.\d+)?)\s*°\s*([NS])\s*(\d+(?:\.\d+)?)\s*°\s*([EW])", _text(span))
            if match:
                lat = float(match.group(1)) * (-1 if match.group(2) == "S" else 1)
                lon = float(match.group(3)) * (-1 if match.group(4) == "W" else 1)
                return lat, lon
    for scope in scopes:
        for span in scope.select("span.geo"):
            parts = [p.strip() for p in _text(span).split(";")]
            if len(parts) == 2:
                try:
                    return float(parts[0]), float(parts[1])
                except ValueError:
                    continue
    for scope in scopes:
        lat_span, lon_span = scope.select_one("span.latitude"), scope.select_one("span.longitude")
        if lat_span is not None and lon_span is not None:
            lat, lon = _dms_to_decimal(_text(lat_span)), _dms_to_decimal(_text(lon_span))
            if lat is not None and lon is not None:
                return lat, lon
    return None, None


def _config_value(html: str, name: str) -> Any:
    match = re.search(r'"' + name + r'"\s*:\s*("(?:[^"\\]|\\.)*"|\d+)', html)
    if not match:
        return None
    return json.loads(match.group(1))


def parse_html(html: str, city: str, url: str = "") -> tuple[dict[str, Any], str]:
    """Parse an article's HTML into ``(payload, infobox_html)`` (payload as in the module docstring).

    Raises :class:`ParseError` when the page has no settlement infobox or no revision id.
    """
    soup = BeautifulSoup(html, "lxml")
    box = soup.select_one("table.infobox.ib-settlement")
    if box is None:
        raise ParseError("no settlement infobox (table.infobox.ib-settlement) on the page")
    infobox_html = str(box)
    revision = _config_value(html, "wgRevisionId")
    if not isinstance(revision, int) or revision <= 0:
        raise ParseError("no revision id (wgRevisionId) in the page's script config")
    # work on a copy without footnotes, so infobox_html stays as served
    work = BeautifulSoup(infobox_html, "lxml").select_one("table")
    for sup in work.select("sup.reference, sup.noprint, span.noprint.Inline-Template"):
        sup.decompose()
    heading = soup.select_one("h1#firstHeading")
    title = _text(heading) or _config_value(html, "wgTitle") or city
    canonical = soup.select_one('link[rel="canonical"]')
    page_url = canonical.get("href") if canonical is not None and canonical.get("href") else url
    latitude, longitude = _coordinates([work, soup])
    payload = {
        "city": city,
        "page_title": title,
        "page_url": page_url,
        "revision_id": revision,
        "country": _country(work),
        "latitude": latitude,
        "longitude": longitude,
        "populations": _populations(work),
        "parser_version": PARSER_VERSION,
    }
    return payload, infobox_html


class Wikipedia(Source):
    """City facts from each tracked city's article (key ``{"city"}``; no API key).

    Landing table ``wikipedia_city_pages`` (with the extra column ``infobox_html``); staged by
    ``stg_wikipedia__city_pages`` and ``stg_wikipedia__populations``.
    """

    name = "wikipedia"
    landing_table = "wikipedia_city_pages"
    key_fields = ("city",)
    api = "wikipedia"
    base_url_setting = "wikipedia_base_url"
    extra_columns = ("infobox_html",)
    schedule = "cron(30 4 1 * ? *)"

    def client_options(self, settings) -> dict:
        # Wikimedia's policy: a descriptive User-Agent, one request at a time, no hammering
        return {
            "headers": {"User-Agent": settings.wikipedia_user_agent, "Accept": "text/html"},
            "rate_per_minute": settings.wikipedia_rate_per_minute,
        }

    def requests(self, ctx: RunContext) -> list[RequestSpec]:
        return [page_request(c.name, c.wikipedia_title, ctx.base_url) for c in ctx.cities]

    def parse(self, response: Response) -> list[LandingRow]:
        """One landing row from an article response; :class:`ParseError` when it is not a parseable page."""
        city = response.key["city"]
        payload, infobox_html = parse_html(response.text(), city, response.url)
        return [self.row(response, payload, infobox_html=infobox_html)]


WIKIPEDIA = Wikipedia()
parse = WIKIPEDIA.parse
