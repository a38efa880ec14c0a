-- One row per airport found by any airport search, as in its latest search result.
-- timezone: the latest one AeroDataBox served (only sent from 2024-09), else the
-- tracked city's whose search found the airport (timezone_source says which).
with

ranked as (
    select
        *,
        row_number() over (
            partition by airport_icao order by fetched_at_utc desc, landing_id desc, search_rank asc
        ) as recency_rank,
        row_number() over (
            partition by airport_icao order by timezone is null, fetched_at_utc desc, landing_id desc
        ) as timezone_rank
    from {{ ref('stg_aerodatabox__airports') }}
),

served_timezone as (
    select
        airport_icao,
        timezone
    from ranked
    where timezone_rank = 1 and timezone is not null
),

city_timezone as (
    select
        ranked.airport_icao,
        min({{ as_text('tracked.timezone') }}) as timezone
    from ranked
    inner join {{ ref('tracked_cities') }} as tracked
        on ranked.city_id = {{ city_id('tracked.city_name') }}
    group by ranked.airport_icao
)

select
    ranked.airport_icao,
    ranked.airport_iata,
    ranked.airport_name,
    ranked.airport_short_name,
    ranked.municipality_name,
    ranked.country_code,
    ranked.latitude,
    ranked.longitude,
    ranked.fetched_at_utc,
    coalesce(served_timezone.timezone, city_timezone.timezone) as timezone,
    case
        when served_timezone.timezone is not null then 'aerodatabox'
        when city_timezone.timezone is not null then 'tracked_city'
    end as timezone_source
from ranked
left join served_timezone on ranked.airport_icao = served_timezone.airport_icao
left join city_timezone on ranked.airport_icao = city_timezone.airport_icao
where ranked.recency_rank = 1
