{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['city_id', 'forecast_at_utc'],
        post_hook=[
            "{{ ensure_index('ix_weather_forecasts_slot', 'city_id, forecast_at_utc') }}",
            "{{ ensure_index('ix_weather_forecasts_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_weather_forecasts_time', 'forecast_at_utc') }}",
        ],
    )
}}
-- One row per city and 3-hour forecast slot: the latest forecast fetched for it.
-- Incremental: reads only landing rows loaded since the newest row held (minus a
-- lookback); a slot is replaced only by a forecast fetched at least as late.
with

new_slots as (
    select
        *,
        row_number() over (
            partition by city_id, forecast_at_utc
            order by fetched_at_utc desc, landing_id desc
        ) as recency_rank
    from {{ ref('stg_openweather__forecasts') }}
    where 1 = 1
        {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
)

select
    new_slots.city_id,
    new_slots.forecast_at_utc,
    new_slots.fetched_at_utc,
    new_slots.temperature_c,
    new_slots.feels_like_c,
    new_slots.temperature_min_c,
    new_slots.temperature_max_c,
    new_slots.humidity_pct,
    new_slots.pressure_hpa,
    new_slots.wind_speed_m_s,
    new_slots.wind_gust_m_s,
    new_slots.wind_direction_deg,
    new_slots.precipitation_probability,
    new_slots.rain_3h_mm,
    new_slots.snow_3h_mm,
    new_slots.cloudiness_pct,
    new_slots.visibility_m,
    new_slots.weather_condition_id,
    new_slots.weather_condition,
    new_slots.weather_condition_description,
    new_slots.part_of_day,
    new_slots.units_requested,
    new_slots.units_applied,
    new_slots.landing_id,
    -- a cast, not the bare column: MySQL gives the window-ranked CTE's loaded_at (NOT NULL,
    -- default current_timestamp(6) in the landing table) a zero default the table it creates
    -- refuses (error 1067 Invalid default value); MariaDB accepts either
    cast(new_slots.loaded_at as datetime(6)) as loaded_at
from new_slots
{{ latest_fetch_not_older_than_held('new_slots', ['city_id', 'forecast_at_utc']) }}
