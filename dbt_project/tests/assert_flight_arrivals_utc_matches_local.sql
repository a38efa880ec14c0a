-- Scheduled local time minus its UTC offset is the scheduled UTC time. Checks the
-- rows loaded in the test window (var test_window_hours; 0 = all history).
select
    flight_key,
    scheduled_arrival_utc,
    scheduled_arrival_local,
    scheduled_arrival_utc_offset_min
from {{ ref('flight_arrivals') }}
where
    scheduled_arrival_local is not null
    and timestampdiff(minute, scheduled_arrival_utc, scheduled_arrival_local)
    <> scheduled_arrival_utc_offset_min
    and {{ landed_in_test_window('loaded_at') }}
