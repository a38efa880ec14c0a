-- One row per Open-Meteo landing row (HTTP 200), weather model and forecast hour.
-- Both response shapes: one model (hourly keys as asked, e.g. temperature_2m) and
-- several (every key suffixed with the model, e.g. temperature_2m_icon_d2). Values
-- converted to °C, m/s, mm (snowfall cm) and m from what hourly_units says, so a
-- body asked in other units stages the same. Hours a model has no forecast for
-- (null temperature: no such variable, or past its horizon) are left out.
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        {{ json_text('request_params', '$.models') }} as models_requested,
        fetched_at as fetched_at_utc,
        loaded_at as loaded_at_utc,
        cast(json_extract(payload, '$.utc_offset_seconds') as signed) as utc_offset_s,
        json_keys(payload, '$.hourly') as hourly_keys_json,
        payload
    from {{ source('gans_raw', 'open_meteo_forecasts') }}
    where http_status = 200
),

series as (
    -- one temperature_2m series per model: its key's suffix names the model
    select
        landing.*,
        substring(hourly_keys.hourly_key, 15) as suffix
    from landing
    -- noqa: disable=LT02
    cross join json_table(
        landing.hourly_keys_json, '$[*]' columns (
            hourly_key varchar(200) path '$' null on error
        )
    ) as hourly_keys
    -- noqa: enable=LT02
    where left(hourly_keys.hourly_key, 14) = 'temperature_2m'
),

models as (
    -- each model's series and units, taken out of the payload once: a window
    -- function keeps this CTE materialised, so the hours below index these short
    -- arrays, not the whole payload
    select
        landing_id,
        city_name,
        fetched_at_utc,
        loaded_at_utc,
        utc_offset_s,
        case
            when suffix <> '' then substring(suffix, 2)
            when models_requested is not null and models_requested not like '%,%' then models_requested
            else 'best_match'
        end as model,  -- noqa: RF04
        json_extract(payload, '$.hourly.time') as time_series,
        {%- for name in ['temperature_2m', 'apparent_temperature', 'precipitation', 'rain', 'showers',
                         'snowfall', 'precipitation_probability', 'weather_code', 'cloud_cover',
                         'wind_speed_10m', 'wind_gusts_10m', 'wind_direction_10m', 'visibility'] %}
            json_extract(payload, concat('$.hourly.{{ name }}', suffix)) as {{ name }},
        {%- endfor %}
        {%- for name in ['temperature_2m', 'apparent_temperature', 'precipitation', 'snowfall',
                         'wind_speed_10m', 'wind_gusts_10m', 'visibility'] %}
            json_unquote(json_extract(payload, concat('$.hourly_units.{{ name }}', suffix))) as {{ name }}_unit,
        {%- endfor %}
        row_number() over (partition by landing_id, loaded_at_utc order by suffix) as model_index
    from series
),

hours as (
    select
        models.*,
        hour_rows.hour_index,
        hour_rows.hour_text
    from models
    cross join json_table(
        models.time_series, '$[*]' columns (
            hour_index for ordinality,
            hour_text varchar(32) path '$' null on error
        )
    ) as hour_rows
),

valued as (
    select
        landing_id,
        model_index,
        model,
        city_name,
        fetched_at_utc,
        loaded_at_utc,
        hour_index,
        timestampadd(second, -utc_offset_s, str_to_date(hour_text, '%Y-%m-%dT%H:%i')) as forecast_hour_utc,
        {%- for name in ['temperature_2m', 'apparent_temperature', 'precipitation', 'rain', 'showers',
                         'snowfall', 'precipitation_probability', 'weather_code', 'cloud_cover',
                         'wind_speed_10m', 'wind_gusts_10m', 'wind_direction_10m', 'visibility'] %}
            {{ open_meteo_value(name, 'hour_index') }} as {{ name }},
        {%- endfor %}
        temperature_2m_unit,
        apparent_temperature_unit,
        precipitation_unit,
        snowfall_unit,
        wind_speed_10m_unit,
        wind_gusts_10m_unit,
        visibility_unit
    from hours
)

select
    landing_id,
    model_index,
    {{ as_text('cast(model as char(64))') }} as model,  -- noqa: RF04
    hour_index,
    {{ city_id('city_name') }} as city_id,
    city_name,
    fetched_at_utc,
    loaded_at_utc,
    forecast_hour_utc,
    {{ open_meteo_celsius('temperature_2m', 'temperature_2m_unit') }} as temperature_c,
    {{ open_meteo_celsius('apparent_temperature', 'apparent_temperature_unit') }} as apparent_temperature_c,
    {{ open_meteo_mm('precipitation', 'precipitation_unit') }} as precipitation_mm,
    {{ open_meteo_mm('rain', 'precipitation_unit') }} as rain_mm,
    {{ open_meteo_mm('showers', 'precipitation_unit') }} as showers_mm,
    cast(round(case when snowfall_unit = 'inch' then snowfall * 2.54 else snowfall end, 2) as decimal(7, 2))
        as snowfall_cm,
    cast(round(precipitation_probability) as signed) as precipitation_probability_pct,
    cast(weather_code as signed) as weather_code,
    cast(round(cloud_cover) as signed) as cloud_cover_pct,
    {{ open_meteo_m_s('wind_speed_10m', 'wind_speed_10m_unit') }} as wind_speed_m_s,
    {{ open_meteo_m_s('wind_gusts_10m', 'wind_gusts_10m_unit') }} as wind_gust_m_s,
    cast(round(wind_direction_10m) as signed) as wind_direction_deg,
    cast(round(case when visibility_unit = 'ft' then visibility * 0.3048 else visibility end) as signed)
        as visibility_m
from valued
where temperature_2m is not null
