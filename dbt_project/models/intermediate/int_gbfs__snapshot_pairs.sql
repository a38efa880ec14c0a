{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_int_gbfs__snapshot_pairs_landing', 'landing_id') }}",
            "{{ ensure_index('ix_int_gbfs__snapshot_pairs_loaded', 'loaded_at') }}",
        ],
    )
}}
-- Consecutive fresh GBFS snapshots of a system: per fresh snapshot (landing_id), the
-- latest fresh snapshot of the same system before it (previous_landing_id), when at most
-- var gbfs_flow_max_gap_minutes older; a snapshot without one has no row. Materialised
-- apart so int_gbfs__vehicle_changes reads the vehicles of a few indexed pairs (a derived
-- table with a correlated subquery would be re-evaluated per vehicle). Incremental: the
-- snapshots loaded since the newest held (minus the lookback) and not held yet; a
-- snapshot landed after its successor was paired does not re-pair the successor.
with

new_snapshots as (
    select
        snapshots.landing_id,
        snapshots.system_id,
        snapshots.snapshot_at_utc,
        snapshots.hour_utc,
        snapshots.loaded_at
    from {{ ref('int_gbfs__snapshots') }} as snapshots
    where
        snapshots.is_stale = 0
        {{ incremental_landing_filter('snapshots.loaded_at') }}  -- noqa: LT02
        {{ gbfs_new_landing_rows('snapshots.landing_id') }}  -- noqa: LT02
),

with_previous as (
    select
        new_snapshots.*,
        {{ gbfs_previous_landing_id(ref('int_gbfs__snapshots'), 'new_snapshots') }} as previous_landing_id
    from new_snapshots
),

pairs as (
    select
        with_previous.*,
        previous.snapshot_at_utc as previous_snapshot_at_utc,
        previous.vehicles_staged as vehicles_before
    from with_previous
    inner join {{ ref('int_gbfs__snapshots') }} as previous
        on with_previous.previous_landing_id = previous.landing_id
)

select
    pairs.landing_id,
    pairs.previous_landing_id,
    pairs.system_id,
    pairs.snapshot_at_utc,
    pairs.previous_snapshot_at_utc,
    pairs.hour_utc,
    pairs.vehicles_before,
    pairs.loaded_at
from pairs
