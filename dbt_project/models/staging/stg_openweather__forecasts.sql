-- One row per OpenWeather landing row and forecast slot that could be staged (40 per
-- response); the others are in landing_rejects. Temperatures in °C and speeds in m/s
-- whatever the units applied (see base_openweather__slots).
select
    landing_id,
    slot_index,
    city_id,
    city_name,
    units_requested,
    units_applied,
    fetched_at_utc,
    loaded_at,
    city_utc_offset_s,
    forecast_at_utc,
    temperature_c,
    feels_like_c,
    temperature_min_c,
    temperature_max_c,
    pressure_hpa,
    humidity_pct,
    wind_speed_m_s,
    wind_gust_m_s,
    wind_direction_deg,
    precipitation_probability,
    rain_3h_mm,
    snow_3h_mm,
    cloudiness_pct,
    visibility_m,
    weather_condition_id,
    weather_condition,
    weather_condition_description,
    part_of_day
from {{ ref('base_openweather__slots') }}
where reject_reason is null
