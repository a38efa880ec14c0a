-- One row per vehicle type per GBFS vehicle_types document, the types that could be
-- staged (the others are in landing_rejects). From the incremental base table: no
-- JSON is parsed here.
select
    landing_id,
    type_index,
    system_id,
    fetched_at_utc,
    loaded_at,
    vehicle_type_id,
    form_factor,
    propulsion_type,
    vehicle_type_name,
    max_range_m
from {{ ref('base_gbfs__vehicle_types') }}
where reject_reason is null
