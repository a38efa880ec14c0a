{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='flight_key',
        post_hook=[
            "{{ ensure_index('ix_flight_arrivals_key', 'flight_key(191)') }}",
            "{{ ensure_index('ix_flight_arrivals_airport_time', 'airport_icao(8), scheduled_arrival_utc') }}",
            "{{ ensure_index('ix_flight_arrivals_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_flight_arrivals_time', 'scheduled_arrival_utc') }}",
        ],
    )
}}
-- One row per arriving flight number at a board's airport and scheduled UTC time,
-- from the latest board fetch that listed it. Overlapping windows and repeated
-- fetches collapse to one row; codeshares stay separate rows (their own flight
-- numbers) marked by codeshare_status. Incremental like weather_forecasts.
with

new_flights as (
    select
        *,
        {{ as_text(
            "concat_ws('|', airport_icao, flight_number, date_format(scheduled_at_utc, '%Y-%m-%dT%H:%iZ'))"
        ) }} as flight_key,
        row_number() over (
            partition by airport_icao, flight_number, scheduled_at_utc
            order by fetched_at_utc desc, landing_id desc, board_index asc
        ) as recency_rank
    from {{ ref('stg_aerodatabox__flights') }}
    where direction = 'arrival'
        {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
)

select
    new_flights.flight_key,
    new_flights.airport_icao,
    new_flights.flight_number,
    new_flights.scheduled_at_utc as scheduled_arrival_utc,
    new_flights.scheduled_at_local as scheduled_arrival_local,
    new_flights.scheduled_utc_offset_min as scheduled_arrival_utc_offset_min,
    new_flights.revised_at_utc as revised_arrival_utc,
    new_flights.runway_at_utc as runway_arrival_utc,
    new_flights.status,
    new_flights.remote_airport_icao as origin_airport_icao,
    new_flights.remote_airport_iata as origin_airport_iata,
    new_flights.remote_airport_name as origin_airport_name,
    new_flights.airline_name,
    new_flights.airline_iata,
    new_flights.airline_icao,
    new_flights.aircraft_model,
    new_flights.is_cargo,
    new_flights.codeshare_status,
    new_flights.fetched_at_utc,
    new_flights.landing_id,
    new_flights.loaded_at
from new_flights
{{ latest_fetch_not_older_than_held('new_flights', ['flight_key']) }}
