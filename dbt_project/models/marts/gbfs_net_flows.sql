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
    select distinct
        system_id,
        hour_utc
    from {{ ref('int_gbfs__snapshots') }}
    where is_stale = 0
    {%- if is_incremental() %}
        and loaded_at > (
            select timestampadd(
                hour, -{{ var('incremental_lookback_hours') }},
                coalesce(max(loaded_at), cast('1970-01-01 00:00:00' as datetime))
            )
            from {{ this }}
        )
    {%- endif %}
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

signed_counts as (
    select
        pairs.landing_id,
        pairs.system_id,
        pairs.hour_utc,
        cells.cell_row,
        cells.cell_col,
        cells.vehicles as signed_vehicles
    from pairs
    inner join {{ ref('int_gbfs__cell_snapshots') }} as cells
        on pairs.landing_id = cells.landing_id
    union all
    select
        pairs.landing_id,
        pairs.system_id,
        pairs.hour_utc,
        cells.cell_row,
        cells.cell_col,
        -cells.vehicles as signed_vehicles
    from pairs
    inner join {{ ref('int_gbfs__cell_snapshots') }} as cells
        on pairs.previous_landing_id = cells.landing_id
),

per_pair as (
    select
        landing_id,
        system_id,
        hour_utc,
        cell_row,
        cell_col,
        sum(signed_vehicles) as change_in_cell
    from signed_counts
    group by landing_id, system_id, hour_utc, cell_row, cell_col
),

flows as (
    select
        system_id,
        hour_utc,
        cell_row,
        cell_col,
        sum(case when change_in_cell > 0 then change_in_cell else 0 end) as vehicles_appeared,
        sum(case when change_in_cell < 0 then -change_in_cell else 0 end) as vehicles_disappeared
    from per_pair
    group by system_id, hour_utc, cell_row, cell_col
)

select
    {{ city_id('systems.city_name') }} as city_id,
    systems.city_name,
    systems.operator,
    flows.system_id,
    flows.hour_utc,
    flows.cell_row,
    flows.cell_col,
    cast(flows.vehicles_appeared as signed) as vehicles_appeared,
    cast(flows.vehicles_disappeared as signed) as vehicles_disappeared,
    cast(flows.vehicles_appeared - flows.vehicles_disappeared as signed) as net_flow,
    per_hour.snapshot_pairs,
    per_hour.loaded_at
from flows
inner join per_hour
    on
        flows.system_id = per_hour.system_id
        and flows.hour_utc = per_hour.hour_utc
inner join {{ ref('gbfs_systems') }} as systems
    on flows.system_id = systems.system_id
