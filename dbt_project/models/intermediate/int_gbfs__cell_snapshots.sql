{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_int_gbfs__cell_snapshots_key', 'landing_id, cell_row, cell_col') }}",
            "{{ ensure_index('ix_int_gbfs__cell_snapshots_loaded', 'loaded_at') }}",
        ],
    )
}}
-- Vehicles per GBFS snapshot and grid cell (var gbfs_cell_size_m metres, square at the
-- city's latitude), counted from the staged vehicles; a cell without vehicles in a
-- snapshot has no row. Incremental: only snapshots loaded since the newest held (minus
-- the lookback); a re-read snapshot replaces its own rows (unique key landing_id).
with

vehicles as (
    select
        vehicles.landing_id,
        vehicles.system_id,
        vehicles.latitude,
        vehicles.longitude,
        vehicles.is_reserved,
        vehicles.is_disabled,
        vehicles.loaded_at,
        cities.latitude as city_latitude
    from {{ ref('stg_gbfs__vehicles') }} as vehicles
    inner join {{ ref('gbfs_systems') }} as systems
        on vehicles.system_id = systems.system_id
    inner join {{ ref('tracked_cities') }} as cities
        on systems.city_name = cities.city_name
    where 1 = 1
        {{ incremental_landing_filter('vehicles.loaded_at') }}  -- noqa: LT02
)

select
    landing_id,
    system_id,
    {{ gbfs_cell_row('latitude') }} as cell_row,
    {{ gbfs_cell_col('longitude', 'city_latitude') }} as cell_col,
    cast(count(*) as signed) as vehicles,
    cast(sum(case when coalesce(is_reserved, 0) = 0 and coalesce(is_disabled, 0) = 0 then 1 else 0 end) as signed)
        as vehicles_available,
    cast(sum(coalesce(is_reserved, 0)) as signed) as vehicles_reserved,
    cast(sum(coalesce(is_disabled, 0)) as signed) as vehicles_disabled,
    max(loaded_at) as loaded_at
from vehicles
group by landing_id, system_id, cell_row, cell_col
