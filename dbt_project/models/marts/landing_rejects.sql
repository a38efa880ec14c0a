{{ config(materialized='view') }}
-- One row per landed record that could not be staged: which landing row and where in
-- its payload (JSON path), why (the reasons, "; "-separated), and the record as
-- landed. Every other record of the same response is staged: a reject never stops
-- the rest. A view over the base models' tables (nothing to rebuild), reading their
-- reject_reason indexes; only a reject's own record is read out of its landing row.
{#- every source's base models: macro landing_sources #}
{%- set bases = [] %}
{%- for landing in landing_sources() %}
    {%- for base, _staging in landing.models %}
        {%- do bases.append([landing.source, base, landing.table]) %}
    {%- endfor %}
{%- endfor %}
{%- for source_name, base, table in bases %}
    {{ 'union all' if not loop.first }}
    select
        {{ as_text("'" ~ source_name ~ "'") }} as source_name,
        base.landing_id,
        {{ as_text('base.record_path') }} as record_path,
        {{ as_text('base.reject_reason') }} as reject_reason,
        base.fetched_at_utc,
        base.loaded_at,
        {{ as_text('json_extract(landing.payload, base.record_path)') }} as record_json
    from {{ ref(base) }} as base
    inner join {{ source('gans_raw', table) }} as landing on base.landing_id = landing.id
    where base.reject_reason is not null
{%- endfor %}
