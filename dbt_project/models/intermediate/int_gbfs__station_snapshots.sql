{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_int_gbfs__station_snapshots_landing', 'landing_id') }}",
            "{{ ensure_index('ix_int_gbfs__station_snapshots_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_int_gbfs__station_snapshots_system_time', 'system_id, snapshot_at_utc') }}",
        ],
    )
}}
-- One row per GBFS station_status snapshot landed with at least one station: how many
-- stations it published and how many were staged, when it was true (last_updated, UTC),
-- its hour, and whether it was stale when fetched (older than its ttl plus var
-- gbfs_stale_grace_seconds, or undated). From base_gbfs__station_status, where each
-- snapshot was parsed (no JSON here). Incremental, each landing row read once, kept for
-- ever. A snapshot with an empty station list has no row (nothing to compare).
with

new_landings as (
    -- the new snapshots, by their first station row (one per snapshot: a few index probes, not
    -- one per station), then their stations through the landing_id index
    select base.landing_id
    from {{ ref('base_gbfs__station_status') }} as base
    where
        base.station_index = 1
        {{ gbfs_loaded_since('base.loaded_at') }}  -- noqa: LT02
        {{ gbfs_new_landing_rows('base.landing_id') }}  -- noqa: LT02
),

per_snapshot as (
    select
        base.landing_id,
        max(base.system_id) as system_id,
        max(base.fetched_at_utc) as fetched_at_utc,
        max(base.loaded_at) as loaded_at,
        max(base.ttl_s) as ttl_s,
        max(base.snapshot_at_utc) as snapshot_at_utc,
        count(*) as stations_published,
        sum(case when base.reject_reason is null then 1 else 0 end) as stations_staged
    from new_landings
    inner join {{ ref('base_gbfs__station_status') }} as base
        on new_landings.landing_id = base.landing_id
    group by base.landing_id
)

select
    landing_id,
    {{ as_text('system_id') }} as system_id,
    fetched_at_utc,
    snapshot_at_utc,
    case
        when snapshot_at_utc is not null
            then timestampadd(hour, hour(snapshot_at_utc), cast(date(snapshot_at_utc) as datetime))
    end as hour_utc,
    ttl_s,
    cast(stations_published as signed) as stations_published,
    cast(stations_staged as signed) as stations_staged,
    case
        when snapshot_at_utc is null then 1
        when fetched_at_utc > timestampadd(
            second, coalesce(ttl_s, 0) + {{ var('gbfs_stale_grace_seconds') }}, snapshot_at_utc
        ) then 1
        else 0
    end as is_stale,
    cast(loaded_at as datetime(6)) as loaded_at
from per_snapshot
