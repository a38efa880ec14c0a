-- One row per city and population figure seen on Wikipedia (kind, census/estimate,
-- as-of date, value), with the revisions it was seen in.
with

figures as (
    select * from {{ ref('stg_wikipedia__populations') }}
),

keyed as (
    select
        *,
        sha2(concat_ws(
            '|', city_id, population_kind, coalesce(figure_type, '-'),
            coalesce(population_as_of, '-'), coalesce(population_as_of_precision, '-'), population
        ), 256) as population_figure_id,
        row_number() over (
            partition by city_id, population_kind, figure_type, population_as_of, population_as_of_precision, population
            order by fetched_at_utc desc, landing_id desc, figure_index asc
        ) as latest_rank
    from figures
),

seen as (
    select
        population_figure_id,
        min(fetched_at_utc) as first_seen_at_utc,
        max(fetched_at_utc) as last_seen_at_utc,
        count(distinct revision_id) as revisions_seen
    from keyed
    group by population_figure_id
)

select
    keyed.population_figure_id,
    keyed.city_id,
    keyed.population_kind,
    keyed.figure_type,
    keyed.population,
    keyed.population_as_of,
    keyed.population_as_of_precision,
    keyed.infobox_label,
    keyed.revision_id as wikipedia_revision_id,
    seen.first_seen_at_utc,
    seen.last_seen_at_utc,
    seen.revisions_seen
from keyed
inner join seen on keyed.population_figure_id = seen.population_figure_id
where keyed.latest_rank = 1
