-- Each city's headline population: from its latest article, the "city" figure with
-- the latest as-of date (undated figures last; ties: the first in the infobox).
with

latest_pages as (
    select landing_id from {{ ref('int_wikipedia__latest_city_pages') }}
),

ranked as (
    select
        figures.*,
        row_number() over (
            partition by figures.city_id
            order by
                figures.population_as_of is null,
                figures.population_as_of desc,
                figures.figure_index asc
        ) as pick_rank
    from {{ ref('stg_wikipedia__populations') }} as figures
    inner join latest_pages on figures.landing_id = latest_pages.landing_id
    where figures.population_kind = 'city'
)

select
    city_id,
    revision_id,
    population,
    population_as_of,
    population_as_of_precision,
    figure_type
from ranked
where pick_rank = 1
