{{
    config(
        unique_key=['system_id', 'hour_utc'],
        post_hook=[
            "{{ ensure_index('ix_gbfs_trip_events_city', 'city_name, hour_utc') }}",
        ],
    )
}}
-- Competitors' inferred trips and operator moves per GBFS system x grid cell x form
-- factor x UTC hour (with the city's local date and hour), after Xu et al. 2022 (TRR,
-- arXiv 2010.12006), from the changes between consecutive fresh snapshots
-- (int_gbfs__vehicle_changes). Rules, in order, per change of a pair:
--  1. id policy of the system, over the changes of the hours built and the var
--     gbfs_id_policy_hours before: 'persistent' (static or resetting ids) when at least
--     var gbfs_persistent_id_share of the appearances are ids that disappeared before;
--     else 'rotating' when the pairs kept fewer than half of the earlier snapshot's ids
--     (ids rotated at every refresh); else 'dynamic' (ids rotated after each trip);
--  2. rotating ids: an id gone and an id new matched in place (int_gbfs__vehicle_changes:
--     mutual nearest within gbfs_relabel_max_m, then k-th with k-th in one
--     gbfs_batch_spot_m square) are one parked vehicle relabelled: no event (other
--     policies: both count, a vehicle leaving and another arriving);
--  3. a kept id that moved >= gbfs_trip_min_move_m: a trip started at the old place and
--     ended at the new (a ride shorter than the snapshot interval);
--  4. batch: >= gbfs_batch_min_vehicles appearances (disappearances) left by rules 2-3 in
--     one pair within one square of gbfs_batch_spot_m metres: vehicles deployed
--     (removed) by the operator (rebalancing, fleet changes);
--  5. battery and state: a disappearance at fuel <= gbfs_low_fuel_fraction, or of a
--     vehicle published as disabled: removed (collected to charge or repair); an
--     appearance at fuel >= gbfs_charged_fuel_fraction: deployed (charged or battery
--     swapped);
--  6. otherwise an id that disappeared is a trip started, one that appeared a trip ended.
-- Docked (station-based) systems, inference_method 'station_counts': per station, between
-- consecutive fresh station_status snapshots, a drop in vehicles available is trips
-- started, a rise trips ended, a change of var gbfs_station_rebalance_min_vehicles or more
-- the operator rebalancing (int_gbfs__station_changes); the rules above, inference_method
-- 'vehicle_ids', are the free-floating ones. A system publishing both has rows of both.
-- Every landed system is here, with its city where the seed knows it (NULL otherwise).
-- Incremental: the systems x hours with changes loaded since the newest held (minus the
-- lookback) are rebuilt whole (unique key system_id, hour_utc).
{%- set policy_hours = var('gbfs_id_policy_hours') %}
with

changed as (
    -- noqa: disable=LT02
    -- (a loop: sqlfluff indents its rendered lines wrongly)
    {%- for changes in [ref('int_gbfs__vehicle_changes'), ref('int_gbfs__station_changes')] %}
    {{ 'union distinct' if not loop.first }}
    select distinct
        system_id,
        hour_utc
    from {{ changes }}
    where 1 = 1
        {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
    {%- endfor %}
    -- noqa: enable=LT02
),

span as (
    select
        system_id,
        min(hour_utc) as first_hour_utc,
        max(hour_utc) as last_hour_utc
    from changed
    group by system_id
),

policy_facts as (
    select
        changes.system_id,
        sum(case when changes.change_kind = 'appeared' then 1 else 0 end) as appearances,
        sum(changes.is_reappearance) as reappearances,
        sum(changes.vehicles_before) as vehicles_before,
        sum(case when changes.change_kind = 'disappeared' then 1 else 0 end) as disappearances
    from {{ ref('int_gbfs__vehicle_changes') }} as changes
    inner join span
        on
            changes.system_id = span.system_id
            and changes.hour_utc >= timestampadd(hour, -{{ policy_hours }}, span.first_hour_utc)
            and changes.hour_utc <= span.last_hour_utc
    where changes.change_kind in ('appeared', 'disappeared', 'pair')
    group by changes.system_id
),

policies as (
    select
        system_id,
        case
            when reappearances > 0 and reappearances >= {{ var('gbfs_persistent_id_share') }} * appearances
                then 'persistent'
            when vehicles_before > 0 and disappearances > 0.5 * vehicles_before then 'rotating'
            else 'dynamic'
        end as id_policy
    from policy_facts
),

rows_built as (
    select
        changes.*,
        coalesce(policies.id_policy, 'dynamic') as id_policy
    from {{ ref('int_gbfs__vehicle_changes') }} as changes
    inner join changed
        on
            changes.system_id = changed.system_id
            and changes.hour_utc = changed.hour_utc
    left join policies on changes.system_id = policies.system_id
),

spotted as (
    select
        *,
        floor(latitude * 111320 / {{ var('gbfs_batch_spot_m') }}) as spot_row,
        floor(longitude * 111320 * cos(radians(latitude)) / {{ var('gbfs_batch_spot_m') }}) as spot_col
    from rows_built
    where change_kind <> 'pair'
),

in_place as (
    -- rotating ids left by the mutual-nearest match: in a pile (a hub, a fresh batch) nearest
    -- neighbours are not mutual, so within one spot the k-th id gone cancels the k-th id new
    select
        *,
        row_number() over (
            partition by landing_id, change_kind, spot_row, spot_col, form_factor, matched_vehicle_id is null
            order by vehicle_id
        ) as spot_rank,
        sum(
            case
                when change_kind = 'appeared' and matched_vehicle_id is null then 1 else 0
            end
        ) over (partition by landing_id, spot_row, spot_col, form_factor) as spot_appeared,
        sum(
            case
                when change_kind = 'disappeared' and matched_vehicle_id is null then 1 else 0
            end
        ) over (partition by landing_id, spot_row, spot_col, form_factor) as spot_disappeared
    from spotted
),

kept as (
    -- rule 2: ids rotated in place are no event
    select *
    from in_place
    where
        id_policy <> 'rotating'
        or change_kind in ('moved_from', 'moved_to')
        or (
            matched_vehicle_id is null
            and spot_rank > case change_kind when 'appeared' then spot_disappeared else spot_appeared end
        )
),

batched as (
    select
        *,
        case
            when change_kind in ('appeared', 'disappeared')
                then count(*) over (partition by landing_id, change_kind, spot_row, spot_col)
            else 0
        end as batch_size
    from kept
),

classified as (
    select
        *,
        case
            when change_kind = 'moved_from' then 'trip_started'
            when change_kind = 'moved_to' then 'trip_ended'
            when batch_size >= {{ var('gbfs_batch_min_vehicles') }}
                then case change_kind when 'appeared' then 'deployed' else 'removed' end
            when change_kind = 'disappeared' and fuel_fraction <= {{ var('gbfs_low_fuel_fraction') }} then 'removed'
            when change_kind = 'disappeared' and is_disabled = 1 then 'removed'
            when change_kind = 'appeared' and fuel_fraction >= {{ var('gbfs_charged_fuel_fraction') }} then 'deployed'
            when change_kind = 'disappeared' then 'trip_started'
            else 'trip_ended'
        end as event_kind
    from batched
),

pairs as (
    select
        system_id,
        hour_utc,
        count(*) as snapshot_pairs,
        max(id_policy) as id_policy,
        max(loaded_at) as loaded_at
    from rows_built
    where change_kind = 'pair'
    group by system_id, hour_utc
),

station_rows as (
    -- docked systems: trips and rebalancing already classified per station
    -- (int_gbfs__station_changes)
    select stations.*
    from {{ ref('int_gbfs__station_changes') }} as stations
    inner join changed
        on
            stations.system_id = changed.system_id
            and stations.hour_utc = changed.hour_utc
),

all_pairs as (
    select
        'vehicle_ids' as inference_method,
        system_id,
        hour_utc,
        snapshot_pairs,
        id_policy,
        loaded_at
    from pairs
    union all
    select
        'station_counts' as inference_method,
        system_id,
        hour_utc,
        sum(case when station_id is null then 1 else 0 end) as snapshot_pairs,
        null as id_policy,
        max(loaded_at) as loaded_at
    from station_rows
    group by system_id, hour_utc
),

cells as (
    select
        system_id,
        hour_utc,
        cell_row,
        cell_col,
        coalesce(form_factor, 'unknown') as form_factor,
        sum(case when event_kind = 'trip_started' then 1 else 0 end) as trips_started,
        sum(case when event_kind = 'trip_ended' then 1 else 0 end) as trips_ended,
        sum(case when event_kind = 'deployed' then 1 else 0 end) as vehicles_deployed,
        sum(case when event_kind = 'removed' then 1 else 0 end) as vehicles_removed
    from classified
    group by system_id, hour_utc, cell_row, cell_col, coalesce(form_factor, 'unknown')
),

all_cells as (
    select
        'vehicle_ids' as inference_method,
        cells.*
    from cells
    union all
    select
        'station_counts' as inference_method,
        system_id,
        hour_utc,
        cell_row,
        cell_col,
        form_factor,
        sum(trips_started) as trips_started,
        sum(trips_ended) as trips_ended,
        sum(vehicles_deployed) as vehicles_deployed,
        sum(vehicles_removed) as vehicles_removed
    from station_rows
    where station_id is not null
    group by system_id, hour_utc, cell_row, cell_col, form_factor
)

select
    {{ city_id('systems.city_name') }} as city_id,
    systems.city_name,
    systems.operator,
    cells.system_id,
    cells.hour_utc,
    cast(convert_tz(cells.hour_utc, 'UTC', cities.timezone) as date) as local_date,
    hour(convert_tz(cells.hour_utc, 'UTC', cities.timezone)) as local_hour,
    cells.cell_row,
    cells.cell_col,
    {{ as_text('cells.form_factor') }} as form_factor,
    {{ as_text('cells.inference_method') }} as inference_method,
    cast(cells.trips_started as signed) as trips_started,
    cast(cells.trips_ended as signed) as trips_ended,
    cast(cells.vehicles_deployed as signed) as vehicles_deployed,
    cast(cells.vehicles_removed as signed) as vehicles_removed,
    {{ as_text('pairs.id_policy') }} as id_policy,
    cast(pairs.snapshot_pairs as signed) as snapshot_pairs,
    pairs.loaded_at
from all_cells as cells
inner join all_pairs as pairs
    on
        cells.system_id = pairs.system_id
        and cells.hour_utc = pairs.hour_utc
        and cells.inference_method = pairs.inference_method
{{ gbfs_join_system_city('cells.system_id') }}
