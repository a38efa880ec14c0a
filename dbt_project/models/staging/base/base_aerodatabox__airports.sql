-- Every item of every AeroDataBox airport search (HTTP 200; every response generation:
-- {items} and {searchBy, count, items}; timeZone only from 2024-09), staged or not,
-- with reject_reason saying why an item cannot be staged (NULL when it can): no ICAO
-- code (the marts' key), coordinates that are no number or off the globe.
-- stg_aerodatabox__airports keeps the items without a reason, landing_rejects the others.
{%- set checks = [
    ["icao is null or trim(icao) = ''", 'icao missing'],
    ['latitude_text is not null and latitude_value is null', '$.location.lat not a number'],
    ['longitude_text is not null and longitude_value is null', '$.location.lon not a number'],
    ['latitude_value not between -90 and 90', '$.location.lat out of range'],
    ['longitude_value not between -180 and 180', '$.location.lon out of range'],
] %}
with

landing as (
    {{ base_landing_rows('aerodatabox_airports', {'city_name': json_text('request_key', '$.city')}) }}  -- noqa: LT02, LT05
),

items as (
    select
        landing.*,
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
    {{ base_landing_payload('aerodatabox_airports') }}  -- noqa: LT02, LT05
    cross join json_table(
        raw_row.payload, '$.items[*]' columns (
            search_rank for ordinality,
            {{ json_text_columns('icao, iata, name as airport_name, shortName as short_name,
                municipalityName as municipality_name, countryCode as country_code,
                location.lat as latitude_text, location.lon as longitude_text, timeZone as time_zone') }}
        )
    ) as item
),

{{ base_checked('items', checks) }}

select
    {{ base_record_columns(['search_rank'], "'$.items'", base_city_keys()) }},
    -- airport_name: "Berlin, Berlin Brandenburg" (older responses) -> "Berlin Brandenburg"
    {{ base_columns('text', "upper(icao) as airport_icao, upper(iata) as airport_iata,
        case when airport_name like concat(municipality_name, ', %')
            then substr(airport_name, char_length(municipality_name) + 3) else airport_name end as airport_name,
        airport_name as airport_name_as_served, short_name as airport_short_name,
        municipality_name as municipality_name, upper(country_code) as country_code") }},
    {{ base_columns('staged', 'cast(latitude_value as decimal(9, 6)) as latitude,
        cast(longitude_value as decimal(9, 6)) as longitude') }},
    {{ as_text('time_zone') }} as timezone
from checked
