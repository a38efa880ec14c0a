{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['city_id', 'model', 'forecast_hour_utc'],
        post_hook=[
            "{{ ensure_index('ix_weather_hourly_forecasts_hour', 'city_id, model, forecast_hour_utc') }}",
            "{{ ensure_index('ix_weather_hourly_forecasts_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_weather_hourly_forecasts_time', 'forecast_hour_utc') }}",
        ],
    )
}}
-- One row per city, Open-Meteo weather model and UTC hour: the latest forecast
-- fetched for it, with the hour in the city's local time (time zone of the
-- tracked_cities seed; convert_tz needs the server's time-zone tables, loaded on
-- RDS and by localdb). Incremental like weather_forecasts: reads only landing rows
-- loaded since the newest row held (minus a lookback); an hour is replaced only by
-- a forecast fetched at least as late.
with

new_hours as (
    select
        *,
        row_number() over (
            partition by city_id, model, forecast_hour_utc
            order by fetched_at_utc desc, landing_id desc
        ) as recency_rank
    from {{ ref('stg_open_meteo__forecasts') }}
    where 1 = 1
        {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
),

zones as (
    {{ city_time_zones() }}
)

select  -- noqa: ST06
    new_hours.city_id,
    new_hours.model,
    new_hours.forecast_hour_utc,
    zones.timezone,
    new_hours.fetched_at_utc,
    new_hours.temperature_c,
    new_hours.apparent_temperature_c,
    new_hours.precipitation_mm,
    new_hours.rain_mm,
    new_hours.showers_mm,
    new_hours.snowfall_cm,
    new_hours.precipitation_probability_pct,
    new_hours.weather_code,
    new_hours.cloud_cover_pct,
    new_hours.wind_speed_m_s,
    new_hours.wind_gust_m_s,
    new_hours.wind_direction_deg,
    new_hours.visibility_m,
    new_hours.landing_id,
    -- a cast, not the bare column: MySQL gives the window-ranked CTE's loaded_at (NOT NULL,
    -- default current_timestamp(6) in the landing table) a zero default the table it creates
    -- refuses (error 1067 Invalid default value); MariaDB accepts either
    cast(new_hours.loaded_at as datetime(6)) as loaded_at,
    convert_tz(new_hours.forecast_hour_utc, 'UTC', zones.timezone) as forecast_hour_local,
    cast(convert_tz(new_hours.forecast_hour_utc, 'UTC', zones.timezone) as date) as local_date,
    hour(convert_tz(new_hours.forecast_hour_utc, 'UTC', zones.timezone)) as local_hour
from new_hours
left join zones
    on new_hours.city_id = zones.city_id
{{ latest_fetch_not_older_than_held('new_hours', ['city_id', 'model', 'forecast_hour_utc']) }}
