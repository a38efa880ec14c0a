-- One row per airport in each AeroDataBox airport search that could be staged (see
-- base_aerodatabox__airports); the others are in landing_rejects.
select
    landing_id,
    search_rank,
    city_id,
    city_name,
    fetched_at_utc,
    loaded_at,
    airport_icao,
    airport_iata,
    airport_name,
    airport_name_as_served,
    airport_short_name,
    municipality_name,
    country_code,
    latitude,
    longitude,
    timezone
from {{ ref('base_aerodatabox__airports') }}
where reject_reason is null
