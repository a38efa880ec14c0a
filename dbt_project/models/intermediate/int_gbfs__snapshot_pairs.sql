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
    {{ gbfs_new_fresh_snapshots(ref('int_gbfs__snapshots')) }}
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
    {{ gbfs_pair_key_columns('pairs') }},
    pairs.vehicles_before,
    pairs.loaded_at
from pairs
