{{ config(materialized='view') }}
-- Data health in one place: per source and UTC day of fetch, the responses landed
-- (and how many with HTTP 200/204), the records their payloads hold, how many were
-- staged and rejected, and the extraction errors of that day (requests that landed
-- nothing: gans_raw.extract_errors, by the day they occurred). A drop in records or
-- a rise in rejects or errors shows here before a model or a dashboard notices.
with

landed as (
    select
        source_name,
        cast(fetched_at_utc as date) as fetched_on,
        count(*) as responses_landed,
        sum(case when http_status in (200, 204) then 1 else 0 end) as responses_ok,
        sum(records_in_payload) as records_in_payload,
        sum(records_staged) as records_staged,
        sum(records_rejected) as records_rejected,
        0 as extract_errors
    from {{ ref('landing_reconciliation') }}
    group by source_name, cast(fetched_at_utc as date)
),

errors as (
    select
        {{ as_text('source') }} as source_name,
        cast(occurred_at as date) as fetched_on,
        0 as responses_landed,
        0 as responses_ok,
        0 as records_in_payload,
        0 as records_staged,
        0 as records_rejected,
        count(*) as extract_errors
    from {{ source('gans_raw', 'extract_errors') }}
    group by source, cast(occurred_at as date)
),

combined as (
    select * from landed
    union all
    select * from errors
)

select
    source_name,
    fetched_on,
    cast(sum(responses_landed) as signed) as responses_landed,
    cast(sum(responses_ok) as signed) as responses_ok,
    cast(sum(records_in_payload) as signed) as records_in_payload,
    cast(sum(records_staged) as signed) as records_staged,
    cast(sum(records_rejected) as signed) as records_rejected,
    cast(sum(extract_errors) as signed) as extract_errors
from combined
group by source_name, fetched_on
