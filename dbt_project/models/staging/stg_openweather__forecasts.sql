-- One row per OpenWeather landing row and forecast slot (40 per response).
-- Temperatures in °C and speeds in m/s whatever the requested units.
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        lower(coalesce({{ json_text('request_params', '$.units') }}, 'standard')) as units,
        fetched_at as fetched_at_utc,
        loaded_at,
        payload
    from {{ source('gans_raw', 'openweather_forecasts') }}
    where http_status = 200
),

slots as (
    select
        landing.landing_id,
        landing.city_name,
        landing.units,
        landing.fetched_at_utc,
        landing.loaded_at,
        cast(json_extract(landing.payload, '$.city.timezone') as signed) as city_utc_offset_s,
        slot.slot_index,
        slot.dt,
        slot.temp,
        slot.feels_like,
        slot.temp_min,
        slot.temp_max,
        slot.pressure,
        slot.humidity,
        slot.wind_speed,
        slot.wind_gust,
        slot.wind_deg,
        slot.pop,
        slot.rain_3h,
        slot.snow_3h,
        slot.clouds_all,
        slot.visibility,
        slot.weather_condition_id,
        slot.weather_main,
        slot.weather_condition_description,
        slot.pod
    from landing
    -- JSON_TABLE columns: strings as text, so no long value is cut (MariaDB) or
    -- rejected (MySQL 8); null on error: a value that does not convert is NULL on
    -- MySQL 8 (MariaDB converts it with a warning, e.g. 'abc' -> 0).
    cross join json_table(
        landing.payload, '$.list[*]' columns (
            slot_index for ordinality,
            dt bigint path '$.dt' null on error,
            temp double path '$.main.temp' null on error,
            feels_like double path '$.main.feels_like' null on error,
            temp_min double path '$.main.temp_min' null on error,
            temp_max double path '$.main.temp_max' null on error,
            pressure double path '$.main.pressure' null on error,
            humidity double path '$.main.humidity' null on error,
            wind_speed double path '$.wind.speed' null on error,
            wind_gust double path '$.wind.gust' null on error,
            wind_deg double path '$.wind.deg' null on error,
            pop double path '$.pop' null on error,
            rain_3h double path '$.rain."3h"' null on error,
            snow_3h double path '$.snow."3h"' null on error,
            clouds_all double path '$.clouds.all' null on error,
            visibility double path '$.visibility' null on error,
            weather_condition_id int path '$.weather[0].id' null on error,
            weather_main text path '$.weather[0].main' null on error,
            weather_condition_description text path '$.weather[0].description' null on error,
            pod text path '$.sys.pod' null on error
        )
    ) as slot
),

converted as (
    select
        *,
        case units
            when 'metric' then 1.0
            when 'imperial' then 5.0 / 9.0
            else 1.0
        end as temperature_scale,
        case units
            when 'metric' then 0.0
            when 'imperial' then -32.0 * 5.0 / 9.0
            else -273.15
        end as temperature_shift,
        case units when 'imperial' then 0.44704 else 1.0 end as speed_to_m_s
    from slots
)

select
    landing_id,
    slot_index,
    {{ city_id('city_name') }} as city_id,
    city_name,
    units as units_requested,
    fetched_at_utc,
    loaded_at,
    city_utc_offset_s,
    {{ from_unix_utc('dt') }} as forecast_at_utc,
    cast(round(temp * temperature_scale + temperature_shift, 2) as decimal(6, 2)) as temperature_c,
    cast(round(feels_like * temperature_scale + temperature_shift, 2) as decimal(6, 2)) as feels_like_c,
    cast(round(temp_min * temperature_scale + temperature_shift, 2) as decimal(6, 2)) as temperature_min_c,
    cast(round(temp_max * temperature_scale + temperature_shift, 2) as decimal(6, 2)) as temperature_max_c,
    cast(round(pressure) as signed) as pressure_hpa,
    cast(round(humidity) as signed) as humidity_pct,
    cast(round(wind_speed * speed_to_m_s, 2) as decimal(6, 2)) as wind_speed_m_s,
    cast(round(wind_gust * speed_to_m_s, 2) as decimal(6, 2)) as wind_gust_m_s,
    cast(round(wind_deg) as signed) as wind_direction_deg,
    cast(pop as decimal(4, 3)) as precipitation_probability,
    cast(coalesce(rain_3h, 0) as decimal(7, 2)) as rain_3h_mm,
    cast(coalesce(snow_3h, 0) as decimal(7, 2)) as snow_3h_mm,
    cast(round(clouds_all) as signed) as cloudiness_pct,
    cast(round(visibility) as signed) as visibility_m,
    weather_condition_id,
    {{ as_text('weather_main') }} as weather_condition,
    {{ as_text('weather_condition_description') }} as weather_condition_description,
    {{ as_text('pod') }} as part_of_day
from converted
