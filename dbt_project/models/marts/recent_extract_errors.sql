{{ config(materialized='view') }}
-- The analyst's window on failed requests: the extraction errors of the last
-- var('recent_error_days') days (gans_raw.extract_errors, which the analyst cannot read).
-- A view: always current, and it runs with its definer's (the dbt user's)
-- rights. It carries the reason, never the response body; the extractor has already
-- replaced API keys in the message by *** (extract.http.redact).
select
    id as error_id,
    run_id,
    {{ as_text('source') }} as source_name,
    cast(request_key as char(1000)) as request_key,
    {{ as_text('error_type') }} as error_type,
    http_status,
    cast(left(message, 1000) as char(1000)) as reason,
    occurred_at as occurred_at_utc
from {{ source('gans_raw', 'extract_errors') }}
where occurred_at >= timestampadd(day, -{{ var('recent_error_days') }}, utc_timestamp())
