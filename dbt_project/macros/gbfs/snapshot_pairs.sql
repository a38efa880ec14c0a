{#
  The snapshot pairs of the GBFS models: the latest fresh snapshot of the same system
  before `outer`.landing_id, at most var gbfs_flow_max_gap_minutes older (ties on the
  instant broken by landing id). A scalar correlated subquery (one row per snapshot of
  `outer`, read along the (system_id, snapshot_at_utc) index of `snapshots`), NULL when
  there is none. `condition` is one more SQL condition on `previous` (e.g. stations staged).
#}
{% macro gbfs_previous_landing_id(snapshots, outer, condition=none) -%}
    (
        select previous.landing_id
        from {{ snapshots }} as previous
        where
            previous.system_id = {{ outer }}.system_id
            and previous.is_stale = 0
            {%- if condition %}
            and {{ condition }}
            {%- endif %}
            and previous.snapshot_at_utc >= timestampadd(
                minute, -{{ var('gbfs_flow_max_gap_minutes') }}, {{ outer }}.snapshot_at_utc
            )
            and (
                previous.snapshot_at_utc < {{ outer }}.snapshot_at_utc
                or (
                    previous.snapshot_at_utc = {{ outer }}.snapshot_at_utc
                    and previous.landing_id < {{ outer }}.landing_id
                )
            )
        order by previous.snapshot_at_utc desc, previous.landing_id desc
        limit 1
    )
{%- endmacro %}

{#
  The (system, time) keys of the GBFS marts recomputed by a run: the distinct system_id
  and `time_column` (bucket_start_utc, hour_utc) of the fresh snapshots loaded since the
  watermark (a constant: gbfs_loaded_since); every fresh snapshot's outside incremental runs.
#}
{% macro gbfs_changed_keys(time_column) -%}
    select distinct
        system_id,
        {{ time_column }}
    from {{ ref('int_gbfs__snapshots') }}
    where
        is_stale = 0
        {{ gbfs_loaded_since('loaded_at') }}
{%- endmacro %}

{#
  The leading columns of the grouped GBFS cell marts (gbfs_availability, gbfs_net_flows):
  the system's city key, city and operator from the one-row-per-system CTE `systems`,
  taken with max() (one value per group, which ONLY_FULL_GROUP_BY accepts), then the
  group key of `cells`: system, `time_column`, cell row and column.
#}
{% macro gbfs_cell_group_columns(cells, time_column) -%}
    max(systems.city_id) as city_id,
    max(systems.city_name) as city_name,
    max(systems.operator) as operator,
    {{ cells }}.system_id,
    {{ cells }}.{{ time_column }},
    {{ cells }}.cell_row,
    {{ cells }}.cell_col
{%- endmacro %}

{#
  The columns of a pair-marker row of a GBFS change model (one row per snapshot pair, so a
  pair without changes still shows it was observed): change_kind 'pair', then NULL for
  each of `columns`, in that order (the union's), as text in the project collation for the
  text columns (vehicle_id, form_factor, matched_vehicle_id), a plain NULL for the others.
#}
{% macro gbfs_pair_marker(columns) -%}
    {{ as_text("'pair'") }} as change_kind
    {%- for column in columns %},
    {{ as_text('null') if column in ['vehicle_id', 'form_factor', 'matched_vehicle_id'] else 'null' }} as {{ column }}
    {%- endfor %}
{%- endmacro %}

{#
  The tail of the grouped GBFS cell marts' select (after gbfs_cell_group_columns and the
  first table, `cells`): the join to the per-group totals `per` on system and
  `time_column`, the join to the one-row-per-system CTE `systems`, and the grouping by
  system, `time_column`, cell row and column.
#}
{% macro gbfs_cell_group_tail(cells, per, time_column) -%}
    inner join {{ per }}
        on
            {{ cells }}.system_id = {{ per }}.system_id
            and {{ cells }}.{{ time_column }} = {{ per }}.{{ time_column }}
    inner join systems
        on {{ cells }}.system_id = systems.system_id
    group by {{ cells }}.system_id, {{ cells }}.{{ time_column }}, {{ cells }}.cell_row, {{ cells }}.cell_col
{%- endmacro %}

{#
  The leading columns of a GBFS change model's pair-marker row (one per snapshot pair,
  so a pair without changes still shows it was observed) and of their change rows: the
  pair's keys and instants from `pairs`, system_id in the project collation, the city
  name from `city` (the gbfs_systems row `systems` by default).
#}
{% macro gbfs_pair_columns(pairs, city='systems') -%}
    {{ pairs }}.landing_id,
    {{ pairs }}.previous_landing_id,
    {{ as_text(pairs ~ '.system_id') }} as system_id,
    {{ city }}.city_name,
    {{ pairs }}.snapshot_at_utc,
    {{ pairs }}.previous_snapshot_at_utc,
    {{ pairs }}.hour_utc
{%- endmacro %}

{#
  One side of the GBFS snapshot pairs `pairs` (landing_id, previous_landing_id): the staged
  rows of `staged` (aliased `alias`) of the later snapshot (side 1) or of the earlier one
  (side 0), keyed by the pair's later snapshot (one earlier snapshot may precede two later
  ones): pairs.landing_id, `alias`.`key`, the side, then `alias`.<each of `columns`>.
  `where` is an optional SQL condition on the staged rows.
#}
{% macro gbfs_pair_side(staged, alias, side, key, columns, where=none) -%}
    select
        pairs.landing_id,
        {{ alias }}.{{ key }},
        {{ side }} as side,
        {%- for column in columns %}
        {{ alias }}.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from pairs
    inner join {{ staged }} as {{ alias }}
        on pairs.{{ 'landing_id' if side == 1 else 'previous_landing_id' }} = {{ alias }}.landing_id
    {%- if where %}
    where {{ where }}
    {%- endif %}
{%- endmacro %}

{#
  Body of the `new_snapshots` CTE of the incremental pairing models: the fresh snapshots
  of `snapshots` (landing_id, system_id, snapshot_at_utc, hour_utc, loaded_at) loaded
  since the newest held (incremental_landing_filter) and not held yet
  (gbfs_new_landing_rows). `condition` is one more SQL condition on `snapshots`.
#}
{% macro gbfs_new_fresh_snapshots(snapshots, condition=none) -%}
    select
        snapshots.landing_id,
        snapshots.system_id,
        snapshots.snapshot_at_utc,
        snapshots.hour_utc,
        snapshots.loaded_at
    from {{ snapshots }} as snapshots
    where
        snapshots.is_stale = 0
        {%- if condition %}
        and {{ condition }}
        {%- endif %}
        {{ incremental_landing_filter('snapshots.loaded_at') }}
        {{ gbfs_new_landing_rows('snapshots.landing_id') }}
{%- endmacro %}

{#
  The key columns of a snapshot pair from `pairs` (int_gbfs__snapshot_pairs or a CTE of
  the same columns): landing_id, previous_landing_id, system_id, snapshot_at_utc,
  previous_snapshot_at_utc, hour_utc.
#}
{% macro gbfs_pair_key_columns(pairs) -%}
    {{ pairs }}.landing_id,
    {{ pairs }}.previous_landing_id,
    {{ pairs }}.system_id,
    {{ pairs }}.snapshot_at_utc,
    {{ pairs }}.previous_snapshot_at_utc,
    {{ pairs }}.hour_utc
{%- endmacro %}

{#
  Body of the `pairs` CTE of the models that read the vehicle snapshot pairs
  (int_gbfs__vehicle_pair_diffs, int_gbfs__vehicle_changes): the rows of
  int_gbfs__snapshot_pairs loaded since the newest the model holds (minus the lookback)
  and not held yet.
#}
{% macro gbfs_new_pairs() -%}
    select snapshot_pairs.*
    from {{ ref('int_gbfs__snapshot_pairs') }} as snapshot_pairs
    where 1 = 1
        {{ incremental_landing_filter('snapshot_pairs.loaded_at') }}
        {{ gbfs_new_landing_rows('snapshot_pairs.landing_id') }}
{%- endmacro %}
