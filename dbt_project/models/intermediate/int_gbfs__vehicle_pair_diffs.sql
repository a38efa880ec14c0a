{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_int_gbfs__vehicle_pair_diffs_landing', 'landing_id') }}",
            "{{ ensure_index('ix_int_gbfs__vehicle_pair_diffs_loaded', 'loaded_at') }}",
        ],
    )
}}
-- The vehicle ids that changed between the two snapshots of each GBFS snapshot pair
-- (int_gbfs__snapshot_pairs): 'disappeared' (in the earlier snapshot only), 'appeared' (in
-- the later only), 'moved_from' / 'moved_to' (id kept, moved at least var
-- gbfs_trip_min_move_m metres), each with the place, fuel, disabled flag and form factor of
-- its side, plus one 'pair' row per pair (vehicle_id NULL) so a pair without change is held.
-- The first step of int_gbfs__vehicle_changes, which matches and flags these rows: in a
-- table of its own because that model reads the changes three times, and MariaDB
-- computed a CTE again for every reference (the grouping of every vehicle of both
-- snapshots of every pair, five times per build). Vehicles without an id are not followed.
-- Incremental: the pairs loaded since the newest held (minus the lookback) and not held
-- yet; reads the staged vehicles of those two snapshots only (index on landing_id).
with

pairs as (
    {{ gbfs_new_pairs() }}
),

later_side as (
    {{ gbfs_pair_side(
        ref('stg_gbfs__vehicles'), 'vehicles', 1, 'vehicle_id',
        ['latitude', 'longitude', 'fuel_fraction', 'is_disabled', 'form_factor'],
        'vehicles.vehicle_id is not null',
    ) }}
),

earlier_side as (
    {{ gbfs_pair_side(
        ref('stg_gbfs__vehicles'), 'vehicles', 0, 'vehicle_id',
        ['latitude', 'longitude', 'fuel_fraction', 'is_disabled', 'form_factor'],
        'vehicles.vehicle_id is not null',
    ) }}
),

sides as (
    select * from later_side
    union all
    select * from earlier_side
),

per_id as (
    -- one row per pair and id: grouped, not joined (an anti-join of two unindexed
    -- derived tables is quadratic in the fleet)
    select
        landing_id,
        vehicle_id,
        min(side) as first_side,
        max(side) as last_side,
        min(case when side = 0 then latitude end) as latitude_before,
        min(case when side = 0 then longitude end) as longitude_before,
        min(case when side = 0 then fuel_fraction end) as fuel_before,
        max(case when side = 0 then is_disabled end) as disabled_before,
        min(case when side = 1 then latitude end) as latitude_after,
        min(case when side = 1 then longitude end) as longitude_after,
        min(case when side = 1 then fuel_fraction end) as fuel_after,
        max(case when side = 1 then is_disabled end) as disabled_after,
        coalesce(
            min(case when side = 1 then form_factor end), min(case when side = 0 then form_factor end)
        ) as form_factor
    from sides
    group by landing_id, vehicle_id
),

kinds as (
    select 'disappeared' as change_kind
    union all
    select 'appeared' as change_kind
    union all
    select 'moved_from' as change_kind
    union all
    select 'moved_to' as change_kind
),

changes as (
    select
        per_id.landing_id,
        per_id.vehicle_id,
        kinds.change_kind,
        per_id.form_factor,
        -- noqa: disable=LT02
        -- (a loop: sqlfluff cannot place the comma of its last item)
        {#- the earlier snapshot's value for the disappearing side, the later one's otherwise #}
        {%- for column, side_value in [
            ('latitude', 'latitude'), ('longitude', 'longitude'), ('fuel_fraction', 'fuel'), ('is_disabled', 'disabled')
        ] %}
        case
            when kinds.change_kind in ('disappeared', 'moved_from') then per_id.{{ side_value }}_before
            else per_id.{{ side_value }}_after
        end as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    -- noqa: enable=LT02
    from per_id
    inner join kinds
        on
            (kinds.change_kind = 'disappeared' and per_id.last_side = 0)
            or (kinds.change_kind = 'appeared' and per_id.first_side = 1)
            or (
                kinds.change_kind in ('moved_from', 'moved_to')
                and per_id.first_side = 0
                and per_id.last_side = 1
                and {{ gbfs_distance_m(
                    'per_id.latitude_before', 'per_id.longitude_before', 'per_id.latitude_after', 'per_id.longitude_after'
                ) }} >= {{ var('gbfs_trip_min_move_m') }}
            )
)

select
    changes.landing_id,
    {{ as_text('changes.change_kind') }} as change_kind,
    {{ as_text('changes.vehicle_id') }} as vehicle_id,
    {{ as_text('changes.form_factor') }} as form_factor,
    changes.latitude,
    changes.longitude,
    changes.fuel_fraction,
    changes.is_disabled,
    pairs.loaded_at
from changes
inner join pairs on changes.landing_id = pairs.landing_id
union all
select
    pairs.landing_id,
    {{ gbfs_pair_marker(['vehicle_id', 'form_factor', 'latitude', 'longitude', 'fuel_fraction', 'is_disabled']) }},
    pairs.loaded_at
from pairs
