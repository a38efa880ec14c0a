-- One row per vehicle per GBFS snapshot, the vehicles that could be staged (the others
-- are in landing_rejects): system_id of the request key, the id as published, vehicle
-- type, form factor and propulsion (the system's latest vehicle_types description;
-- GBFS 1.0 names the type in the vehicle), position, reserved, disabled, fuel / range,
-- last reported. From the incremental base table: no JSON is parsed here.
-- Vehicle ids rotate after each trip (GBFS 2.x+): do not follow them across snapshots.
with

latest_types as (
    select
        system_id,
        vehicle_type_id,
        form_factor,
        propulsion_type,
        row_number() over (
            partition by system_id, vehicle_type_id order by fetched_at_utc desc, landing_id desc, type_index asc
        ) as recency_rank
    from {{ ref('stg_gbfs__vehicle_types') }}
)

select
    vehicles.landing_id,
    vehicles.vehicle_index,
    vehicles.system_id,
    vehicles.feed,
    vehicles.gbfs_version,
    vehicles.fetched_at_utc,
    vehicles.loaded_at,
    vehicles.snapshot_at_utc,
    vehicles.vehicle_id,
    vehicles.vehicle_type_id,
    latest_types.propulsion_type,
    vehicles.latitude,
    vehicles.longitude,
    vehicles.is_reserved,
    vehicles.is_disabled,
    vehicles.fuel_fraction,
    vehicles.current_range_m,
    vehicles.last_reported_utc,
    coalesce(
        latest_types.form_factor,
        case vehicles.vehicle_type_v1 when 'bike' then 'bicycle' else vehicles.vehicle_type_v1 end
    ) as form_factor
from {{ ref('base_gbfs__vehicles') }} as vehicles
left join latest_types
    on
        vehicles.system_id = latest_types.system_id
        and vehicles.vehicle_type_id = latest_types.vehicle_type_id
        and latest_types.recency_rank = 1
where vehicles.reject_reason is null
