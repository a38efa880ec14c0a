-- Where to put scooters tomorrow: per tracked city and period of the first local day
-- after the as-of hour (morning: local hours 6-9, evening: 16-19), every cell of
-- demand_baseline ranked by expected_gap = the competitors' trips expected to start in
-- the cell over the period's hours (demand_baseline) minus the vehicles they are expected
-- to have available there (gbfs_availability: the city's mean over the history's
-- 15-minute buckets of those local hours, summed over systems, in the last
-- var('demand_history_weeks') weeks). Rank 1 is the cell where demand most exceeds supply.
with

zones as (
    {{ city_time_zones() }}
),

periods as (
    select
        'morning' as period,
        6 as first_local_hour,
        9 as last_local_hour
    union all
    select
        'evening' as period,
        16 as first_local_hour,
        19 as last_local_hour
),

tomorrow as (
    select
        zones.city_id,
        cast(convert_tz({{ demand_as_of() }}, 'UTC', zones.timezone) as date) + interval 1 day as local_date
    from zones
),

demand as (
    select
        baseline.city_id,
        baseline.local_date,
        periods.period,
        baseline.cell_row,
        baseline.cell_col,
        count(*) as hours,
        sum(baseline.expected_trips_started) as expected_trips_started,
        max(baseline.profile_source) as profile_source
    from {{ ref('demand_baseline') }} as baseline
    inner join tomorrow
        on
            baseline.city_id = tomorrow.city_id
            and baseline.local_date = tomorrow.local_date
    inner join periods
        on baseline.local_hour between periods.first_local_hour and periods.last_local_hour
    group by baseline.city_id, baseline.local_date, periods.period, baseline.cell_row, baseline.cell_col
),

buckets as (
    -- the history's availability rows, with their period
    select
        availability.city_id,
        availability.bucket_start_utc,
        availability.cell_row,
        availability.cell_col,
        availability.vehicles_available_avg,
        periods.period
    from {{ ref('gbfs_availability') }} as availability
    inner join zones
        on availability.city_id = zones.city_id
    inner join periods
        on
            hour(convert_tz(availability.bucket_start_utc, 'UTC', zones.timezone))
            between periods.first_local_hour and periods.last_local_hour
    where
        availability.bucket_start_utc >= timestampadd(week, -{{ var('demand_history_weeks') }}, {{ demand_as_of() }})
        and availability.bucket_start_utc < {{ demand_as_of() }}
),

observed as (
    select
        city_id,
        period,
        count(distinct bucket_start_utc) as bucket_count
    from buckets
    group by city_id, period
),

supply as (
    select
        buckets.city_id,
        buckets.period,
        buckets.cell_row,
        buckets.cell_col,
        sum(buckets.vehicles_available_avg) / max(observed.bucket_count) as vehicles_available
    from buckets
    inner join observed
        on
            buckets.city_id = observed.city_id
            and buckets.period = observed.period
    group by buckets.city_id, buckets.period, buckets.cell_row, buckets.cell_col
),

gaps as (
    select
        demand.city_id,
        demand.local_date,
        demand.period,
        demand.cell_row,
        demand.cell_col,
        demand.hours,
        demand.profile_source,
        demand.expected_trips_started,
        coalesce(supply.vehicles_available, 0) as expected_vehicles_available,
        demand.expected_trips_started - coalesce(supply.vehicles_available, 0) as expected_gap
    from demand
    left join supply
        on
            demand.city_id = supply.city_id
            and demand.period = supply.period
            and demand.cell_row = supply.cell_row
            and demand.cell_col = supply.cell_col
)

select
    city_id,
    local_date,
    {{ as_text('period') }} as period,
    cast(row_number() over (
        partition by city_id, local_date, period
        order by expected_gap desc, expected_trips_started desc, cell_row asc, cell_col asc
    ) as signed) as placement_rank,
    cell_row,
    cell_col,
    cast(hours as signed) as hours,
    {{ as_text('profile_source') }} as profile_source,
    cast(expected_trips_started as decimal(10, 2)) as expected_trips_started,
    cast(expected_vehicles_available as decimal(10, 2)) as expected_vehicles_available,
    cast(expected_gap as decimal(10, 2)) as expected_gap
from gaps
