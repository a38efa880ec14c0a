-- Expected competitor trip starts per tracked city x grid cell (var gbfs_cell_size_m) x
-- hour of the var('demand_horizon_hours') hours after the as-of hour (macro demand_as_of),
-- with the city's local date and hour. For an hour of local hour-of-week h:
--   profile  = the cell's trips started (gbfs_trip_events, all systems and form factors)
--              over the city's base hours of hour-of-week h in the last
--              var('demand_history_weeks') weeks (dry, mild, no busy arrivals: see
--              demand_factors), divided by the number of those hours (a cell without a
--              trip in one counts 0);
--   expected = profile x the factors (demand_factors.factor_applied) of the forecast
--              conditions of that hour (rain, cold or hot, busy arrivals).
-- When the city has no base hour of hour-of-week h, the profile is the city's mean trips
-- per base hour of that local hour of the day, any weekday, times the cell's share of
-- the city's trips in the history (profile_source 'city_hour_of_day'); with none of
-- those either it is the city's mean per base hour ('city_mean'). Cells are those with a
-- trip started in the history.
with

city_hours as (
    select *
    from {{ ref('int_demand__city_hours') }}
),

base_hours as (
    select
        city_id,
        hour_utc,
        hour_of_week,
        local_hour,
        trips_started
    from city_hours
    where is_history = 1 and is_rain = 0 and temperature_band = 'mild' and is_busy_arrivals = 0
),

base_counts as (
    select
        city_id,
        hour_of_week,
        count(*) as base_hours
    from base_hours
    group by city_id, hour_of_week
),

hour_of_day as (
    select
        city_id,
        local_hour,
        avg(trips_started) as trips_per_hour
    from base_hours
    group by city_id, local_hour
),

city_mean as (
    select
        city_id,
        avg(trips_started) as trips_per_hour
    from base_hours
    group by city_id
),

cell_trips as (
    -- trips started per cell and history hour, summed over systems and form factors
    select
        trip_events.city_id,
        trip_events.cell_row,
        trip_events.cell_col,
        trip_events.hour_utc,
        sum(trip_events.trips_started) as trips_started
    -- through the tracked cities' names and the window's hours: the index (city_name,
    -- hour_utc) reads the window only, however long the kept history grows
    from {{ ref('tracked_cities') }} as tracked
    inner join {{ ref('gbfs_trip_events') }} as trip_events
        on tracked.city_name = trip_events.city_name
    inner join city_hours
        on
            trip_events.city_id = city_hours.city_id
            and trip_events.hour_utc = city_hours.hour_utc
    where
        city_hours.is_history = 1
        and trip_events.hour_utc >= timestampadd(week, -{{ var('demand_history_weeks') }}, {{ demand_as_of() }})
        and trip_events.hour_utc < {{ demand_as_of() }}
    group by trip_events.city_id, trip_events.cell_row, trip_events.cell_col, trip_events.hour_utc
),

city_trips as (
    select
        city_id,
        sum(trips_started) as trips_started
    from cell_trips
    group by city_id
),

cells as (
    select
        cell_trips.city_id,
        cell_trips.cell_row,
        cell_trips.cell_col,
        sum(cell_trips.trips_started) / max(city_trips.trips_started) as trip_share
    from cell_trips
    inner join city_trips
        on cell_trips.city_id = city_trips.city_id
    group by cell_trips.city_id, cell_trips.cell_row, cell_trips.cell_col
    having sum(cell_trips.trips_started) > 0
),

cell_profile as (
    select
        base_hours.city_id,
        cell_trips.cell_row,
        cell_trips.cell_col,
        base_hours.hour_of_week,
        sum(cell_trips.trips_started) as trips_started
    from base_hours
    inner join cell_trips using (city_id, hour_utc)
    group by base_hours.city_id, cell_trips.cell_row, cell_trips.cell_col, base_hours.hour_of_week
),

factors as (
    {{ demand_applied_factors() }}
),

future as (
    select
        city_hours.*,
        {{ demand_conditions_factor('city_hours') }} as weather_arrivals_factor
    from city_hours
    left join factors
        on city_hours.city_id = factors.city_id
    where city_hours.is_past = 0
),

profiled as (
    select
        future.city_id,
        future.hour_utc,
        future.local_date,
        future.local_hour,
        future.hour_of_week,
        cells.cell_row,
        cells.cell_col,
        future.is_rain,
        future.temperature_band,
        future.is_busy_arrivals,
        future.weather_arrivals_factor,
        coalesce(base_counts.base_hours, 0) as profile_hours,
        case
            when base_counts.base_hours > 0 then 'cell_hour_of_week'
            when hour_of_day.trips_per_hour is not null then 'city_hour_of_day'
            else 'city_mean'
        end as profile_source,
        case
            when base_counts.base_hours > 0 then coalesce(cell_profile.trips_started, 0) / base_counts.base_hours
            when hour_of_day.trips_per_hour is not null then hour_of_day.trips_per_hour * cells.trip_share
            else coalesce(city_mean.trips_per_hour, 0) * cells.trip_share
        end as profile_trips
    from future
    inner join cells
        on future.city_id = cells.city_id
    left join base_counts
        on
            future.city_id = base_counts.city_id
            and future.hour_of_week = base_counts.hour_of_week
    left join cell_profile
        on
            cells.city_id = cell_profile.city_id
            and cells.cell_row = cell_profile.cell_row
            and cells.cell_col = cell_profile.cell_col
            and future.hour_of_week = cell_profile.hour_of_week
    left join hour_of_day
        on
            future.city_id = hour_of_day.city_id
            and future.local_hour = hour_of_day.local_hour
    left join city_mean
        on future.city_id = city_mean.city_id
)

select
    city_id,
    cast(hour_utc as datetime) as hour_utc,
    local_date,
    local_hour,
    hour_of_week,
    cell_row,
    cell_col,
    {{ as_text('profile_source') }} as profile_source,
    cast(profile_hours as signed) as profile_hours,
    cast(profile_trips as decimal(10, 3)) as profile_trips_started,
    is_rain,
    {{ as_text('temperature_band') }} as temperature_band,
    is_busy_arrivals,
    cast(weather_arrivals_factor as decimal(8, 3)) as conditions_factor,
    cast(profile_trips * weather_arrivals_factor as decimal(10, 3)) as expected_trips_started
from profiled
