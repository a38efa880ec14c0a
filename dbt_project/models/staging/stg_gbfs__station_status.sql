-- One row per station per GBFS station_status snapshot, the stations that could be staged
-- (the others are in landing_rejects): vehicles and docks available, installed / renting /
-- returning, last reported. From the incremental base table: no JSON is parsed here.
-- Positions are in stg_gbfs__station_information (station_status carries none).
select
    landing_id,
    station_index,
    system_id,
    gbfs_version,
    fetched_at_utc,
    loaded_at,
    snapshot_at_utc,
    station_id,
    vehicles_available,
    docks_available,
    is_installed,
    is_renting,
    is_returning,
    last_reported_utc
from {{ ref('base_gbfs__station_status') }}
where reject_reason is null
