{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_int_gbfs__vehicle_changes_landing', 'landing_id') }}",
            "{{ ensure_index('ix_int_gbfs__vehicle_changes_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_int_gbfs__vehicle_changes_hour', 'system_id, hour_utc') }}",
            "{{ ensure_index('ix_int_gbfs__vehicle_changes_id', 'system_id, vehicle_id(100), change_kind') }}",
        ],
    )
}}
-- What changed between two consecutive fresh GBFS snapshots of a system, by vehicle id:
-- one row per vehicle id that disappeared (in the earlier snapshot, not the later),
-- appeared (in the later, not the earlier), or kept its id and moved at least var
-- gbfs_trip_min_move_m metres (two rows: moved_from at the old place, moved_to at the
-- new), plus one 'pair' row per pair (vehicle_id NULL) so pairs without change count.
-- A pair is a snapshot and the latest fresh snapshot of the same system before it, at
-- most var gbfs_flow_max_gap_minutes apart; its changes belong to the later snapshot's
-- hour. Two facts for gbfs_trip_events, which classifies the changes:
-- - is_reappearance: the appeared id disappeared before (an earlier row here): the
--   operator reuses ids (static or resetting); the share of such appearances tells the
--   system's id policy;
-- - matched_vehicle_id: for a disappeared / appeared id, the appeared / disappeared id
--   of the same pair closest to it within var gbfs_relabel_max_m, of the same form factor,
--   when each is the other's closest (mutual nearest): an id rotated in place, not a
--   move (used for systems that rotate ids at every refresh);
-- - on the 'pair' row, vehicles_before (vehicles staged in the earlier snapshot): with
--   the pair's disappearances, the share of ids kept (ids rotated at every refresh: none).
-- Cells: the var gbfs_cell_size_m grid at the city's latitude (the vehicle's own latitude,
-- rounded to a degree, for a system the seed lacks: it is kept, with a NULL city).
-- Vehicles without an id are not followed. Incremental: the fresh snapshots loaded since
-- the newest held (minus the lookback) and not held yet, each with its predecessor; their
-- changed ids come from int_gbfs__vehicle_pair_diffs (index on landing_id), which compared
-- the two snapshots' staged vehicles. A snapshot landed after its successor was paired
-- does not re-pair the successor.
with

pairs as (
    {{ gbfs_new_pairs() }}
),

changes as (
    -- the pairs' changed ids, from int_gbfs__vehicle_pair_diffs (index on landing_id)
    select
        diffs.landing_id,
        diffs.vehicle_id,
        diffs.change_kind,
        diffs.form_factor,
        diffs.latitude,
        diffs.longitude,
        diffs.fuel_fraction,
        diffs.is_disabled
    from pairs
    inner join {{ ref('int_gbfs__vehicle_pair_diffs') }} as diffs
        on pairs.landing_id = diffs.landing_id
    where diffs.change_kind <> 'pair'
),

close_pairs as (
    -- an id gone and an id new in the same pair, close and of the same form factor
    select
        gone.landing_id,
        gone.vehicle_id as gone_id,
        arrived.vehicle_id as new_id,
        {{ gbfs_distance_m('gone.latitude', 'gone.longitude', 'arrived.latitude', 'arrived.longitude') }}
            as distance_m
    from changes as gone
    inner join changes as arrived
        on
            gone.landing_id = arrived.landing_id
            and arrived.change_kind = 'appeared'
            and gone.form_factor <=> arrived.form_factor
            and abs(gone.latitude - arrived.latitude) * 111320 < {{ var('gbfs_relabel_max_m') }}
    where gone.change_kind = 'disappeared'
),

candidates as (
    select
        landing_id,
        gone_id,
        new_id,
        row_number() over (partition by landing_id, gone_id order by distance_m, new_id) as gone_rank,
        row_number() over (partition by landing_id, new_id order by distance_m, gone_id) as new_rank
    from close_pairs
    where distance_m < {{ var('gbfs_relabel_max_m') }}
),

matches as (
    select
        landing_id,
        gone_id,
        new_id
    from candidates
    where gone_rank = 1 and new_rank = 1
),

placed as (
    select
        {{ gbfs_pair_key_columns('pairs') }},
        pairs.loaded_at,
        changes.change_kind,
        changes.vehicle_id,
        changes.latitude,
        changes.longitude,
        changes.fuel_fraction,
        changes.is_disabled,
        changes.form_factor,
        systems.city_name,
        coalesce(gone_match.new_id, new_match.gone_id) as matched_vehicle_id,
        coalesce(cities.latitude, round(changes.latitude)) as reference_latitude
    from pairs
    inner join changes on pairs.landing_id = changes.landing_id
    left join matches as gone_match
        on
            changes.change_kind = 'disappeared'
            and changes.landing_id = gone_match.landing_id
            and changes.vehicle_id = gone_match.gone_id
    left join matches as new_match
        on
            changes.change_kind = 'appeared'
            and changes.landing_id = new_match.landing_id
            and changes.vehicle_id = new_match.new_id
    {{ gbfs_join_system_city('pairs.system_id') }}
),

earlier_gone as (
    -- per change, whether the same id disappeared in an earlier pair of this batch (a running
    -- max over the id's changes in time order: a sort, not a self-join)
    select
        placed.*,
        max(case when placed.change_kind = 'disappeared' then 1 else 0 end) over (
            partition by placed.system_id, placed.vehicle_id
            order by placed.snapshot_at_utc, placed.landing_id
            rows between unbounded preceding and 1 preceding
        ) as gone_before
    from placed
),

flagged as (
    -- an appeared id that disappeared earlier: in this batch or among the rows held (index on the id)
    select
        earlier_gone.*,
        case
            when earlier_gone.change_kind <> 'appeared' then 0
            when coalesce(earlier_gone.gone_before, 0) = 1 then 1
            {%- if is_incremental() %}
                when exists (
                    select 1
                    -- force index: on its own the optimizer took the (system_id, hour_utc) index
                    -- and read every change held of the system for each appeared id
                    from {{ this }} as held force index (ix_int_gbfs__vehicle_changes_id)  -- noqa: LT02
                    where
                        held.system_id = earlier_gone.system_id
                        and held.vehicle_id = earlier_gone.vehicle_id
                        and held.change_kind = 'disappeared'
                        and held.snapshot_at_utc < earlier_gone.snapshot_at_utc
                ) then 1
            {%- endif %}
            else 0
        end as is_reappearance
    from earlier_gone
)

select
    {{ gbfs_pair_columns('placed', 'placed') }},
    {{ as_text('placed.change_kind') }} as change_kind,
    {{ as_text('placed.vehicle_id') }} as vehicle_id,
    placed.latitude,
    placed.longitude,
    {{ gbfs_cell_row('placed.latitude') }} as cell_row,
    {{ gbfs_cell_col('placed.longitude', 'placed.reference_latitude') }} as cell_col,
    placed.fuel_fraction,
    placed.is_disabled,
    {{ as_text('placed.form_factor') }} as form_factor,
    {{ as_text('placed.matched_vehicle_id') }} as matched_vehicle_id,
    placed.is_reappearance,
    null as vehicles_before,
    placed.loaded_at
from flagged as placed
union all
select
    {{ gbfs_pair_columns('pairs') }},
    {{ gbfs_pair_marker(['vehicle_id', 'latitude', 'longitude', 'cell_row', 'cell_col', 'fuel_fraction', 'is_disabled',
        'form_factor', 'matched_vehicle_id']) }},
    0 as is_reappearance,
    cast(pairs.vehicles_before as signed) as vehicles_before,
    pairs.loaded_at
from pairs
left join {{ ref('gbfs_systems') }} as systems
    on pairs.system_id = systems.system_id
