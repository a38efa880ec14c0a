-- Every population figure (payload.populations) of every landed Wikipedia article
-- (HTTP 200), staged or not, with reject_reason saying why a figure cannot be staged
-- (NULL when it can): no value, a value that is no whole number of inhabitants, an
-- as-of date that is no calendar date. stg_wikipedia__populations keeps the figures
-- without a reason, landing_rejects the others.
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        fetched_at as fetched_at_utc,
        loaded_at,
        {{ json_text('payload', '$.revision_id') }} as revision_id_text
    from {{ source('gans_raw', 'wikipedia_city_pages') }}
    where
        http_status = 200
        {{ new_landing_rows() }}  -- noqa: LT02
),

figures as (
    select
        landing.landing_id,
        landing.city_name,
        landing.fetched_at_utc,
        landing.loaded_at,
        landing.revision_id_text,
        figure.figure_index,
        figure.kind,
        figure.population_text,
        figure.as_of_date,
        figure.as_of_precision,
        figure.figure_type,
        figure.label,
        {{ json_number('figure.population_text') }} as population_value,
        {{ json_number('landing.revision_id_text') }} as revision_id_value
    from landing
    -- JSON_TABLE reads the landing table's own column: MySQL refuses it over a column
    -- of a CTE or derived table (error 1210), MariaDB accepts both
    inner join {{ source('gans_raw', 'wikipedia_city_pages') }} as raw_row
        on
            landing.landing_id = raw_row.id
            -- the same filter on this alias too: whichever join order the optimizer picks,
            -- JSON_TABLE never unpacks a landing row that is not new
            {{ new_landing_rows('raw_row.id', 'raw_row.loaded_at') }}  -- noqa: LT02
    cross join
        -- every value as text (numbers converted only when they are numbers, see defensive_casts)
        json_table(
            raw_row.payload, '$.populations[*]' columns (
                figure_index for ordinality,
                kind text path '$.kind' null on error,
                population_text text path '$.value' null on error,
                as_of_date text path '$.as_of_date' null on error,
                as_of_precision text path '$.as_of_precision' null on error,
                figure_type text path '$.figure_type' null on error,
                label text path '$.label' null on error
            )
        ) as figure
),

checked as (
    select
        *,
        {{ reject_reason([
            ['population_text is null', 'value missing'],
            ['population_text is not null and population_value is null', '$.value not a number'],
            ['population_value not between 0 and 100000000000 or population_value <> floor(population_value)',
                '$.value not a count of inhabitants'],
            ['as_of_date is not null and not ' ~ is_iso_date('as_of_date'), '$.as_of_date not a date'],
            ['revision_id_value is null or revision_id_value not between 0 and 1e18', 'revision_id not a number'],
        ]) }} as reject_reason,
        {{ keep_materialised('checked_row') }}
    from figures
)

select
    landing_id,
    figure_index,
    concat('$.populations[', figure_index - 1, ']') as record_path,
    reject_reason,
    {{ city_id('city_name') }} as city_id,
    city_name,
    fetched_at_utc,
    -- cast: MySQL gives a NOT NULL default-current_timestamp column through a window-ranked CTE a zero
    -- default its CREATE TABLE ... AS refuses (1067)
    cast(loaded_at as datetime(6)) as loaded_at,
    case when reject_reason is null then cast(revision_id_value as unsigned) end as revision_id,
    {{ as_text('lower(kind)') }} as population_kind,
    case when reject_reason is null then cast(population_value as unsigned) end as population,
    case when reject_reason is null then cast(as_of_date as date) end as population_as_of,
    {{ as_text('lower(as_of_precision)') }} as population_as_of_precision,
    {{ as_text('lower(figure_type)') }} as figure_type,
    {{ as_text('label') }} as infobox_label
from checked
