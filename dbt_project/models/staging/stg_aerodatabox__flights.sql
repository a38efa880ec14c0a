-- One row per arriving flight on each fetched AeroDataBox FIDS board (arrivals only).
-- Flat (scheduledTimeUtc, 2022) and nested (scheduledTime.utc, 2024 on) time fields
-- are coalesced; keys left out by the API come out NULL. Flight numbers are kept as
-- on the board ("FR 1143"). A 204 response (payload {}) yields no rows.
with

landing as (
    select
        id as landing_id,
        {{ as_text("upper(" ~ json_text('request_key', '$.airport_icao') ~ ")") }} as airport_icao,
        {{ json_text('request_key', '$.from_local') }} as window_from_local,
        {{ json_text('request_key', '$.to_local') }} as window_to_local,
        fetched_at as fetched_at_utc,
        loaded_at,
        payload
    from {{ source('gans_raw', 'aerodatabox_flights') }}
    where http_status in (200, 204)
),

arrivals as (
    select
        landing.landing_id,
        landing.airport_icao,
        landing.window_from_local,
        landing.window_to_local,
        landing.fetched_at_utc,
        landing.loaded_at,
        flight.board_index,
        flight.flight_number,
        flight.call_sign,
        flight.status,
        flight.codeshare_status,
        flight.is_cargo,
        flight.aircraft_model,
        flight.aircraft_registration,
        flight.airline_name,
        flight.airline_iata,
        flight.airline_icao,
        flight.origin_icao,
        flight.origin_iata,
        flight.origin_name,
        flight.terminal,
        coalesce(flight.sched_utc_nested, flight.sched_utc_flat) as scheduled_utc_text,
        coalesce(flight.sched_local_nested, flight.sched_local_flat) as scheduled_local_text,
        coalesce(flight.revised_utc_nested, flight.revised_utc_flat) as revised_utc_text,
        coalesce(flight.revised_local_nested, flight.revised_local_flat) as revised_local_text,
        coalesce(flight.runway_utc_nested, flight.runway_utc_flat) as runway_utc_text
    from landing
    -- JSON_TABLE columns: strings as text, so no long value is cut (MariaDB) or
    -- rejected (MySQL 8); null on error: a value that does not convert is NULL on
    -- MySQL 8 (MariaDB converts it with a warning, e.g. 'abc' -> 0).
    cross join json_table(
        landing.payload, '$.arrivals[*]' columns (
            board_index for ordinality,
            flight_number text path '$.number' null on error,
            call_sign text path '$.callSign' null on error,
            status text path '$.status' null on error,
            codeshare_status text path '$.codeshareStatus' null on error,
            is_cargo text path '$.isCargo' null on error,
            aircraft_model text path '$.aircraft.model' null on error,
            aircraft_registration text path '$.aircraft.reg' null on error,
            airline_name text path '$.airline.name' null on error,
            airline_iata text path '$.airline.iata' null on error,
            airline_icao text path '$.airline.icao' null on error,
            origin_icao text path '$.departure.airport.icao' null on error,
            origin_iata text path '$.departure.airport.iata' null on error,
            origin_name text path '$.departure.airport.name' null on error,
            terminal text path '$.arrival.terminal' null on error,
            sched_utc_nested text path '$.arrival.scheduledTime.utc' null on error,
            sched_utc_flat text path '$.arrival.scheduledTimeUtc' null on error,
            sched_local_nested text path '$.arrival.scheduledTime.local' null on error,
            sched_local_flat text path '$.arrival.scheduledTimeLocal' null on error,
            revised_utc_nested text path '$.arrival.revisedTime.utc' null on error,
            revised_utc_flat text path '$.arrival.revisedTimeUtc' null on error,
            revised_local_nested text path '$.arrival.revisedTime.local' null on error,
            revised_local_flat text path '$.arrival.revisedTimeLocal' null on error,
            runway_utc_nested text path '$.arrival.runwayTime.utc' null on error,
            runway_utc_flat text path '$.arrival.runwayTimeUtc' null on error
        )
    ) as flight
),

typed as (
    select
        *,
        {{ adb_wall_clock('scheduled_local_text') }} as scheduled_local,
        {{ adb_offset_minutes('scheduled_local_text') }} as scheduled_offset_min,
        {{ adb_wall_clock('scheduled_utc_text') }} as scheduled_utc
    from arrivals
)

select
    landing_id,
    board_index,
    airport_icao,
    str_to_date(window_from_local, '%Y-%m-%dT%H:%i') as window_from_local,
    str_to_date(window_to_local, '%Y-%m-%dT%H:%i') as window_to_local,
    fetched_at_utc,
    loaded_at,
    {{ as_text('flight_number') }} as flight_number,
    -- UTC as served; when only the local time was served, local minus its offset
    coalesce(
        scheduled_utc, timestampadd(minute, -scheduled_offset_min, scheduled_local)
    ) as scheduled_arrival_utc,
    scheduled_local as scheduled_arrival_local,
    scheduled_offset_min as scheduled_arrival_utc_offset_min,
    {{ adb_wall_clock('revised_utc_text') }} as revised_arrival_utc,
    {{ adb_wall_clock('revised_local_text') }} as revised_arrival_local,
    {{ adb_wall_clock('runway_utc_text') }} as runway_arrival_utc,
    {{ as_text('status') }} as status,
    {{ as_text('codeshare_status') }} as codeshare_status,
    case lower(is_cargo) when 'true' then 1 when 'false' then 0 end as is_cargo,
    {{ as_text('upper(origin_icao)') }} as origin_airport_icao,
    {{ as_text('upper(origin_iata)') }} as origin_airport_iata,
    {{ as_text('origin_name') }} as origin_airport_name,
    {{ as_text('airline_name') }} as airline_name,
    {{ as_text('airline_iata') }} as airline_iata,
    {{ as_text('airline_icao') }} as airline_icao,
    {{ as_text('call_sign') }} as call_sign,
    {{ as_text('aircraft_model') }} as aircraft_model,
    {{ as_text('aircraft_registration') }} as aircraft_registration,
    {{ as_text('terminal') }} as arrival_terminal
from typed
where flight_number is not null
