-- Arrivals counted in city_hourly_conditions equal the operated (non-codeshare)
-- flights at the city's airports in that hour, derived here independently of the
-- marts' rules: straight from the staged boards, one flight per airport, flight
-- number and scheduled UTC minute, its codeshare status from the latest fetch that
-- listed it (latest fetched_at, then highest landing id, by the greatest sort string
-- rather than the marts' row_number), the hour by date + hour() rather than date_format.
-- With var test_window_hours > 0, the hours checked are those from the earliest of
-- the hours recomputed in the window and the flights on boards landed in it (1 h
-- margin); none when nothing was. Expected counts come from every board with a
-- flight in those hours (int_aerodatabox__flight_boards spans pick the boards;
-- their flights are read from staging).
with

recomputed as (
    -- the earliest hour recomputed in the test window
    select min(hour_utc) as first_hour_utc
    from {{ ref('city_hourly_conditions') }}
    where {{ landed_in_test_window('source_loaded_at') }}
),

new_boards as (
    -- the hour before the earliest flight on a board landed in the test window
    select timestampadd(hour, -1, min(first_arrival_utc)) as first_hour_utc
    from {{ ref('int_aerodatabox__flight_boards') }}
    where {{ landed_in_test_window('landing_loaded_at') }}
),

bound as (
    -- the first hour to check (one row: the optimizer reads it as a constant)
    select
        {%- if var('test_window_hours') | int > 0 %}
            least(
                coalesce(recomputed.first_hour_utc, cast('9999-12-31' as datetime)),
                coalesce(new_boards.first_hour_utc, cast('9999-12-31' as datetime))
            ) as first_hour_utc
        {%- else %}
            cast('1000-01-01' as datetime) as first_hour_utc
        {%- endif %}
    from recomputed
    cross join new_boards
),

board_rows as (
    select
        flights.airport_icao,
        flights.flight_number,
        flights.scheduled_arrival_utc,
        flights.codeshare_status,
        flights.fetched_at_utc,
        flights.landing_id
    from bound
    inner join {{ ref('int_aerodatabox__flight_boards') }} as boards
        on bound.first_hour_utc <= boards.last_arrival_utc
    inner join {{ ref('stg_aerodatabox__flights') }} as flights
        on boards.landing_id = flights.landing_id
    where flights.scheduled_arrival_utc is not null
),

operated as (
    -- one row per flight; its codeshare status from the latest fetch that listed it:
    -- the greatest "fetched_at, landing id, codeshare flag" string, so a codeshare
    -- listing in the latest landing row wins (one pass, no self-joins)
    select
        airport_icao,
        flight_number,
        scheduled_arrival_utc
    from board_rows
    group by airport_icao, flight_number, scheduled_arrival_utc
    having right(max(concat(
        date_format(fetched_at_utc, '%Y%m%d%H%i%s%f'),
        lpad(landing_id, 20, '0'),
        case when codeshare_status = 'IsCodeshared' then '1' else '0' end
    )), 1) = '0'
),

expected as (
    select
        city_airports.city_id,
        timestampadd(
            hour, hour(operated.scheduled_arrival_utc), cast(date(operated.scheduled_arrival_utc) as datetime)
        ) as hour_utc,
        count(*) as arrivals
    from operated
    inner join {{ ref('city_airports') }} as city_airports
        on operated.airport_icao = city_airports.airport_icao
    group by city_airports.city_id, hour_utc
)

select
    hourly.city_id,
    hourly.hour_utc,
    hourly.scheduled_arrivals,
    expected.arrivals
from bound
inner join {{ ref('city_hourly_conditions') }} as hourly
    on bound.first_hour_utc <= hourly.hour_utc
left join expected
    on
        hourly.city_id = expected.city_id
        and hourly.hour_utc = expected.hour_utc
where hourly.scheduled_arrivals <> coalesce(expected.arrivals, 0)
