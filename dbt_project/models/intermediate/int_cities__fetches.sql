{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['city_id', 'source_table'],
        post_hook=[
            "{{ ensure_index('ix_city_fetches_key', 'city_id, source_table') }}",
            "{{ ensure_index('ix_city_fetches_loaded', 'loaded_at') }}",
        ],
    )
}}
-- One row per city key and city-keyed landing table (openweather_forecasts,
-- aerodatabox_airports, wikipedia_city_pages): every city key ever landed, whatever
-- the response (the staging views drop rows: non-200 statuses, empty airport
-- searches, and must not drop cities), with its latest successful (HTTP 200) fetch.
-- Incremental: reads only the landing rows loaded since the newest one held (minus
-- the lookback) and merges them with the rows held for the same keys (only those
-- are replaced), so cities and int_cities__keys do not scan every forecast landed.
with

landed as (
    {%- for table in ['openweather_forecasts', 'aerodatabox_airports', 'wikipedia_city_pages'] %}
        {{ 'union all' if not loop.first }}
        select
            {{ as_text("'" ~ table ~ "'") }} as source_table,
            trim({{ json_text('request_key', '$.city') }}) as city_name,
            case when http_status = 200 then fetched_at end as fetched_at_utc,
            case when http_status = 200 then id end as landing_id,
            loaded_at
        from {{ source('gans_raw', table) }}
        where 1 = 1
            {{ incremental_landing_filter('loaded_at') }}  -- noqa: LT02
    {%- endfor %}
),

new_rows as (
    select
        {{ city_id('city_name') }} as city_id,
        source_table,
        city_name,
        fetched_at_utc,
        landing_id,
        loaded_at
    from landed
    where city_name is not null and city_name <> ''
),

keyed as (
    select * from new_rows
    {%- if is_incremental() %}
    union all
    -- what is held for the keys landed again: the merge keeps the earlier fetches' facts
    select
        held.city_id,
        held.source_table,
        held.city_name,
        held.last_fetched_at_utc as fetched_at_utc,
        held.last_landing_id as landing_id,
        held.loaded_at
    from {{ this }} as held
    inner join (select distinct city_id, source_table from new_rows) as new_keys
        on
            held.city_id = new_keys.city_id
            and held.source_table = new_keys.source_table
    {%- endif %}
),

ranked as (
    -- the latest successful fetch first (fetched_at, then the later landing row)
    select
        *,
        row_number() over (
            partition by city_id, source_table
            order by fetched_at_utc is null, fetched_at_utc desc, landing_id desc
        ) as recency_rank
    from keyed
),

per_key as (
    -- grouped, not min() / max() over (partition by ...): without an order, MariaDB
    -- computes such a window aggregate again for every row of its partition (a city's
    -- 365 daily forecasts: 87 s for a year of 100 cities, against 1 s grouped)
    select
        city_id,
        source_table,
        min(city_name) as first_city_name,
        max(loaded_at) as newest_loaded_at
    from keyed
    group by city_id, source_table
)

select
    ranked.city_id,
    ranked.source_table,
    per_key.first_city_name as city_name,
    ranked.fetched_at_utc as last_fetched_at_utc,
    ranked.landing_id as last_landing_id,
    per_key.newest_loaded_at as loaded_at
from ranked
inner join per_key
    on
        ranked.city_id = per_key.city_id
        and ranked.source_table = per_key.source_table
where ranked.recency_rank = 1
