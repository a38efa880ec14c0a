{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_base_gbfs__station_status_landing', 'landing_id, station_index') }}",
            "{{ ensure_index('ix_base_gbfs__station_status_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_base_gbfs__station_status_rejects', 'reject_reason(100)') }}",
            "delete from {{ this }} where loaded_at < (select cutoff from (select timestampadd(day, -{{ var('gbfs_retention_days') }}, max(loaded_at)) as cutoff from {{ this }}) as newest)",
        ],
    )
}}
-- noqa: disable=LT02,LT05
-- Every station of every GBFS station_status document (HTTP 200, `data.stations`: docked,
-- station-based systems), staged or not: values converted defensively (NULL instead of an
-- error) and reject_reason saying why a station cannot be staged (NULL when it can).
-- stg_gbfs__station_status keeps the stations without a reason, landing_rejects the others.
-- Parsed once, like base_gbfs__vehicles: incremental, only the landing rows loaded since the
-- newest held (minus the lookback) and not held yet; rows kept var gbfs_retention_days.
-- Vehicles available: num_bikes_available (v1.x/v2.x: vehicles of any type, despite its
-- name), else num_vehicles_available (v3.x's name; v2.3 publishes both).
with

stations as (
    select
        feeds.id as landing_id,
        feeds.system_id,
        feeds.fetched_at as fetched_at_utc,
        feeds.loaded_at,
        feeds.ttl_s,
        doc.gbfs_version,
        doc.last_updated_text,
        s.station_index,
        s.station_id,
        s.bikes_text,
        s.vehicles_text,
        s.docks_text,
        s.installed_text,
        s.renting_text,
        s.returning_text,
        s.last_reported_text
    -- JSON_TABLE over the landing table's own column: MySQL refuses it over a column of a
    -- CTE or derived table (error 1210); the document's own fields in a JSON_TABLE of their
    -- own (see base_gbfs__vehicles)
    from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
    cross join json_table(
        feeds.payload, '$' columns (
            last_updated_text text path '$.last_updated' null on error,
            gbfs_version text path '$.version' null on error
        )
    ) as doc
    cross join json_table(
        feeds.payload, '$.data.stations[*]' columns (
            station_index for ordinality,
            station_id text path '$.station_id' null on error,
            bikes_text text path '$.num_bikes_available' null on error,
            vehicles_text text path '$.num_vehicles_available' null on error,
            docks_text text path '$.num_docks_available' null on error,
            installed_text text path '$.is_installed' null on error,
            renting_text text path '$.is_renting' null on error,
            returning_text text path '$.is_returning' null on error,
            last_reported_text text path '$.last_reported' null on error
        )
    ) as s
    where
        feeds.http_status = 200
        and feeds.feed = 'station_status'
        {{ gbfs_loaded_since('feeds.loaded_at') }}
        {{ gbfs_new_landing_rows('feeds.id') }}
),

as_values as (
    select
        *,
        {{ json_number('coalesce(bikes_text, vehicles_text)') }} as vehicles_value,
        {{ json_number('docks_text') }} as docks_value,
        {{ gbfs_flag('installed_text') }} as installed_flag,
        {{ gbfs_flag('renting_text') }} as renting_flag,
        {{ gbfs_flag('returning_text') }} as returning_flag,
        {{ gbfs_instant_utc('last_updated_text') }} as snapshot_at,
        {{ gbfs_instant_utc('last_reported_text') }} as last_reported_at,
        {{ keep_materialised('values_row') }}
    from stations
),

checked as (
    select
        *,
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
            ['last_reported_text is not null and last_reported_at is null', 'last_reported not a time'],
            ['snapshot_at is null', 'snapshot last_updated missing or not a time'],
            ['fetched_at_utc > timestampadd(second, coalesce(ttl_s, 0) + ' ~ var('gbfs_stale_grace_seconds') ~ ', snapshot_at)', 'stale snapshot (older than its ttl when fetched)'],
        ] %}
        {{ reject_reason(checks) }} as reject_reason,
        {{ keep_materialised('checked_row') }}
    from as_values
)

select
    landing_id,
    station_index,
    concat('$.data.stations[', station_index - 1, ']') as record_path,
    reject_reason,
    {{ as_text('system_id') }} as system_id,
    {{ as_text('left(gbfs_version, 20)') }} as gbfs_version,
    fetched_at_utc,
    cast(loaded_at as datetime(6)) as loaded_at,
    ttl_s,
    snapshot_at as snapshot_at_utc,
    case when reject_reason is null then {{ as_text('station_id') }} end as station_id,
    case when reject_reason is null then cast(vehicles_value as signed) end as vehicles_available,
    case when reject_reason is null then cast(docks_value as signed) end as docks_available,
    case when reject_reason is null then installed_flag end as is_installed,
    case when reject_reason is null then renting_flag end as is_renting,
    case when reject_reason is null then returning_flag end as is_returning,
    case when reject_reason is null then last_reported_at end as last_reported_utc
from checked
