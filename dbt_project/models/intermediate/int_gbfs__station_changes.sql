{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_int_gbfs__station_changes_landing', 'landing_id') }}",
            "{{ ensure_index('ix_int_gbfs__station_changes_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_int_gbfs__station_changes_hour', 'system_id, hour_utc') }}",
        ],
    )
}}
-- What changed between two consecutive fresh station_status snapshots of a docked GBFS
-- system, per station: one row per station whose vehicles available changed, plus one
-- 'pair' row per pair (station_id NULL) so pairs without change count. A pair is a fresh
-- snapshot with staged stations and the latest such snapshot of the same system before it,
-- at most var gbfs_flow_max_gap_minutes apart; its changes belong to the later
-- snapshot's hour. Rules, per station present and installed in both snapshots
-- (is_installed not 0), with change = vehicles available after - before:
--  - |change| >= var gbfs_station_rebalance_min_vehicles: the operator rebalancing (a van
--    filling or emptying the station at once): vehicles_deployed (rise) or vehicles_removed
--    (drop), not trips;
--  - otherwise a drop is trips started, a rise trips ended (lower bounds: a rental and a
--    return at the same station between two snapshots cancel out).
-- A station in one snapshot only (added to or removed from the feed) is no event.
-- Position and cell: from the system's latest station_information landed at or before the
-- later snapshot (else the first one after); a station it lacks has NULL position and cell,
-- its counts kept. Form factor: the system's vehicle_types when they all share one, else
-- 'unknown'. Incremental: the fresh snapshots loaded since the newest held (minus the
-- lookback) and not held yet, each with its predecessor; reads the staged stations of
-- those two snapshots only (index on landing_id).
with

new_snapshots as (
    {{ gbfs_new_fresh_snapshots(ref('int_gbfs__station_snapshots'), 'snapshots.stations_staged > 0') }}
),

with_previous as (
    select
        new_snapshots.*,
        {{ gbfs_previous_landing_id(
            ref('int_gbfs__station_snapshots'), 'new_snapshots', 'previous.stations_staged > 0'
        ) }} as previous_landing_id
    from new_snapshots
),

pairs as (
    -- kept materialised: merged into the queries reading it, its correlated subquery would run
    -- again for every station row read
    select
        with_previous.*,
        previous.snapshot_at_utc as previous_snapshot_at_utc,
        {{ keep_materialised('pair_row') }}
    from with_previous
    inner join {{ ref('int_gbfs__station_snapshots') }} as previous
        on with_previous.previous_landing_id = previous.landing_id
),

sides as (
    {{ gbfs_pair_side(
        ref('stg_gbfs__station_status'), 'stations', 1, 'station_id', ['vehicles_available', 'is_installed']
    ) }}
    union all
    {{ gbfs_pair_side(
        ref('stg_gbfs__station_status'), 'stations', 0, 'station_id', ['vehicles_available', 'is_installed']
    ) }}
),

per_station as (
    -- grouped, not joined: an anti-join of two unindexed derived tables is quadratic
    select
        landing_id,
        station_id,
        count(distinct side) as sides,
        min(case when side = 0 then vehicles_available end) as vehicles_before,
        min(case when side = 1 then vehicles_available end) as vehicles_after,
        min(coalesce(is_installed, 1)) as installed_both
    from sides
    group by landing_id, station_id
),

changed as (
    select
        landing_id,
        station_id,
        vehicles_before,
        vehicles_after,
        vehicles_after - vehicles_before as vehicles_change
    from per_station
    where sides = 2 and installed_both = 1 and vehicles_after <> vehicles_before
),

info_landings as (
    -- per pair, the system's station_information documents: their first station rows
    -- (index on system_id, station_index, landing_id), one per document, not every station
    select
        pairs.landing_id,
        max(case when info.landing_id <= pairs.landing_id then info.landing_id end) as latest_before,
        min(info.landing_id) as first_any
    from pairs
    inner join {{ ref('base_gbfs__station_information') }} as info
        on
            pairs.system_id = info.system_id
            and info.station_index = 1
    group by pairs.landing_id
),

form_factors as (
    select
        system_id,
        case when count(distinct form_factor) = 1 then max(form_factor) end as form_factor
    from {{ ref('stg_gbfs__vehicle_types') }}
    where system_id in (select pairs.system_id from pairs)
    group by system_id
),

placed as (
    select
        {{ gbfs_pair_key_columns('pairs') }},
        pairs.loaded_at,
        changed.station_id,
        changed.vehicles_before,
        changed.vehicles_after,
        changed.vehicles_change,
        info.latitude,
        info.longitude,
        systems.city_name,
        coalesce(form_factors.form_factor, 'unknown') as form_factor,
        coalesce(cities.latitude, round(info.latitude)) as reference_latitude
    from pairs
    inner join changed on pairs.landing_id = changed.landing_id
    left join info_landings on pairs.landing_id = info_landings.landing_id
    left join {{ ref('stg_gbfs__station_information') }} as info
        on
            info.landing_id = coalesce(info_landings.latest_before, info_landings.first_any)
            and changed.station_id = info.station_id
    left join form_factors on pairs.system_id = form_factors.system_id
    {{ gbfs_join_system_city('pairs.system_id') }}
)

{%- set rebalance = var('gbfs_station_rebalance_min_vehicles') %}

select
    {{ gbfs_pair_columns('placed', 'placed') }},
    {{ as_text('placed.station_id') }} as station_id,
    placed.latitude,
    placed.longitude,
    {{ gbfs_cell_row('placed.latitude') }} as cell_row,
    {{ gbfs_cell_col('placed.longitude', 'placed.reference_latitude') }} as cell_col,
    {{ as_text('placed.form_factor') }} as form_factor,
    cast(placed.vehicles_before as signed) as vehicles_before,
    cast(placed.vehicles_after as signed) as vehicles_after,
    cast(
        case
            when placed.vehicles_change < 0 and placed.vehicles_change > -{{ rebalance }} then -placed.vehicles_change
            else 0
        end as signed
    ) as trips_started,
    cast(
        case
            when placed.vehicles_change > 0 and placed.vehicles_change < {{ rebalance }} then placed.vehicles_change
            else 0
        end as signed
    ) as trips_ended,
    cast(
        case when placed.vehicles_change >= {{ rebalance }} then placed.vehicles_change else 0 end as signed
    ) as vehicles_deployed,
    cast(
        case when placed.vehicles_change <= -{{ rebalance }} then -placed.vehicles_change else 0 end as signed
    ) as vehicles_removed,
    placed.loaded_at
from placed
union all
select
    {{ gbfs_pair_columns('pairs') }},
    {{ as_text('null') }} as station_id,
    null as latitude,
    null as longitude,
    null as cell_row,
    null as cell_col,
    {{ as_text('null') }} as form_factor,
    null as vehicles_before,
    null as vehicles_after,
    0 as trips_started,
    0 as trips_ended,
    0 as vehicles_deployed,
    0 as vehicles_removed,
    pairs.loaded_at
from pairs
left join {{ ref('gbfs_systems') }} as systems
    on pairs.system_id = systems.system_id
