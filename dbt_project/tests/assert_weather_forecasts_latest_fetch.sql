-- No forecast landed in the test window (var test_window_hours; 0 = all history) for
-- a held slot was fetched later than the one weather_forecasts keeps.
with

landed as (
    select
        city_id,
        forecast_at_utc,
        max(fetched_at_utc) as latest_fetch
    from {{ ref('stg_openweather__forecasts') }}
    where
        {{ landed_in_test_window('loaded_at') }}
    group by city_id, forecast_at_utc
)

select
    held.city_id,
    held.forecast_at_utc,
    held.fetched_at_utc,
    landed.latest_fetch
from landed
inner join {{ ref('weather_forecasts') }} as held
    on
        landed.city_id = held.city_id
        and landed.forecast_at_utc = held.forecast_at_utc
where landed.latest_fetch > held.fetched_at_utc
