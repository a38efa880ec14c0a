-- One row per population figure in each landed Wikipedia article.
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        fetched_at as fetched_at_utc,
        loaded_at as loaded_at_utc,
        cast({{ json_text('payload', '$.revision_id') }} as unsigned) as revision_id,
        payload
    from {{ source('gans_raw', 'wikipedia_city_pages') }}
    where http_status = 200
)

select
    landing.landing_id,
    figure.figure_index,
    {{ city_id('landing.city_name') }} as city_id,
    landing.city_name,
    landing.fetched_at_utc,
    landing.loaded_at_utc,
    landing.revision_id,
    {{ as_text('lower(figure.kind)') }} as population_kind,
    cast(figure.population_value as unsigned) as population,
    cast(figure.as_of_date as date) as population_as_of,
    {{ as_text('lower(figure.as_of_precision)') }} as population_as_of_precision,
    {{ as_text('lower(figure.figure_type)') }} as figure_type,
    {{ as_text('figure.label') }} as infobox_label
from landing
cross join
    json_table(
        landing.payload, '$.populations[*]' columns (
            figure_index for ordinality,
            kind varchar(16) path '$.kind',
            population_value bigint path '$.value',
            as_of_date varchar(10) path '$.as_of_date',
            as_of_precision varchar(8) path '$.as_of_precision',
            figure_type varchar(16) path '$.figure_type',
            label varchar(255) path '$.label'
        )
    ) as figure
where figure.population_value is not null
