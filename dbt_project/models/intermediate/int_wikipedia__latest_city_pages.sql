-- The most recently fetched Wikipedia article of each city (ties: the later landing row).
with

ranked as (
    select
        *,
        row_number() over (
            partition by city_id order by fetched_at_utc desc, landing_id desc
        ) as recency_rank
    from {{ ref('stg_wikipedia__city_pages') }}
)

select
    landing_id,
    city_id,
    city_name,
    fetched_at_utc,
    page_title,
    page_url,
    revision_id,
    country,
    latitude,
    longitude
from ranked
where recency_rank = 1
