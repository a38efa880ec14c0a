{{ config(post_hook=["{{ gbfs_retention_delete() }}"]) }}
-- noqa: disable=LT02,LT05
-- Every station of every GBFS station_status document (HTTP 200, `data.stations`: docked,
-- station-based systems), staged or not: values converted defensively (NULL instead of an
-- error) and reject_reason saying why a station cannot be staged (NULL when it can).
-- stg_gbfs__station_status keeps the stations without a reason, landing_rejects the others.
-- Parsed once, like base_gbfs__vehicles: incremental, only the landing rows loaded since the
-- newest held (minus the lookback) and not held yet; rows kept var gbfs_retention_days.
-- Vehicles available: num_bikes_available (v1.x/v2.x: vehicles of any type, despite its
-- name), else num_vehicles_available (v3.x's name; v2.3 publishes both).
{%- set checks = [
    ['station_id is null or station_id = \'\'', 'station id missing'],
    ['char_length(station_id) > 200', 'station id longer than 200 characters'],
    ['bikes_text is null and vehicles_text is null', 'num_bikes_available missing'],
    ['coalesce(bikes_text, vehicles_text) is not null and vehicles_value is null', 'num_bikes_available not a number'],
    ['vehicles_value <> floor(vehicles_value) or vehicles_value not between 0 and 100000', 'num_bikes_available not a count'],
    ['docks_text is not null and docks_value is null', 'num_docks_available not a number'],
    ['docks_value <> floor(docks_value) or docks_value not between 0 and 100000', 'num_docks_available not a count'],
    ['installed_text is not null and installed_flag is null', 'is_installed not a boolean'],
    ['renting_text is not null and renting_flag is null', 'is_renting not a boolean'],
    ['returning_text is not null and returning_flag is null', 'is_returning not a boolean'],
] + gbfs_snapshot_checks() %}
with

stations as (
    select
        s.*,
        feeds.id as landing_id,
        feeds.system_id,
        feeds.fetched_at as fetched_at_utc,
        feeds.loaded_at,
        feeds.ttl_s,
        doc.gbfs_version,
        doc.last_updated_text
    -- JSON_TABLE over the landing table's own column: MySQL refuses it over a column of a
    -- CTE or derived table (error 1210)
    from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
    cross join {{ gbfs_document_fields() }}
    cross join json_table(
        feeds.payload, '$.data.stations[*]' columns (
            station_index for ordinality,
            {{ json_text_columns('station_id, num_bikes_available as bikes_text, num_vehicles_available as vehicles_text,
                num_docks_available as docks_text, is_installed as installed_text, is_renting as renting_text,
                is_returning as returning_text, last_reported as last_reported_text') }}
        )
    ) as s
    where {{ gbfs_new_documents(['station_status']) }}
),

as_values as (
    select
        *,
        {{ base_values(
            numbers='coalesce(bikes_text, vehicles_text) as vehicles_value, docks_text as docks_value',
            flags='installed_text as installed_flag, renting_text as renting_flag, returning_text as returning_flag',
            instants='last_updated_text as snapshot_at, last_reported_text as last_reported_at',
        ) }},
        {{ keep_materialised('values_row') }}
    from stations
),

{{ base_checked('as_values', checks) }}

select
    {{ base_record_columns(['station_index'], "'$.data.stations'",
        base_columns('text', 'system_id as system_id, left(gbfs_version, 20) as gbfs_version')) }},
    ttl_s,
    snapshot_at as snapshot_at_utc,
    {{ staged(as_text('station_id')) }} as station_id,
    {{ base_columns('staged', 'cast(vehicles_value as signed) as vehicles_available,
        cast(docks_value as signed) as docks_available, installed_flag as is_installed, renting_flag as is_renting,
        returning_flag as is_returning, last_reported_at as last_reported_utc') }}
from checked
