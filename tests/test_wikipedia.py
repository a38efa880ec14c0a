"""Wikipedia infobox parser: both real Berlin revisions, and synthetic variations of them."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from landing_helpers import recorded_rows

from extract.sources import ParseError
from extract.sources.wikipedia import PARSER_VERSION, page_request, parse, parse_as_of, parse_html

REV_2025 = "wikipedia/berlin_2025-11_rev1321491080.html"
REV_2022 = "wikipedia/berlin_2022-10_rev1113830351.html"


def _pop(*values):
    """One population figure as the parser returns it, from its values in the order of the keys below."""
    return dict(zip(("kind", "value", "as_of_date", "as_of_precision", "figure_type", "label"), values, strict=True))


# Facts read off the captures (infobox rows as rendered)
EXPECTED = {
    REV_2025: {
        "revision_id": 1321491080,
        "populations": [
            # "Population (2022 census)[4]" / "• City/State 3,596,999"
            _pop("city", 3596999, "2022-01-01", "year", "census", "City/State"),
            # "• Estimate (Dec 2024)[5] 3,897,145"
            _pop("city", 3897145, "2024-12-01", "month", "estimate", "Estimate (Dec 2024)"),
            # "• Urban[6] 4,679,500"; no metro row in this revision
            _pop("urban", 4679500, "2022-01-01", "year", "census", "Urban"),
        ],
    },
    REV_2022: {
        "revision_id": 1113830351,
        "populations": [
            # "Population (31 December 2020)[2]"
            _pop("city", 3769495, "2020-12-31", "day", None, "City/State"),
            _pop("urban", 4473101, "2020-12-31", "day", None, "Urban"),
            _pop("metro", 6144600, "2020-12-31", "day", None, "Metro"),
        ],
    },
}


@pytest.fixture(scope="module")
def pages(recordings):
    return {body: (recordings / body).read_text(encoding="utf-8") for body in EXPECTED}


@pytest.mark.recordings
@pytest.mark.parametrize("body", list(EXPECTED))
def test_berlin_revisions(pages, body):
    payload, infobox = parse_html(pages[body], "Berlin")
    expected = EXPECTED[body]
    assert payload == {
        "city": "Berlin",
        "page_title": "Berlin",
        "page_url": "https://en.wikipedia.org/wiki/Berlin",
        "revision_id": expected["revision_id"],
        "country": "Germany",
        "latitude": 52.52,
        "longitude": 13.405,
        "populations": expected["populations"],
        "parser_version": PARSER_VERSION,
    }
    assert infobox.startswith("<table") and "ib-settlement" in infobox
    # area (891.x km2) and GDP rows share the "City/State" label but are not populations
    assert all(p["value"] > 1_000_000 for p in payload["populations"])


@pytest.mark.recordings
@pytest.mark.parametrize("body", list(EXPECTED))
def test_pretty_printed_page_parses_the_same(pages, body):
    pretty = BeautifulSoup(pages[body], "lxml").prettify()
    assert pretty != pages[body]
    assert parse_html(pretty, "Berlin")[0] == parse_html(pages[body], "Berlin")[0]


@pytest.mark.recordings
def test_every_wikipedia_recording_parses(recordings):
    for entry, row in recorded_rows(recordings, "wikipedia", parse):
        assert row.request_key == entry.key
        assert row.fetched_at == entry.fetched_at
        assert str(row.payload["revision_id"]) in entry.body  # file names carry the revision
        assert row.payload["populations"] and row.extra["infobox_html"]


def _without_geo_dec(html: str) -> str:
    soup = BeautifulSoup(html, "lxml")
    for span in soup.select("span.geo-dec, span.geo"):
        span.decompose()
    return str(soup)


@pytest.mark.recordings
def test_dms_only_coordinates(pages):
    html = _without_geo_dec(pages[REV_2025])
    assert 'class="geo-dec"' not in html and 'class="geo"' not in html
    payload, _ = parse_html(html, "Berlin")
    # 52°31′12″N 13°24′18″E
    assert payload["latitude"] == pytest.approx(52 + 31 / 60 + 12 / 3600)
    assert payload["longitude"] == pytest.approx(13 + 24 / 60 + 18 / 3600)


@pytest.mark.recordings
def test_southern_western_dms_are_negative(pages):
    html = _without_geo_dec(pages[REV_2025]).replace("52°31′12″N", "22°54′30″S").replace("13°24′18″E", "43°11′47″W")
    payload, _ = parse_html(html, "Rio")
    assert payload["latitude"] == pytest.approx(-(22 + 54 / 60 + 30 / 3600))
    assert payload["longitude"] == pytest.approx(-(43 + 11 / 60 + 47 / 3600))


@pytest.mark.recordings
def test_hidden_geo_span_when_no_geo_dec(pages):
    soup = BeautifulSoup(pages[REV_2022], "lxml")
    for span in soup.select("span.geo-dec"):
        span.decompose()
    for span in soup.select("span.geo"):
        span.string = "-33.8688; 151.2093"
    payload, _ = parse_html(str(soup), "Sydney")
    assert (payload["latitude"], payload["longitude"]) == (-33.8688, 151.2093)


SYNTHETIC = """<html><head><link rel="canonical" href="https://en.wikipedia.org/wiki/Testville">
<script>RLCONF={{"wgTitle":"Testville","wgRevisionId":42,"wgPageName":"Testville"}};</script></head>
<body><h1 id="firstHeading">Testville</h1>
<table class="infobox ib-settlement vcard"><tbody>
<tr class="mergedtoprow"><th class="infobox-label">Country</th>
<td class="infobox-data">Freedonia<sup class="reference">[1]</sup></td></tr>
<tr class="mergedtoprow"><th class="infobox-header" colspan="2">Area</th></tr>
<tr class="mergedrow"><th class="infobox-label"> • City</th><td class="infobox-data">123 km<sup>2</sup></td></tr>
<tr class="mergedtoprow"><th class="infobox-header" colspan="2">Population
<div class="ib-settlement-fn">{header}</div></th></tr>
<tr class="mergedrow"><th class="infobox-label"> • City</th><td class="infobox-data">{city}</td></tr>
{extra}
<tr class="mergedrow"><th class="infobox-label"> • Density</th><td class="infobox-data">9,999/km2</td></tr>
<tr class="mergedtoprow"><th class="infobox-header" colspan="2">GDP</th></tr>
<tr class="mergedrow"><th class="infobox-label"> • City</th><td class="infobox-data">€77 billion</td></tr>
<tr class="mergedbottomrow"><td colspan="2">Coordinates: <span class="geo-dec">1.5°S 2.25°W</span></td></tr>
</tbody></table></body></html>"""


def _synthetic(header="(2023-12-31)", city="1,234,567", extra=""):
    return SYNTHETIC.format(header=header, city=city, extra=extra)


def test_synthetic_iso_header_and_footnotes():
    payload, _ = parse_html(_synthetic(city="1,234,567[ 4 ][note 1]"), "Testville")
    assert payload["country"] == "Freedonia"
    assert payload["revision_id"] == 42
    assert (payload["latitude"], payload["longitude"]) == (-1.5, -2.25)
    assert payload["populations"] == [_pop("city", 1234567, "2023-12-31", "day", None, "City")]


def test_synthetic_metro_present_and_estimate_row():
    extra = (
        '<tr class="mergedrow"><th class="infobox-label"> • Estimate <div>(March 2024)[7]</div></th>'
        '<td class="infobox-data">1,300,000</td></tr>'
        '<tr class="mergedrow"><th class="infobox-label"> • Metro<sup class="reference">[9]</sup></th>'
        '<td class="infobox-data">2,000,000</td></tr>'
        '<tr class="mergedrow"><th class="infobox-label"> • Metro density</th>'
        '<td class="infobox-data">500/km2</td></tr>'
    )
    payload, _ = parse_html(_synthetic(header="(2021 census)[3]", extra=extra), "Testville")
    assert payload["populations"] == [
        _pop("city", 1234567, "2021-01-01", "year", "census", "City"),
        _pop("city", 1300000, "2024-03-01", "month", "estimate", "Estimate (March 2024)"),
        _pop("metro", 2000000, "2021-01-01", "year", "census", "Metro"),
    ]


def test_synthetic_metro_absent_has_no_metro():
    payload, _ = parse_html(_synthetic(), "Testville")
    assert [p["kind"] for p in payload["populations"]] == ["city"]


def test_synthetic_pretty_printed():
    html = _synthetic(header="(31 December 2020)[2]", city="1,234,567[5]")
    pretty = BeautifulSoup(html, "lxml").prettify()
    assert parse_html(pretty, "Testville")[0] == parse_html(html, "Testville")[0]
    assert parse_html(pretty, "Testville")[0]["populations"][0]["as_of_date"] == "2020-12-31"


def test_missing_infobox_is_a_parse_error():
    html = re.sub(r"<table.*</table>", "", _synthetic(), flags=re.S)
    with pytest.raises(ParseError, match="infobox"):
        parse_html(html, "Testville")


def test_missing_revision_is_a_parse_error():
    with pytest.raises(ParseError, match="revision"):
        parse_html(_synthetic().replace('"wgRevisionId":42,', ""), "Testville")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("(2022 census)", ("2022-01-01", "year", "census")),
        ("(31 December 2020)", ("2020-12-31", "day", None)),
        ("(2023-12-31)", ("2023-12-31", "day", None)),
        ("(Dec 2024)", ("2024-12-01", "month", None)),
        ("(2020 est.)", ("2020-01-01", "year", "estimate")),
        ("(January 5, 2019)", ("2019-01-05", "day", None)),
        ("", (None, None, None)),
    ],
)
def test_parse_as_of(text, expected):
    assert parse_as_of(text) == expected


def test_page_request_url():
    spec = page_request("São Paulo", "São Paulo", "http://localhost:1")
    assert spec.url == "http://localhost:1/wiki/S%C3%A3o_Paulo"
    assert spec.key == {"city": "São Paulo"} and spec.params == {}
