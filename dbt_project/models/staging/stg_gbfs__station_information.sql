-- One row per station per GBFS station_information document, the stations that could be
-- staged (the others are in landing_rejects): position, name, capacity. From the
-- incremental base table: no JSON is parsed here.
select
    landing_id,
    station_index,
    system_id,
    fetched_at_utc,
    loaded_at,
    station_id,
    station_name,
    latitude,
    longitude,
    capacity
from {{ ref('base_gbfs__station_information') }}
where reject_reason is null
