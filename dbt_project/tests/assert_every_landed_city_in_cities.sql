-- Every city key in landing (and in the tracked list) has a row in cities. Reads the
-- landing tables' request_key directly, every row whatever its status or payload,
-- not the staging views (they drop rows: non-200 responses, empty airport searches).
-- Landing rows loaded in the test window (var test_window_hours; 0 = all history):
-- keys landed earlier were checked by the builds after they landed.
with

landed as (
    select {{ json_text('request_key', '$.city') }} as city_name
    from {{ source('gans_raw', 'openweather_forecasts') }}
    where {{ landed_in_test_window('loaded_at') }}
    union distinct
    select {{ json_text('request_key', '$.city') }} as city_name
    from {{ source('gans_raw', 'aerodatabox_airports') }}
    where {{ landed_in_test_window('loaded_at') }}
    union distinct
    select {{ json_text('request_key', '$.city') }} as city_name
    from {{ source('gans_raw', 'wikipedia_city_pages') }}
    where {{ landed_in_test_window('loaded_at') }}
    union distinct
    select {{ as_text('city_name') }} as city_name
    from {{ ref('tracked_cities') }}
),

keyed as (
    select
        {{ city_id('city_name') }} as city_id,
        city_name
    from landed
    where city_name is not null and trim(city_name) <> ''
)

select
    keyed.city_id,
    keyed.city_name
from keyed
left join {{ ref('cities') }} as cities on keyed.city_id = cities.city_id
where cities.city_id is null
