-- One row per airport in each AeroDataBox airport search (every response generation:
-- {items} and {searchBy, count, items}; timeZone only from 2024-09).
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        fetched_at as fetched_at_utc,
        loaded_at,
        payload
    from {{ source('gans_raw', 'aerodatabox_airports') }}
    where http_status = 200
),

items as (
    select
        landing.landing_id,
        landing.city_name,
        landing.fetched_at_utc,
        landing.loaded_at,
        item.search_rank,
        item.icao,
        item.iata,
        item.airport_name,
        item.short_name,
        item.municipality_name,
        item.country_code,
        item.latitude,
        item.longitude,
        item.time_zone
    from landing
    -- JSON_TABLE columns: strings as text, so no long value is cut (MariaDB) or
    -- rejected (MySQL 8); null on error: a value that does not convert is NULL on
    -- MySQL 8 (MariaDB converts it with a warning, e.g. 'abc' -> 0).
    cross join json_table(
        landing.payload, '$.items[*]' columns (
            search_rank for ordinality,
            icao text path '$.icao' null on error,
            iata text path '$.iata' null on error,
            airport_name text path '$.name' null on error,
            short_name text path '$.shortName' null on error,
            municipality_name text path '$.municipalityName' null on error,
            country_code text path '$.countryCode' null on error,
            latitude double path '$.location.lat' null on error,
            longitude double path '$.location.lon' null on error,
            time_zone text path '$.timeZone' null on error
        )
    ) as item
)

select
    landing_id,
    search_rank,
    {{ city_id('city_name') }} as city_id,
    city_name,
    fetched_at_utc,
    loaded_at,
    {{ as_text('upper(icao)') }} as airport_icao,
    {{ as_text('upper(iata)') }} as airport_iata,
    -- "Berlin, Berlin Brandenburg" (older responses) -> "Berlin Brandenburg"
    {{ as_text("case when airport_name like concat(municipality_name, ', %') "
        ~ "then substr(airport_name, char_length(municipality_name) + 3) else airport_name end") }} as airport_name,
    {{ as_text('airport_name') }} as airport_name_as_served,
    {{ as_text('short_name') }} as airport_short_name,
    {{ as_text('municipality_name') }} as municipality_name,
    {{ as_text('upper(country_code)') }} as country_code,
    cast(latitude as decimal(9, 6)) as latitude,
    cast(longitude as decimal(9, 6)) as longitude,
    {{ as_text('time_zone') }} as timezone
from items
where icao is not null
