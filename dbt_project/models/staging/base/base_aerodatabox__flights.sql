-- Every flight of every AeroDataBox FIDS landing row (HTTP 200; a 204 board, payload
-- {}, has none), from both board arrays (`arrivals` and `departures`: a board asked
-- without `direction` holds both), staged or not, with reject_reason saying why a
-- flight cannot be staged (NULL when it can). stg_aerodatabox__flights keeps those
-- without a reason, landing_rejects the others.
-- Shapes: with withLeg=true a flight has `departure` and `arrival`, the board's own
-- side being the one named by the array (arrival on `arrivals`); with withLeg=false
-- (the default when withLeg is not sent) it has `movement` instead: the times at the
-- board's airport, and `movement.airport` the other end of the flight (the origin on
-- an arrivals board). Times are nested (scheduledTime.utc, 2024 on) or flat
-- (scheduledTimeUtc, 2022, and the 2023 movement hybrid); the leg's nested time
-- first, then its flat one, then the movement's.
{%- set boards = [
    {'direction': 'arrival', 'array': 'arrivals', 'own': 'arrival', 'remote': 'departure'},
    {'direction': 'departure', 'array': 'departures', 'own': 'departure', 'remote': 'arrival'},
] %}
{%- set times = [
    ['scheduled_utc', 'scheduledTime', 'utc', 'Utc'],
    ['scheduled_local', 'scheduledTime', 'local', 'Local'],
    ['revised_utc', 'revisedTime', 'utc', 'Utc'],
    ['revised_local', 'revisedTime', 'local', 'Local'],
    ['runway_utc', 'runwayTime', 'utc', 'Utc'],
] %}
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

flights as (
    {%- for board in boards %}
    {{ 'union all' if not loop.first }}
    select
        landing.landing_id,
        '{{ board.direction }}' as direction,
        '{{ board.array }}' as board_array,
        landing.airport_icao,
        landing.window_from_local,
        landing.window_to_local,
        landing.fetched_at_utc,
        landing.loaded_at,
        flight.board_index,
        flight.has_leg,
        flight.has_movement,
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
        coalesce(flight.remote_icao_leg, flight.remote_icao_movement) as remote_icao,
        coalesce(flight.remote_iata_leg, flight.remote_iata_movement) as remote_iata,
        coalesce(flight.remote_name_leg, flight.remote_name_movement) as remote_name,
        coalesce(flight.terminal_leg, flight.terminal_movement) as terminal,
        {%- for name, field, nested, flat in times %}
        coalesce(
            flight.{{ name }}_leg_nested, flight.{{ name }}_leg_flat,
            flight.{{ name }}_movement_nested, flight.{{ name }}_movement_flat
        ) as {{ name }}_text{{ ',' if not loop.last }}
        {%- endfor %}
    from landing
    -- strings as text, so no long value is cut (MariaDB) or rejected (MySQL 8)
    cross join json_table(
        landing.payload, '$.{{ board.array }}[*]' columns (
            board_index for ordinality,
            has_leg int exists path '$.{{ board.own }}',
            has_movement int exists path '$.movement',
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
            remote_icao_leg text path '$.{{ board.remote }}.airport.icao' null on error,
            remote_iata_leg text path '$.{{ board.remote }}.airport.iata' null on error,
            remote_name_leg text path '$.{{ board.remote }}.airport.name' null on error,
            remote_icao_movement text path '$.movement.airport.icao' null on error,
            remote_iata_movement text path '$.movement.airport.iata' null on error,
            remote_name_movement text path '$.movement.airport.name' null on error,
            terminal_leg text path '$.{{ board.own }}.terminal' null on error,
            terminal_movement text path '$.movement.terminal' null on error,
            {%- for name, field, nested, flat in times %}
            {{ name }}_leg_nested text path '$.{{ board.own }}.{{ field }}.{{ nested }}' null on error,
            {{ name }}_leg_flat text path '$.{{ board.own }}.{{ field }}{{ flat }}' null on error,
            {{ name }}_movement_nested text path '$.movement.{{ field }}.{{ nested }}' null on error,
            {{ name }}_movement_flat text path '$.movement.{{ field }}{{ flat }}' null on error{{ ',' if not loop.last }}
            {%- endfor %}
        )
    ) as flight
    {%- endfor %}
),

checked as (
    select
        *,
        {{ adb_offset_minutes('scheduled_local_text') }} as scheduled_offset_min,
        {%- set checks = [
            ['coalesce(has_leg, 0) = 0 and coalesce(has_movement, 0) = 0', 'unknown shape: neither the board side nor movement'],
            ['flight_number is null', 'number missing'],
            ['scheduled_utc_text is null and scheduled_local_text is null', 'scheduled time missing'],
            ['scheduled_utc_text is null and scheduled_local_text is not null and '
                ~ adb_offset_minutes('scheduled_local_text') ~ ' is null', 'scheduled local time without UTC offset'],
        ] %}
        {%- for name, field, nested, flat in times %}
            {%- do checks.append([name ~ '_text is not null and not ' ~ is_adb_time(name ~ '_text'), field ~ '.' ~ nested ~ ' not a valid time']) %}
        {%- endfor %}
        {{ reject_reason(checks) }} as reject_reason
    from flights
),

typed as (
    select
        *,
        -- guarded: str_to_date only on text that is a valid time (else an error in strict mode)
        {%- for name, field, nested, flat in times %}
        case when reject_reason is null then {{ adb_wall_clock(name ~ '_text') }} end as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from checked
)

select
    landing_id,
    direction,
    board_index,
    concat('$.', board_array, '[', board_index - 1, ']') as record_path,
    reject_reason,
    airport_icao,
    str_to_date(window_from_local, '%Y-%m-%dT%H:%i') as window_from_local,
    str_to_date(window_to_local, '%Y-%m-%dT%H:%i') as window_to_local,
    fetched_at_utc,
    loaded_at,
    case when has_leg = 1 then 'leg' else 'movement' end as flight_shape,
    {{ as_text('flight_number') }} as flight_number,
    -- UTC as served; when only the local time was served, local minus its offset
    coalesce(scheduled_utc, timestampadd(minute, -scheduled_offset_min, scheduled_local)) as scheduled_at_utc,
    scheduled_local as scheduled_at_local,
    scheduled_offset_min as scheduled_utc_offset_min,
    revised_utc as revised_at_utc,
    revised_local as revised_at_local,
    runway_utc as runway_at_utc,
    {{ as_text('status') }} as status,
    {{ as_text('codeshare_status') }} as codeshare_status,
    case lower(is_cargo) when 'true' then 1 when 'false' then 0 end as is_cargo,
    {{ as_text('upper(remote_icao)') }} as remote_airport_icao,
    {{ as_text('upper(remote_iata)') }} as remote_airport_iata,
    {{ as_text('remote_name') }} as remote_airport_name,
    {{ as_text('airline_name') }} as airline_name,
    {{ as_text('airline_iata') }} as airline_iata,
    {{ as_text('airline_icao') }} as airline_icao,
    {{ as_text('call_sign') }} as call_sign,
    {{ as_text('aircraft_model') }} as aircraft_model,
    {{ as_text('aircraft_registration') }} as aircraft_registration,
    {{ as_text('terminal') }} as terminal
from typed
