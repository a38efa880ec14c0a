-- Arrivals counted in city_hourly_conditions equal the operated (non-codeshare)
-- flights at the city's airports in that hour, derived here independently of the
-- marts' rules: straight from the staged boards, one flight per airport, flight
-- number and scheduled UTC minute, its codeshare status from the latest fetch that
-- listed it (a correlated NOT EXISTS, not the marts' row_number), the hour by
-- date + hour() rather than date_format.
with

board_rows as (
    select
        airport_icao,
        flight_number,
        scheduled_arrival_utc,
        codeshare_status,
        fetched_at_utc,
        landing_id
    from {{ ref('stg_aerodatabox__flights') }}
    where scheduled_arrival_utc is not null
),

latest_rows as (
    select board_rows.*
    from board_rows
    where not exists (
        select 1
        from board_rows as later
        where
            later.airport_icao = board_rows.airport_icao
            and later.flight_number = board_rows.flight_number
            and later.scheduled_arrival_utc = board_rows.scheduled_arrival_utc
            and (
                later.fetched_at_utc > board_rows.fetched_at_utc
                or (
                    later.fetched_at_utc = board_rows.fetched_at_utc
                    and later.landing_id > board_rows.landing_id
                )
            )
    )
),

operated as (
    select
        airport_icao,
        flight_number,
        scheduled_arrival_utc
    from latest_rows
    group by airport_icao, flight_number, scheduled_arrival_utc
    having sum(case when codeshare_status = 'IsCodeshared' then 1 else 0 end) = 0
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
where hourly.scheduled_arrivals <> coalesce(expected.arrivals, 0)
