-- How good the baseline is, per tracked city and past local day of the history
-- (int_demand__city_hours): each observed hour of the day is predicted the way
-- demand_baseline predicts, from the weeks before that day only (the city's mean trips
-- per base hour of the same local hour of the week over the var('demand_history_weeks')
-- weeks before the day, times the applied factors of the hour's conditions: the factors
-- are today's, estimated over the whole history, so they are in-sample), and by the
-- seasonal-naive forecast (the trips of the same hour one week earlier). City totals
-- (all cells). mae = mean absolute error in trips per hour; scaled_error = mae /
-- naive_mae (MASE-like: below 1 the baseline beats "same hour last week"). A day counts
-- with at least 12 hours having both predictions.
with

city_hours as (
    {{ demand_history_hours() }}
),

factors as (
    {{ demand_applied_factors() }}
),

predicted as (
    -- each hour's rolling profile: base hours of the same hour of the week before its local day
    select
        target.city_id,
        target.hour_utc,
        avg(earlier.trips_started) as profile_trips
    from city_hours as target
    inner join city_hours as earlier
        on
            target.city_id = earlier.city_id
            and target.hour_of_week = earlier.hour_of_week
            and earlier.hour_utc < timestampadd(hour, -target.local_hour, target.hour_utc)
            and earlier.hour_utc >= timestampadd(week, -{{ var('demand_history_weeks') }}, target.hour_utc)
    where earlier.is_rain = 0 and earlier.temperature_band = 'mild' and earlier.is_busy_arrivals = 0
    group by target.city_id, target.hour_utc
),

scored as (
    select
        city_hours.city_id,
        city_hours.local_date,
        city_hours.trips_started,
        last_week.trips_started as naive_trips,
        predicted.profile_trips * {{ demand_conditions_factor('city_hours') }} as baseline_trips
    from city_hours
    inner join predicted
        on
            city_hours.city_id = predicted.city_id
            and city_hours.hour_utc = predicted.hour_utc
    inner join city_hours as last_week
        on
            city_hours.city_id = last_week.city_id
            and last_week.hour_utc = timestampadd(week, -1, city_hours.hour_utc)
    left join factors
        on city_hours.city_id = factors.city_id
)

select
    city_id,
    local_date,
    cast(count(*) as signed) as hours_scored,
    cast(sum(trips_started) as signed) as trips_observed,
    cast(avg(abs(baseline_trips - trips_started)) as decimal(10, 3)) as mae,
    cast(avg(abs(naive_trips - trips_started)) as decimal(10, 3)) as naive_mae,
    cast(
        avg(abs(baseline_trips - trips_started)) / nullif(avg(abs(naive_trips - trips_started)), 0)
        as decimal(8, 3)
    ) as scaled_error
from scored
group by city_id, local_date
having count(*) >= 12
