{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_int_gbfs__snapshots_landing', 'landing_id') }}",
            "{{ ensure_index('ix_int_gbfs__snapshots_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_int_gbfs__snapshots_system_time', 'system_id, snapshot_at_utc') }}",
        ],
    )
}}
-- One row per GBFS vehicle snapshot landed (free_bike_status / vehicle_status), empty
-- ones included: how many vehicles it published and how many were staged, when it was
-- true (last_updated, UTC), its 15-minute bucket and hour, and whether it was stale when
-- fetched (older than its ttl plus var gbfs_stale_grace_seconds). Incremental, each
-- landing row read once, and never rebuilt from landing: it outlives the raw retention.
-- The counts and last_updated come from base_gbfs__vehicles, where each snapshot was
-- parsed (a vehicle row per element of the snapshot's list, which the extractor checked
-- is a list; snapshot_at_utc on every row): published = its rows (read off the landing_id
-- index), staged = those without a reject_reason (the few rejects through their index),
-- last_updated from its first vehicle. Only an empty snapshot, which has no vehicle rows,
-- has its last_updated read from the payload here (a document of a few hundred bytes).
with

landing as (
    select
        feeds.id as landing_id,
        feeds.system_id,
        feeds.feed,
        feeds.fetched_at,
        feeds.loaded_at,
        feeds.ttl_s
    from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
    where {{ gbfs_new_documents(['free_bike_status', 'vehicle_status']) }}  -- noqa: LT02, LT05
),

published as (
    select
        vehicles.landing_id,
        count(*) as vehicles_published
    from {{ ref('base_gbfs__vehicles') }} as vehicles
    inner join landing on vehicles.landing_id = landing.landing_id
    group by vehicles.landing_id
),

rejected as (
    select
        vehicles.landing_id,
        count(*) as vehicles_rejected
    from {{ ref('base_gbfs__vehicles') }} as vehicles
    inner join landing on vehicles.landing_id = landing.landing_id
    where vehicles.reject_reason is not null
    group by vehicles.landing_id
),

empty_snapshots as (
    select
        feeds.id as landing_id,
        {{ json_text('feeds.payload', '$.last_updated') }} as last_updated_text
    from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
    inner join landing on feeds.id = landing.landing_id
    where not exists (
        select 1 from {{ ref('base_gbfs__vehicles') }} as vehicles
        where vehicles.landing_id = landing.landing_id
    )
),

typed as (
    select
        landing.*,
        published.vehicles_published,
        coalesce(published.vehicles_published, 0) - coalesce(rejected.vehicles_rejected, 0) as vehicles_staged,
        coalesce(
            first_vehicle.snapshot_at_utc, {{ gbfs_instant_utc('empty_snapshots.last_updated_text') }}
        ) as snapshot_at_utc
    from landing
    left join published on landing.landing_id = published.landing_id
    left join rejected on landing.landing_id = rejected.landing_id
    left join {{ ref('base_gbfs__vehicles') }} as first_vehicle
        on
            landing.landing_id = first_vehicle.landing_id
            and first_vehicle.vehicle_index = 1
    left join empty_snapshots on landing.landing_id = empty_snapshots.landing_id
)

select
    typed.landing_id,
    {{ as_text('typed.system_id') }} as system_id,
    systems.operator,
    systems.city_name,
    {{ city_id('systems.city_name') }} as city_id,
    {{ as_text('typed.feed') }} as feed,
    typed.fetched_at as fetched_at_utc,
    typed.snapshot_at_utc,
    {{ bucket_15m('typed.snapshot_at_utc') }} as bucket_start_utc,
    timestampadd(hour, hour(typed.snapshot_at_utc), cast(date(typed.snapshot_at_utc) as datetime)) as hour_utc,
    typed.ttl_s,
    cast(coalesce(typed.vehicles_published, 0) as signed) as vehicles_published,
    cast(typed.vehicles_staged as signed) as vehicles_staged,
    case
        when typed.snapshot_at_utc is null then 1
        when typed.fetched_at > timestampadd(
            second, coalesce(typed.ttl_s, 0) + {{ var('gbfs_stale_grace_seconds') }}, typed.snapshot_at_utc
        ) then 1
        else 0
    end as is_stale,
    typed.loaded_at
from typed
left join {{ ref('gbfs_systems') }} as systems
    on typed.system_id = systems.system_id
