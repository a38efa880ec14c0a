{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_name', 'landing_id'],
        post_hook=[
            "{{ ensure_index('ix_landing_reconciliation_key', 'source_name, landing_id') }}",
            "{{ ensure_index('ix_landing_reconciliation_loaded', 'loaded_at') }}",
        ],
    )
}}
-- Reconciliation: one row per landing row of every source, with the records its
-- payload holds (forecast slots in `list`; flights in `arrivals` plus `departures`;
-- airport `items`; Wikipedia `populations`), counted from the landing JSON itself,
-- and how many of them were staged and how many rejected. records_in_payload =
-- records_staged + records_rejected for every row (test
-- assert_landing_records_reconcile): nothing landed is lost silently. Responses
-- staging does not read (non-200; flights: non-200/204) hold no records.
-- Incremental: only landing rows loaded since the newest held (minus the lookback)
-- are counted; landing rows never change, so a row once counted stays true.
{%- set sources = [
    ['openweather', 'openweather_forecasts', 'stg_openweather__forecasts', [200], ['$.list']],
    ['aerodatabox_flights', 'aerodatabox_flights', 'stg_aerodatabox__flights', [200, 204], ['$.arrivals', '$.departures']],
    ['aerodatabox_airports', 'aerodatabox_airports', 'stg_aerodatabox__airports', [200], ['$.items']],
    ['wikipedia', 'wikipedia_city_pages', 'stg_wikipedia__populations', [200], ['$.populations']],
] %}
with

landed as (
    {%- for source_name, table, staging, statuses, arrays in sources %}
    {{ 'union all' if not loop.first }}
    select
        {{ as_text("'" ~ source_name ~ "'") }} as source_name,
        id as landing_id,
        http_status,
        fetched_at as fetched_at_utc,
        loaded_at,
        case when http_status in ({{ statuses | join(', ') }}) then
            {%- for path in arrays %}
            {{ '+ ' if not loop.first }}coalesce(json_length(payload, '{{ path }}'), 0)
            {%- endfor %}
        else 0 end as records_in_payload
    from {{ source('gans_raw', table) }}
    where 1 = 1
        {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
    {%- endfor %}
),

staged as (
    {%- for source_name, table, staging, statuses, arrays in sources %}
    {{ 'union all' if not loop.first }}
    select
        {{ as_text("'" ~ source_name ~ "'") }} as source_name,
        landing_id,
        count(*) as records
    from {{ ref(staging) }}
    where 1 = 1
        {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
    group by landing_id
    {%- endfor %}
),

rejected as (
    select
        source_name,
        landing_id,
        count(*) as records
    from {{ ref('landing_rejects') }}
    where 1 = 1
        {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
    group by source_name, landing_id
)

select
    landed.source_name,
    landed.landing_id,
    landed.http_status,
    landed.fetched_at_utc,
    landed.loaded_at,
    cast(landed.records_in_payload as signed) as records_in_payload,
    cast(coalesce(staged.records, 0) as signed) as records_staged,
    cast(coalesce(rejected.records, 0) as signed) as records_rejected
from landed
left join staged
    on
        landed.source_name = staged.source_name
        and landed.landing_id = staged.landing_id
left join rejected
    on
        landed.source_name = rejected.source_name
        and landed.landing_id = rejected.landing_id
