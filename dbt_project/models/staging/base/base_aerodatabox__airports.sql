-- Every item of every AeroDataBox airport search (HTTP 200; every response generation:
-- {items} and {searchBy, count, items}; timeZone only from 2024-09), staged or not,
-- with reject_reason saying why an item cannot be staged (NULL when it can): no ICAO
-- code (the marts' key), coordinates that are no number or off the globe.
-- stg_aerodatabox__airports keeps the items without a reason, landing_rejects the others.
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        fetched_at as fetched_at_utc,
        loaded_at
    from {{ source('gans_raw', 'aerodatabox_airports') }}
    where
        http_status = 200
        {{ new_landing_rows() }}  -- noqa: LT02
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
        item.latitude_text,
        item.longitude_text,
        item.time_zone,
        {{ json_number('item.latitude_text') }} as latitude_value,
        {{ json_number('item.longitude_text') }} as longitude_value
    from landing
    -- JSON_TABLE reads the landing table's own column: MySQL refuses it over a column
    -- of a CTE or derived table (error 1210), MariaDB accepts both
    inner join {{ source('gans_raw', 'aerodatabox_airports') }} as raw_row
        on
            landing.landing_id = raw_row.id
            -- the same filter on this alias too: whichever join order the optimizer picks,
            -- JSON_TABLE never unpacks a landing row that is not new
            {{ new_landing_rows('raw_row.id', 'raw_row.loaded_at') }}  -- noqa: LT02
    -- every value as text (numbers converted only when they are numbers, see defensive_casts)
    cross join json_table(
        raw_row.payload, '$.items[*]' columns (
            search_rank for ordinality,
            icao text path '$.icao' null on error,
            iata text path '$.iata' null on error,
            airport_name text path '$.name' null on error,
            short_name text path '$.shortName' null on error,
            municipality_name text path '$.municipalityName' null on error,
            country_code text path '$.countryCode' null on error,
            latitude_text text path '$.location.lat' null on error,
            longitude_text text path '$.location.lon' null on error,
            time_zone text path '$.timeZone' null on error
        )
    ) as item
),

checked as (
    select
        *,
        {{ reject_reason([
            ["icao is null or trim(icao) = ''", 'icao missing'],
            ['latitude_text is not null and latitude_value is null', '$.location.lat not a number'],
            ['longitude_text is not null and longitude_value is null', '$.location.lon not a number'],
            ['latitude_value not between -90 and 90', '$.location.lat out of range'],
            ['longitude_value not between -180 and 180', '$.location.lon out of range'],
        ]) }} as reject_reason,
        {{ keep_materialised('checked_row') }}
    from items
)

select
    landing_id,
    search_rank,
    concat('$.items[', search_rank - 1, ']') as record_path,
    reject_reason,
    {{ city_id('city_name') }} as city_id,
    city_name,
    fetched_at_utc,
    -- cast: MySQL gives a NOT NULL default-current_timestamp column through a window-ranked CTE a zero
    -- default its CREATE TABLE ... AS refuses (1067)
    cast(loaded_at as datetime(6)) as loaded_at,
    {{ as_text('upper(icao)') }} as airport_icao,
    {{ as_text('upper(iata)') }} as airport_iata,
    -- "Berlin, Berlin Brandenburg" (older responses) -> "Berlin Brandenburg"
    {{ as_text("case when airport_name like concat(municipality_name, ', %') "
        ~ "then substr(airport_name, char_length(municipality_name) + 3) else airport_name end") }} as airport_name,
    {{ as_text('airport_name') }} as airport_name_as_served,
    {{ as_text('short_name') }} as airport_short_name,
    {{ as_text('municipality_name') }} as municipality_name,
    {{ as_text('upper(country_code)') }} as country_code,
    case when reject_reason is null then cast(latitude_value as decimal(9, 6)) end as latitude,
    case when reject_reason is null then cast(longitude_value as decimal(9, 6)) end as longitude,
    {{ as_text('time_zone') }} as timezone
from checked
