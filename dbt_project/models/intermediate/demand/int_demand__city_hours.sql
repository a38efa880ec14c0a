-- The hours the demand baseline reads, per city: the observed hours of the last
-- var('demand_history_weeks') weeks before the as-of hour (macro demand_as_of) and the
-- forecast hours of the var('demand_horizon_hours') after it, from city_hourly_conditions,
-- each classed by its weather and arrivals (the classes the factors are estimated on).
-- An hour is history when GBFS observed the city in it (competitor_vehicles not NULL):
-- an observed hour without inferred trips had none (0), an unobserved one is unknown.
with

zones as (
    {{ city_time_zones() }}
),

hours as (
    select
        conditions.city_id,
        cast(conditions.hour_utc as datetime) as hour_utc,
        {{ hour_of_week('conditions.hour_utc', 'zones.timezone') }} as hour_of_week,
        conditions.local_date,
        conditions.local_hour,
        conditions.temperature_c,
        conditions.rain_mm_per_h,
        conditions.scheduled_passenger_arrivals,
        conditions.competitor_vehicles,
        conditions.competitor_trips_started,
        case when conditions.hour_utc < {{ demand_as_of() }} then 1 else 0 end as is_past
    from {{ ref('city_hourly_conditions') }} as conditions
    inner join zones
        on conditions.city_id = zones.city_id
    where
        conditions.hour_utc >= timestampadd(week, -{{ var('demand_history_weeks') }}, {{ demand_as_of() }})
        and conditions.hour_utc < timestampadd(hour, {{ var('demand_horizon_hours') }}, {{ demand_as_of() }})
)

select
    city_id,
    hour_utc,
    hour_of_week,
    local_date,
    local_hour,
    temperature_c,
    rain_mm_per_h,
    scheduled_passenger_arrivals,
    is_past,
    case when is_past = 1 and competitor_vehicles is not null then 1 else 0 end as is_history,
    case
        when is_past = 1 and competitor_vehicles is not null then coalesce(competitor_trips_started, 0)
    end as trips_started,
    case when coalesce(rain_mm_per_h, 0) >= {{ var('demand_rain_mm_per_h') }} then 1 else 0 end as is_rain,
    case
        when temperature_c < {{ var('demand_cold_c') }} then 'cold'
        when temperature_c > {{ var('demand_hot_c') }} then 'hot'
        else 'mild'
    end as temperature_band,
    case
        when scheduled_passenger_arrivals >= {{ var('demand_busy_arrivals') }} then 1 else 0
    end as is_busy_arrivals
from hours
