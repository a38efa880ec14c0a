-- One row per Open-Meteo landing row (HTTP 200), weather model and forecast hour
-- that could be staged; the others (among them the hours a model has no forecast
-- for) are in landing_rejects. Both response shapes, one model and several (every
-- hourly key suffixed with the model); values in °C, m/s, mm (snowfall cm) and m
-- whatever hourly_units says (see base_open_meteo__hours).
select
    landing_id,
    model_index,
    model,  -- noqa: RF04
    hour_index,
    city_id,
    city_name,
    fetched_at_utc,
    loaded_at,
    forecast_hour_utc,
    temperature_c,
    apparent_temperature_c,
    precipitation_mm,
    rain_mm,
    showers_mm,
    snowfall_cm,
    precipitation_probability_pct,
    weather_code,
    cloud_cover_pct,
    wind_speed_m_s,
    wind_gust_m_s,
    wind_direction_deg,
    visibility_m
from {{ ref('base_open_meteo__hours') }}
where reject_reason is null
