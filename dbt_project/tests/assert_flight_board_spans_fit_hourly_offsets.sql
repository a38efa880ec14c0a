-- city_hourly_conditions marks the hours a board spans by adding 0 to 29 hours to
-- the hour of its first arrival (span_offsets): no board may span more. AeroDataBox
-- FIDS windows are 12 hours at most, so a longer span means a parsing or time zone
-- error. Checks the boards loaded in the test window (var test_window_hours; 0 = all).
select
    landing_id,
    airport_icao,
    first_arrival_utc,
    last_arrival_utc
from {{ ref('int_aerodatabox__flight_boards') }}
where
    timestampdiff(hour, first_arrival_utc, last_arrival_utc) > 28
    and {{ landed_in_test_window('loaded_at') }}
