-- Scheduled local time minus its UTC offset is the scheduled UTC time.
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
