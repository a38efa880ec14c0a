{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_flight_boards_landing', 'landing_id') }}",
            "{{ ensure_index('ix_flight_boards_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_flight_boards_last_arrival', 'last_arrival_utc') }}",
        ],
    )
}}
-- One row per fetched arrivals board (landing row) with at least one arriving flight:
-- its airport and the UTC span of its scheduled arrivals. Incremental: unnests only
-- the boards loaded since the newest one held (minus the lookback), so
-- city_hourly_conditions need not unnest every board landed.
select
    landing_id,
    airport_icao,
    min(scheduled_at_utc) as first_arrival_utc,
    max(scheduled_at_utc) as last_arrival_utc,
    max(fetched_at_utc) as fetched_at_utc,
    max(loaded_at) as loaded_at
from {{ ref('stg_aerodatabox__flights') }}
where direction = 'arrival'
    {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
group by landing_id, airport_icao
