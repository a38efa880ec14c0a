-- Every population figure (payload.populations) of every landed Wikipedia article
-- (HTTP 200), staged or not, with reject_reason saying why a figure cannot be staged
-- (NULL when it can): no value, a value that is no whole number of inhabitants, an
-- as-of date that is no calendar date. stg_wikipedia__populations keeps the figures
-- without a reason, landing_rejects the others.
{%- set checks = [
    ['population_text is null', 'value missing'],
    ['population_text is not null and population_value is null', '$.value not a number'],
    ['population_value not between 0 and 100000000000 or population_value <> floor(population_value)',
        '$.value not a count of inhabitants'],
    ['as_of_date is not null and not ' ~ is_iso_date('as_of_date'), '$.as_of_date not a date'],
    ['revision_id_value is null or revision_id_value not between 0 and 1e18', 'revision_id not a number'],
] %}
with

landing as (
    {{ base_landing_rows('wikipedia_city_pages', {
        'city_name': json_text('request_key', '$.city'),
        'revision_id_text': json_text('payload', '$.revision_id'),
    }) }}  -- noqa: LT02
),

figures as (
    select
        landing.*,
        figure.*,
        {{ json_number('figure.population_text') }} as population_value,
        {{ json_number('landing.revision_id_text') }} as revision_id_value
    from landing
    {{ base_landing_payload('wikipedia_city_pages') }}  -- noqa: LT02, LT05
    cross join
        json_table(
            raw_row.payload, '$.populations[*]' columns (
                figure_index for ordinality,
                {{ json_text_columns('kind, value as population_text, as_of_date, as_of_precision,
                    figure_type, label') }}
            )
        ) as figure
),

{{ base_checked('figures', checks) }}

select
    {{ base_record_columns(['figure_index'], "'$.populations'", base_city_keys()) }},
    {{ staged('cast(revision_id_value as unsigned)') }} as revision_id,
    {{ as_text('lower(kind)') }} as population_kind,
    {{ base_columns('staged', 'cast(population_value as unsigned) as population,
        cast(as_of_date as date) as population_as_of') }},
    {{ base_columns('text', 'lower(as_of_precision) as population_as_of_precision, lower(figure_type) as figure_type,
        label as infobox_label') }}
from checked
