-- One row per population figure in each landed Wikipedia article.
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        fetched_at as fetched_at_utc,
        loaded_at,
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
    landing.loaded_at,
    landing.revision_id,
    {{ as_text('lower(figure.kind)') }} as population_kind,
    cast(figure.population_value as unsigned) as population,
    cast(figure.as_of_date as date) as population_as_of,
    {{ as_text('lower(figure.as_of_precision)') }} as population_as_of_precision,
    {{ as_text('lower(figure.figure_type)') }} as figure_type,
    {{ as_text('figure.label') }} as infobox_label
from landing
cross join
    -- JSON_TABLE columns: strings as text, so no long value is cut (MariaDB) or
    -- rejected (MySQL 8); null on error: a value that does not convert is NULL on
    -- MySQL 8 (MariaDB converts it with a warning, e.g. 'abc' -> 0).
    json_table(
        landing.payload, '$.populations[*]' columns (
            figure_index for ordinality,
            kind text path '$.kind' null on error,
            population_value bigint path '$.value' null on error,
            as_of_date text path '$.as_of_date' null on error,
            as_of_precision text path '$.as_of_precision' null on error,
            figure_type text path '$.figure_type' null on error,
            label text path '$.label' null on error
        )
    ) as figure
where figure.population_value is not null
