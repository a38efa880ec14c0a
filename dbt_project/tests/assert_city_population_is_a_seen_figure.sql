-- The headline population of a city is one of its figures in city_populations,
-- from the revision cities names.
select
    cities.city_id,
    cities.population,
    cities.wikipedia_revision_id
from {{ ref('cities') }} as cities
where
    cities.population is not null
    and not exists (
        select 1
        from {{ ref('city_populations') }} as figures
        where
            figures.city_id = cities.city_id
            and figures.population = cities.population
            and figures.population_kind = 'city'
            and figures.wikipedia_revision_id = cities.wikipedia_revision_id
    )
