-- Local date and hour are there for every hour of a city whose time zone is known
-- (tracked_cities): a NULL means convert_tz found no such zone, i.e. the server lacks
-- the time-zone tables (MariaDB: mariadb-tzinfo-to-sql, which localdb loads; RDS has
-- them). Cities landed but not tracked have no zone, and NULL local time, by design.
-- Checks the rows loaded in the test window (var test_window_hours; 0 = all history).
with

zones as (
    {{ city_time_zones() }}
),

hourly_marts as (
    select
        'weather_hourly_forecasts' as mart,
        city_id,
        forecast_hour_utc as hour_utc,
        local_date,
        local_hour,
        loaded_at
    from {{ ref('weather_hourly_forecasts') }}
    union all
    select
        'city_hourly_conditions' as mart,
        city_id,
        hour_utc,
        local_date,
        local_hour,
        loaded_at
    from {{ ref('city_hourly_conditions') }}
)

select
    hourly_marts.mart,
    hourly_marts.city_id,
    hourly_marts.hour_utc,
    zones.timezone
from hourly_marts
inner join zones
    on hourly_marts.city_id = zones.city_id
where
    (hourly_marts.local_date is null or hourly_marts.local_hour is null)
    and {{ landed_in_test_window('hourly_marts.loaded_at') }}
