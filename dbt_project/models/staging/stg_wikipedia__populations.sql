-- One row per population figure in each landed Wikipedia article that could be staged
-- (see base_wikipedia__populations); the others are in landing_rejects.
select
    landing_id,
    figure_index,
    city_id,
    city_name,
    fetched_at_utc,
    loaded_at,
    revision_id,
    population_kind,
    population,
    population_as_of,
    population_as_of_precision,
    figure_type,
    infobox_label
from {{ ref('base_wikipedia__populations') }}
where reject_reason is null
