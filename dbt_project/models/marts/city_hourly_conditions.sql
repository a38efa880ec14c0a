{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['city_id', 'hour_utc'],
        post_hook=[
            "{{ ensure_index('ix_city_hourly_conditions_hour', 'city_id, hour_utc') }}",
            "{{ ensure_index('ix_city_hourly_conditions_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_city_hourly_conditions_time', 'hour_utc') }}",
        ],
    )
}}
-- The demand model's feature table: one row per city and UTC hour over the forecast
-- horizon, with the city's local date and hour. The weather of an hour is
-- Open-Meteo's hourly forecast (model var('open_meteo_model')) where there is one,
-- else the OpenWeather 3-hour slot in force: from its own time until the next
-- slot (at most 3 hours); weather_source says which. Arrivals are the flights
-- scheduled in that hour at the city's airports, codeshare duplicates not counted.
-- Competitors' supply is what their GBFS feeds published in that hour (observed, so
-- NULL for hours no snapshot covers, e.g. the hours still ahead): per operator the mean
-- over the hour's 15-minute buckets of gbfs_availability, summed over operators; their
-- trips started in the hour are gbfs_trip_events' (inferred, NULL where none was seen).
-- Incremental: recomputes the hours from 3 hours before the earliest to 3 hours
-- after the latest instant touched by the Open-Meteo hours, forecast slots, flights and board spans
-- loaded since the newest loaded_at held (minus the lookback), for every
-- city; every other hour keeps its row. The window is found first (macro
-- changed_window) and enters the query as constants, so each input is read
-- through its time index, not scanned.
{%- set window = changed_window([
    [ref('weather_forecasts'), 'forecast_at_utc', 'forecast_at_utc'],
    [ref('weather_hourly_forecasts'), 'forecast_hour_utc', 'forecast_hour_utc'],
    [ref('flight_arrivals'), 'scheduled_arrival_utc', 'scheduled_arrival_utc'],
    [ref('int_aerodatabox__flight_boards'), 'first_arrival_utc', 'last_arrival_utc'],
    [ref('gbfs_availability'), 'bucket_start_utc', 'bucket_start_utc'],
    [ref('gbfs_trip_events'), 'hour_utc', 'hour_utc'],
]) %}
{%- if window is none %}
    {#- a full build: every hour #}
    {%- set from_utc, to_utc = "cast('1900-01-01 00:00:00' as datetime)", "cast('9000-01-01 00:00:00' as datetime)" %}
{%- elif window.first_utc is none %}
    {#- nothing loaded since the last run: an empty window #}
    {%- set from_utc, to_utc = "cast('1970-01-01 00:00:00' as datetime)", "cast('1970-01-01 00:00:00' as datetime)" %}
{%- else %}
    {%- set from_utc = "timestampadd(hour, -3, cast('" ~ window.first_utc[:13] ~ ":00:00' as datetime))" %}
    {%- set to_utc = "timestampadd(hour, 3, cast('" ~ window.last_utc ~ "' as datetime))" %}
{%- endif %}

with

hour_offsets as (
    select 0 as hour_offset
    union all
    select 1 as hour_offset
    union all
    select 2 as hour_offset
),

slot_hours as (
    -- each slot's first three hours, with the next slot's time: a window function, so
    -- the CTE is materialised and hour_utc is a column the joins below can key on. Keys
    -- and times only: the slot's values are joined once per output row below (the
    -- forecasts' text columns made both materialisations of this CTE on-disk tables)
    select
        forecasts.city_id,
        forecasts.forecast_at_utc,
        timestampadd(hour, hour_offsets.hour_offset, forecasts.forecast_at_utc) as hour_utc,
        lead(forecasts.forecast_at_utc) over (
            partition by forecasts.city_id, hour_offsets.hour_offset order by forecasts.forecast_at_utc
        ) as next_forecast_at_utc
    from {{ ref('weather_forecasts') }} as forecasts
    cross join hour_offsets
    -- a slot is in force for at most the 3 hours after it: slots 3 hours either side suffice
    where
        forecasts.forecast_at_utc >= timestampadd(hour, -3, {{ from_utc }})
        and forecasts.forecast_at_utc <= timestampadd(hour, 3, {{ to_utc }})
),

hours as (
    -- the hours each slot is in force: until the next slot, 3 hours at most
    select
        city_id,
        forecast_at_utc,
        hour_utc
    from slot_hours
    where
        hour_utc < coalesce(next_forecast_at_utc, timestampadd(hour, 3, forecast_at_utc))
        and hour_utc between {{ from_utc }} and {{ to_utc }}
),

hourly as (
    -- Open-Meteo's hours, one model
    select *
    from {{ ref('weather_hourly_forecasts') }}
    where
        model = '{{ var("open_meteo_model") }}'
        and forecast_hour_utc between {{ from_utc }} and {{ to_utc }}
),

all_hours as (
    select
        city_id,
        hour_utc
    from hours
    union distinct
    select
        city_id,
        forecast_hour_utc as hour_utc
    from hourly
),

zones as (
    -- materialised (keyed): merged, the join hashed every city's name again for each hour
    {{ city_time_zones(materialised=true) }}
),

names as (
    -- every city's name, tracked or only landed
    select
        city_id,
        city_name,
        {{ keep_materialised('name_row') }}
    from {{ ref('cities') }}
),

arrivals as (
    select
        city_airports.city_id,
        cast(date_format(flights.scheduled_arrival_utc, '%Y-%m-%d %H:00:00') as datetime) as hour_utc,
        cast(count(*) as signed) as scheduled_arrivals,
        cast(sum(case when flights.is_cargo = 0 then 1 else 0 end) as signed) as scheduled_passenger_arrivals,
        cast(sum(case when flights.status like 'Cancel%' then 1 else 0 end) as signed) as cancelled_arrivals
    from {{ ref('flight_arrivals') }} as flights
    inner join {{ ref('city_airports') }} as city_airports
        on flights.airport_icao = city_airports.airport_icao
    where
        (flights.codeshare_status is null or flights.codeshare_status <> 'IsCodeshared')
        and flights.scheduled_arrival_utc >= {{ from_utc }}
        and flights.scheduled_arrival_utc < timestampadd(hour, 1, {{ to_utc }})
    group by city_airports.city_id, hour_utc
),

span_offsets as (
    -- 0 to 29 hours: a board spans at most its request window (12 hours at most;
    -- test assert_flight_board_spans_fit_hourly_offsets)
    {%- for n in range(30) %}
        select {{ n }} as hour_offset
        {{ 'union all' if not loop.last }}
    {%- endfor %}
),

boards as (
    -- each fetched arrivals board's UTC span, from the hour of its first arrival, per city
    select
        city_airports.city_id,
        cast(date_format(flight_boards.first_arrival_utc, '%Y-%m-%d %H:00:00') as datetime) as first_hour_utc,
        flight_boards.last_arrival_utc,
        -- materialised: merged into covered, the boards were scanned again for every
        -- (hour offset, airport) pair (126 s for a year of 100 airports' boards)
        {{ keep_materialised('board_row') }}
    from {{ ref('int_aerodatabox__flight_boards') }} as flight_boards
    inner join {{ ref('city_airports') }} as city_airports
        on flight_boards.airport_icao = city_airports.airport_icao
    where
        flight_boards.last_arrival_utc >= {{ from_utc }}
        and flight_boards.first_arrival_utc < timestampadd(hour, 1, {{ to_utc }})
),

covered as (
    -- the hours a fetched board spans, one row each: an equi-join for the hours below
    -- (a range join of hours and boards grows with both)
    select distinct
        boards.city_id,
        timestampadd(hour, span_offsets.hour_offset, boards.first_hour_utc) as hour_utc
    from boards
    inner join span_offsets
        on timestampadd(hour, span_offsets.hour_offset, boards.first_hour_utc) <= boards.last_arrival_utc
),

supply_operators as (
    -- each operator's vehicles in the city per 15-minute bucket, averaged over the hour
    select
        city_id,
        operator,
        cast(date_format(bucket_start_utc, '%Y-%m-%d %H:00:00') as datetime) as hour_utc,
        sum(vehicles_avg) / count(distinct bucket_start_utc) as vehicles,
        sum(vehicles_available_avg) / count(distinct bucket_start_utc) as vehicles_available
    from {{ ref('gbfs_availability') }}
    where
        bucket_start_utc >= {{ from_utc }}
        and bucket_start_utc < timestampadd(hour, 1, {{ to_utc }})
    group by city_id, operator, hour_utc
),

supply as (
    select
        city_id,
        hour_utc,
        cast(sum(vehicles) as decimal(10, 1)) as competitor_vehicles,
        cast(sum(vehicles_available) as decimal(10, 1)) as competitor_vehicles_available,
        cast(count(*) as signed) as competitor_operators
    from supply_operators
    group by city_id, hour_utc
),

trips as (
    -- competitors' inferred trips (gbfs_trip_events), summed over systems, cells and form factors
    select
        city_id,
        hour_utc,
        cast(sum(trips_started) as signed) as competitor_trips_started
    from {{ ref('gbfs_trip_events') }}
    where
        city_id is not null
        and hour_utc >= {{ from_utc }}
        and hour_utc < timestampadd(hour, 1, {{ to_utc }})
    group by city_id, hour_utc
),

loaded as (
    -- the newest landing row among the inputs: the high-water mark stored with each row
    select max(loaded_at) as loaded_at
    from (
        select max(loaded_at) as loaded_at from {{ ref('weather_forecasts') }}
        union all
        select max(loaded_at) as loaded_at from {{ ref('flight_arrivals') }}
        union all
        select max(loaded_at) as loaded_at from {{ ref('int_aerodatabox__flight_boards') }}
        union all
        select max(loaded_at) as loaded_at from {{ ref('weather_hourly_forecasts') }}
        union all
        select max(loaded_at) as loaded_at from {{ ref('gbfs_availability') }}
        union all
        select max(loaded_at) as loaded_at from {{ ref('gbfs_trip_events') }}
    ) as newest
)

select
    all_hours.city_id,
    names.city_name,
    all_hours.hour_utc,
    cast(convert_tz(all_hours.hour_utc, 'UTC', zones.timezone) as date) as local_date,
    hour(convert_tz(all_hours.hour_utc, 'UTC', zones.timezone)) as local_hour,
    case when hourly.city_id is not null then 'open_meteo' else 'openweather' end as weather_source,
    hourly.model as weather_model,
    coalesce(hourly.forecast_hour_utc, forecasts.forecast_at_utc) as forecast_at_utc,
    coalesce(hourly.fetched_at_utc, forecasts.fetched_at_utc) as forecast_fetched_at_utc,
    case when hourly.city_id is not null then hourly.temperature_c else forecasts.temperature_c end as temperature_c,
    case when hourly.city_id is not null then hourly.apparent_temperature_c else forecasts.feels_like_c end
        as feels_like_c,
    case when hourly.city_id is null then forecasts.humidity_pct end as humidity_pct,
    case when hourly.city_id is not null then hourly.wind_speed_m_s else forecasts.wind_speed_m_s end as wind_speed_m_s,
    case when hourly.city_id is not null then hourly.wind_gust_m_s else forecasts.wind_gust_m_s end as wind_gust_m_s,
    case
        when hourly.city_id is not null then cast(hourly.precipitation_probability_pct / 100 as decimal(4, 3))
        else forecasts.precipitation_probability
    end as precipitation_probability,
    case
        when hourly.city_id is not null
            then cast(coalesce(hourly.rain_mm, 0) + coalesce(hourly.showers_mm, 0) as decimal(7, 2))
        else cast(round(forecasts.rain_3h_mm / 3, 2) as decimal(7, 2))
    end as rain_mm_per_h,
    case
        -- Open-Meteo's snowfall is in cm of snow; its water equivalent is what precipitation adds to rain and showers
        when hourly.city_id is not null
            then cast(
                greatest(
                    coalesce(hourly.precipitation_mm, 0) - coalesce(hourly.rain_mm, 0) - coalesce(hourly.showers_mm, 0),
                    0
                )
                as decimal(7, 2)
            )
        else cast(round(forecasts.snow_3h_mm / 3, 2) as decimal(7, 2))
    end as snow_mm_per_h,
    case when hourly.city_id is not null then hourly.cloud_cover_pct else forecasts.cloudiness_pct end
        as cloudiness_pct,
    case when hourly.city_id is not null then hourly.visibility_m else forecasts.visibility_m end as visibility_m,
    case
        when hourly.city_id is not null then {{ wmo_condition('hourly.weather_code') }}
        else forecasts.weather_condition
    end as weather_condition,
    case when hourly.city_id is null then forecasts.weather_condition_description end as weather_condition_description,
    hourly.weather_code,
    coalesce(arrivals.scheduled_arrivals, 0) as scheduled_arrivals,
    coalesce(arrivals.scheduled_passenger_arrivals, 0) as scheduled_passenger_arrivals,
    coalesce(arrivals.cancelled_arrivals, 0) as cancelled_arrivals,
    case when covered.city_id is not null then 1 else 0 end as has_flight_board,
    supply.competitor_vehicles,
    supply.competitor_vehicles_available,
    supply.competitor_operators,
    trips.competitor_trips_started,
    (select loaded.loaded_at from loaded) as loaded_at
from all_hours
left join hourly
    on
        all_hours.city_id = hourly.city_id
        and all_hours.hour_utc = hourly.forecast_hour_utc
left join zones
    on all_hours.city_id = zones.city_id
left join names
    on all_hours.city_id = names.city_id
-- noqa: disable=LT02
-- (to the end: a loop, whose rendered lines sqlfluff indents wrongly)
{%- for hourly_facts in ['hours', 'arrivals', 'covered', 'supply', 'trips'] %}
left join {{ hourly_facts }}
    on
        all_hours.city_id = {{ hourly_facts }}.city_id
        and all_hours.hour_utc = {{ hourly_facts }}.hour_utc
{%- endfor %}
left join {{ ref('weather_forecasts') }} as forecasts
    on
        hours.city_id = forecasts.city_id
        and hours.forecast_at_utc = forecasts.forecast_at_utc
