-- Arrivals counted in city_hourly_conditions equal the operated (non-codeshare)
-- flights at the city's airports in that hour, derived here independently of the
-- marts' rules: straight from the staged boards, one flight per airport, flight
-- number and scheduled UTC minute, its codeshare status from the latest fetch that
-- listed it (latest fetched_at, then highest landing id, by grouping rather than
-- the marts' row_number), the hour by date + hour() rather than date_format.
-- With var test_window_hours > 0, only the hours from the earliest flight on a
-- board landed in the window on are checked, against every board whose request
-- window reaches them (a day's margin for local time); every hour when none was.
with

bound as (
    -- the first hour to check: from the earliest flight on a board landed in the window
    select timestampadd(hour, -1, min(scheduled_arrival_utc)) as first_hour_utc
    from {{ ref('stg_aerodatabox__flights') }}
    where
        {{ var('test_window_hours') | int }} > 0
        and loaded_at_utc >= timestampadd(hour, -{{ var('test_window_hours') | int }}, utc_timestamp())
),

board_rows as (
    select
        flights.airport_icao,
        flights.flight_number,
        flights.scheduled_arrival_utc,
        flights.codeshare_status,
        flights.fetched_at_utc,
        flights.landing_id
    from {{ ref('stg_aerodatabox__flights') }} as flights
    where
        flights.scheduled_arrival_utc is not null
        and flights.window_to_local >= (
            select coalesce(timestampadd(day, -1, bound.first_hour_utc), cast('1000-01-01' as datetime))
            from bound
        )
),

latest_fetch as (
    select
        airport_icao,
        flight_number,
        scheduled_arrival_utc,
        max(fetched_at_utc) as fetched_at_utc
    from board_rows
    group by airport_icao, flight_number, scheduled_arrival_utc
),

latest_landing as (
    select
        board_rows.airport_icao,
        board_rows.flight_number,
        board_rows.scheduled_arrival_utc,
        max(board_rows.landing_id) as landing_id
    from board_rows
    inner join latest_fetch
        on
            board_rows.airport_icao = latest_fetch.airport_icao
            and board_rows.flight_number = latest_fetch.flight_number
            and board_rows.scheduled_arrival_utc = latest_fetch.scheduled_arrival_utc
            and board_rows.fetched_at_utc = latest_fetch.fetched_at_utc
    group by board_rows.airport_icao, board_rows.flight_number, board_rows.scheduled_arrival_utc
),

operated as (
    select
        board_rows.airport_icao,
        board_rows.flight_number,
        board_rows.scheduled_arrival_utc
    from board_rows
    inner join latest_landing
        on
            board_rows.airport_icao = latest_landing.airport_icao
            and board_rows.flight_number = latest_landing.flight_number
            and board_rows.scheduled_arrival_utc = latest_landing.scheduled_arrival_utc
            and board_rows.landing_id = latest_landing.landing_id
    group by board_rows.airport_icao, board_rows.flight_number, board_rows.scheduled_arrival_utc
    having sum(case when board_rows.codeshare_status = 'IsCodeshared' then 1 else 0 end) = 0
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
from {{ ref('city_hourly_conditions') }} as hourly
left join expected
    on
        hourly.city_id = expected.city_id
        and hourly.hour_utc = expected.hour_utc
where
    hourly.scheduled_arrivals <> coalesce(expected.arrivals, 0)
    and hourly.hour_utc >= (
        select coalesce(bound.first_hour_utc, cast('1000-01-01' as datetime)) from bound
    )
