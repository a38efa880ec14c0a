{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['system_id', 'hour_utc', 'cell_row', 'cell_col'],
        post_hook=[
            "{{ ensure_index('ix_gbfs_net_flows_key', 'system_id, hour_utc, cell_row, cell_col') }}",
            "{{ ensure_index('ix_gbfs_net_flows_loaded', 'loaded_at') }}",
        ],
    )
}}
-- noqa: disable=RF04,ST06
-- (RF04: sqlfluff reads the STRAIGHT_JOIN select option as a column; ST06: the columns keep their order)
-- Where competitors' vehicles move: per city x operator x grid cell x UTC hour, the
-- vehicles that appeared and disappeared between consecutive fresh snapshots of a system
-- (at most var gbfs_flow_max_gap_minutes apart), by COUNTS per cell: GBFS 2.x+ rotates
-- vehicle ids after each trip (privacy), so ids are not followed. A pair belongs to the
-- hour of its later snapshot. net_flow > 0: supply grew (drop-offs, rebalancing in);
-- < 0: it shrank (rides started, vehicles collected). Incremental like gbfs_availability
-- (hours of the snapshots loaded since the newest held); a snapshot landed late changes
-- its own hour, not the next snapshot's.
with

changed as (
    {{ gbfs_changed_keys('hour_utc') }}
),

span as (
    select
        system_id,
        timestampadd(minute, -{{ var('gbfs_flow_max_gap_minutes') }}, min(hour_utc)) as from_utc,
        timestampadd(hour, 1, max(hour_utc)) as to_utc
    from changed
    group by system_id
),

ordered as (
    select
        snapshots.landing_id,
        snapshots.system_id,
        snapshots.snapshot_at_utc,
        snapshots.hour_utc,
        snapshots.loaded_at,
        lag(snapshots.landing_id) over (
            partition by snapshots.system_id order by snapshots.snapshot_at_utc, snapshots.landing_id
        ) as previous_landing_id,
        lag(snapshots.snapshot_at_utc) over (
            partition by snapshots.system_id order by snapshots.snapshot_at_utc, snapshots.landing_id
        ) as previous_snapshot_at_utc
    from {{ ref('int_gbfs__snapshots') }} as snapshots
    inner join span
        on
            snapshots.system_id = span.system_id
            and snapshots.snapshot_at_utc >= span.from_utc
            and snapshots.snapshot_at_utc < span.to_utc
    where snapshots.is_stale = 0
),

pairs as (
    select ordered.*
    from ordered
    inner join changed
        on
            ordered.system_id = changed.system_id
            and ordered.hour_utc = changed.hour_utc
    where
        ordered.previous_landing_id is not null
        and timestampdiff(minute, ordered.previous_snapshot_at_utc, ordered.snapshot_at_utc)
        <= {{ var('gbfs_flow_max_gap_minutes') }}
),

per_hour as (
    select
        system_id,
        hour_utc,
        count(*) as snapshot_pairs,
        max(loaded_at) as loaded_at
    from pairs
    group by system_id, hour_utc
),

-- per pair and cell, the later snapshot's vehicles minus the earlier one's (0 where a
-- snapshot has no row for the cell): the cells of the later snapshot, each with the same
-- cell of the earlier one (index on landing_id, cell), then the cells only the earlier has
per_pair as (
    select
        pairs.system_id,
        pairs.hour_utc,
        cells.cell_row,
        cells.cell_col,
        cells.vehicles - coalesce(previous.vehicles, 0) as change_in_cell
    from pairs
    inner join {{ ref('int_gbfs__cell_snapshots') }} as cells
        on pairs.landing_id = cells.landing_id
    left join {{ ref('int_gbfs__cell_snapshots') }} as previous
        on
            pairs.previous_landing_id = previous.landing_id
            and cells.cell_row = previous.cell_row
            and cells.cell_col = previous.cell_col
    union all
    select
        pairs.system_id,
        pairs.hour_utc,
        previous.cell_row,
        previous.cell_col,
        -previous.vehicles as change_in_cell
    from pairs
    inner join {{ ref('int_gbfs__cell_snapshots') }} as previous
        on pairs.previous_landing_id = previous.landing_id
    -- a left join, not NOT EXISTS: MariaDB turned that into a scan of every cell held
    left join {{ ref('int_gbfs__cell_snapshots') }} as cells
        on
            pairs.landing_id = cells.landing_id
            and previous.cell_row = cells.cell_row
            and previous.cell_col = cells.cell_col
    where cells.landing_id is null
),

-- one row per system (distinct: materialised, so the city key is hashed once per system)
systems as (
    select distinct
        system_id,
        city_name,
        operator,
        {{ city_id('city_name') }} as city_id
    from {{ ref('gbfs_systems') }}
)

-- grouped at the top, the pairs' cells first (SELECT STRAIGHT_JOIN: joins in the order
-- written), the one-row-per-group columns with max(): as a grouped derived table joined to
-- the rest, every cell of history was materialised again into an indexed temporary table.
-- SQL_BIG_RESULT: grouped by sorting, not through a temporary table keyed by the group
-- (it outgrew tmp_table_size and went to disk: 34 s against 16 s on 2 days of 20 systems)
select straight_join sql_big_result
    {{ gbfs_cell_group_columns('per_pair', 'hour_utc') }},
    cast(sum(case when per_pair.change_in_cell > 0 then per_pair.change_in_cell else 0 end) as signed)
        as vehicles_appeared,
    cast(sum(case when per_pair.change_in_cell < 0 then -per_pair.change_in_cell else 0 end) as signed)
        as vehicles_disappeared,
    cast(sum(per_pair.change_in_cell) as signed) as net_flow,
    max(per_hour.snapshot_pairs) as snapshot_pairs,
    max(per_hour.loaded_at) as loaded_at
from per_pair
inner join per_hour
    on
        per_pair.system_id = per_hour.system_id
        and per_pair.hour_utc = per_hour.hour_utc
inner join systems
    on per_pair.system_id = systems.system_id
group by per_pair.system_id, per_pair.hour_utc, per_pair.cell_row, per_pair.cell_col
