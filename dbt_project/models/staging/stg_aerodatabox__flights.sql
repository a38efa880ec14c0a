-- One row per flight on each fetched AeroDataBox FIDS board that could be staged, both
-- directions (`direction`: arrival or departure) and both shapes (legs or movement,
-- see base_aerodatabox__flights); the others are in landing_rejects. Flight numbers
-- as on the board ("FR 1143"); times to the minute, as served.
select
    landing_id,
    direction,
    board_index,
    airport_icao,
    window_from_local,
    window_to_local,
    fetched_at_utc,
    loaded_at,
    flight_shape,
    flight_number,
    scheduled_at_utc,
    scheduled_at_local,
    scheduled_utc_offset_min,
    revised_at_utc,
    revised_at_local,
    runway_at_utc,
    status,
    codeshare_status,
    is_cargo,
    remote_airport_icao,
    remote_airport_iata,
    remote_airport_name,
    airline_name,
    airline_iata,
    airline_icao,
    call_sign,
    aircraft_model,
    aircraft_registration,
    terminal
from {{ ref('base_aerodatabox__flights') }}
where reject_reason is null
