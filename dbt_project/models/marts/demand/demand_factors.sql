-- Multiplicative factors of competitors' trip starts per city, estimated from the history
-- of int_demand__city_hours (the last var('demand_history_weeks') weeks):
--   base hours  = dry, mild (between demand_cold_c and demand_hot_c), without busy arrivals;
--   profile     = the city's mean trips per base hour, per local hour of the week;
--   a factor    = sum(trips) / sum(profile of the same hour of the week) over the history
--                 hours in its class whose other conditions are base (rain: rainy, mild, no
--                 busy arrivals; cold/hot: dry, no busy arrivals; arrivals: dry, mild);
--                 a ratio of sums, so the hours of the week with more trips weigh more.
-- sample_hours counts those hours (with a profile); with fewer than
-- var('demand_min_factor_hours') the factor applied is 1 (factor_applied).
with

history as (
    {{ demand_history_hours() }}
),

profile as (
    select
        city_id,
        hour_of_week,
        avg(trips_started) as trips_per_hour
    from history
    where is_rain = 0 and temperature_band = 'mild' and is_busy_arrivals = 0
    group by city_id, hour_of_week
),

classed as (
    select
        history.city_id,
        history.trips_started,
        profile.trips_per_hour,
        case
            when history.is_rain = 1 and history.temperature_band = 'mild' and history.is_busy_arrivals = 0
                then 'rain'
            when history.is_rain = 0 and history.temperature_band <> 'mild' and history.is_busy_arrivals = 0
                then history.temperature_band
            when history.is_rain = 0 and history.temperature_band = 'mild' and history.is_busy_arrivals = 1
                then 'arrivals'
        end as factor_name
    from history
    inner join profile
        on
            history.city_id = profile.city_id
            and history.hour_of_week = profile.hour_of_week
),

estimated as (
    select
        city_id,
        factor_name,
        cast(count(*) as signed) as sample_hours,
        sum(trips_started) as trips_observed,
        sum(trips_per_hour) as trips_expected
    from classed
    where factor_name is not null
    group by city_id, factor_name
),

cities as (
    select distinct city_id
    from history
),

names as (
    select 'rain' as factor_name
    union all
    select 'cold' as factor_name
    union all
    select 'hot' as factor_name
    union all
    select 'arrivals' as factor_name
)

select
    cities.city_id,
    names.factor_name,
    cast(coalesce(estimated.sample_hours, 0) as signed) as sample_hours,
    cast(coalesce(estimated.trips_observed, 0) as decimal(12, 1)) as trips_observed,
    cast(coalesce(estimated.trips_expected, 0) as decimal(12, 1)) as trips_expected,
    cast(
        case when estimated.trips_expected > 0 then estimated.trips_observed / estimated.trips_expected end
        as decimal(6, 3)
    ) as factor_estimated,
    cast(
        case
            when
                coalesce(estimated.sample_hours, 0) >= {{ var('demand_min_factor_hours') }}
                and estimated.trips_expected > 0
                then estimated.trips_observed / estimated.trips_expected
            else 1
        end as decimal(6, 3)
    ) as factor_applied
from cities
cross join names
left join estimated
    on
        cities.city_id = estimated.city_id
        and names.factor_name = estimated.factor_name
