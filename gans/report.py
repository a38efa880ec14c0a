"""The demand report: one static HTML page per tracked city, built from the demand marts.

Reads, as the analyst user, ``gans.demand_baseline``, ``demand_factors``, ``demand_placement`` and
``gbfs_availability`` (the built marts; see their dbt docs) and writes ``<out_dir>/<city_id>.html``
(plus ``index.html`` linking them) with four plotly figures, their JavaScript inlined (no CDN,
no map tiles: the maps are grids of 250 m cells, row = north, column = east):

- ``plot-hour-of-week``: expected trips per local hour of the week (demand_baseline, city totals);
- ``plot-rain``: the city's factors (rain, cold, hot, arrivals) estimated vs applied, with sample sizes;
- ``plot-placement``: tomorrow morning's placement rank per cell (demand_placement);
- ``plot-supply``: competitors' mean available vehicles per cell in the same period.

Times are local (the city's time zone) as the marts give them. Raises ``RuntimeError`` when the
marts hold no demand rows (build them first: ``make run`` or ``python -m gans dbt build``).
"""

from __future__ import annotations

import html
from pathlib import Path

import plotly.graph_objects as go

from extract import db
from extract.settings import Settings

PLOTS = ("plot-hour-of-week", "plot-rain", "plot-placement", "plot-supply")


def _query(conn, sql: str, params=()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def _grid(rows: list[tuple], title: str, colorbar: str, reverse: bool) -> go.Figure:
    """A heat map of (cell_row, cell_col, value) rows: north up, east right."""
    cols = sorted({r[1] for r in rows})
    row_ids = sorted({r[0] for r in rows})
    z = [[None] * len(cols) for _ in row_ids]
    for row, col, value in rows:
        z[row_ids.index(row)][cols.index(col)] = float(value)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in cols],
            y=[str(r) for r in row_ids],
            colorscale="Viridis",
            reversescale=reverse,
            colorbar={"title": colorbar},
            texttemplate="%{z}",
        )
    )
    fig.update_layout(title=title, xaxis_title="cell column (east)", yaxis_title="cell row (north)")
    return fig


def city_figures(conn, city_id: int) -> dict[str, go.Figure]:
    """The four figures of one city, keyed by their element id (:data:`PLOTS`)."""
    how = _query(
        conn,
        "select hour_of_week, sum(expected_trips_started) from demand_baseline where city_id = %s"
        " group by hour_of_week order by hour_of_week",
        (city_id,),
    )
    factors = _query(
        conn,
        "select factor_name, factor_estimated, factor_applied, sample_hours from demand_factors"
        " where city_id = %s order by factor_name",
        (city_id,),
    )
    placement = _query(
        conn,
        "select cell_row, cell_col, placement_rank, local_date from demand_placement"
        " where city_id = %s and period = 'morning'",
        (city_id,),
    )
    supply = _query(
        conn,
        "select cell_row, cell_col, expected_vehicles_available from demand_placement"
        " where city_id = %s and period = 'morning'",
        (city_id,),
    )
    figures = {}
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    figures["plot-hour-of-week"] = go.Figure(
        go.Bar(x=[f"{days[h // 24]} {h % 24:02d}h" for h, _ in how], y=[float(v) for _, v in how])
    ).update_layout(
        title="Expected competitor trip starts per local hour of the week (next 72 hours)", yaxis_title="trips"
    )
    figures["plot-rain"] = go.Figure(
        [
            go.Bar(
                name="estimated",
                x=[f"{n} (n={s} h)" for n, _, _, s in factors],
                y=[float(e) if e is not None else None for _, e, _, _ in factors],
            ),
            go.Bar(
                name="applied", x=[f"{n} (n={s} h)" for n, _, _, s in factors], y=[float(a) for _, _, a, _ in factors]
            ),
        ]
    ).update_layout(title="Demand factors vs dry, mild hours (1 = no effect)", yaxis_title="factor", barmode="group")
    date = placement[0][3] if placement else "tomorrow"
    figures["plot-placement"] = _grid(
        [r[:3] for r in placement], f"Placement rank, {date} morning (1 = place first)", "rank", reverse=True
    )
    figures["plot-supply"] = _grid(supply, "Competitors' expected available vehicles, morning", "vehicles", False)
    return figures


def write_report(out_dir: Path, settings: Settings | None = None) -> list[Path]:
    """Write one page per city with demand rows, and an index; returns the pages' paths."""
    settings = settings or Settings()
    out_dir.mkdir(parents=True, exist_ok=True)
    conn = db.connect(settings, "analyst", database=settings.marts_database)
    try:
        cities = _query(
            conn,
            "select cities.city_id, cities.city_name from cities"
            " where cities.city_id in (select distinct city_id from demand_baseline) order by cities.city_name",
        )
        if not cities:
            raise RuntimeError("demand_baseline holds no rows: build the marts first (python -m gans dbt build)")
        pages = []
        for city_id, name in cities:
            figures = city_figures(conn, city_id)
            parts = [
                f'<div id="{key}">{fig.to_html(full_html=False, include_plotlyjs=(k == 0), div_id=key + "-fig")}</div>'
                for k, (key, fig) in enumerate(figures.items())
            ]
            page = out_dir / f"{city_id}.html"
            page.write_text(
                "<!doctype html><html><head><meta charset='utf-8'>"
                f"<title>Demand: {html.escape(name)}</title></head><body>"
                f"<h1>Where competitors' riders will start trips: {html.escape(name)}</h1>"
                "<p>From the marts demand_baseline, demand_factors and demand_placement (dbt docs say how to read "
                "them; demand_backtest says how far to trust them).</p>" + "".join(parts) + "</body></html>",
                encoding="utf-8",
            )
            pages.append(page)
        links = "".join(
            f'<li><a href="{p.name}">{html.escape(n)}</a></li>' for p, (_, n) in zip(pages, cities, strict=True)
        )
        head = "<!doctype html><html><head><meta charset='utf-8'><title>Demand report</title></head>"
        index = f"{head}<body><ul>{links}</ul>"
        (out_dir / "index.html").write_text(index + "</body></html>", encoding="utf-8")
        return pages
    finally:
        conn.close()
