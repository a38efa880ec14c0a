-- noqa: disable=LT02
-- Every vehicle type of every GBFS vehicle_types document (HTTP 200, `data.vehicle_types`),
-- staged or not, with reject_reason (NULL when it can be staged). Incremental like
-- base_gbfs__vehicles (each document parsed once) and kept for ever: the documents are
-- small, and the latest description of a type must outlive the raw retention.
{%- set checks = [
    ["vehicle_type_id is null or vehicle_type_id = ''", 'vehicle_type_id missing'],
    ['char_length(vehicle_type_id) > 200', 'vehicle_type_id longer than 200 characters'],
    ['max_range_text is not null and max_range_value is null', 'max_range_meters not a number'],
    ['max_range_value not between 0 and 10000000', 'max_range_meters out of range'],
] %}
with

types as (
    select
        feeds.id as landing_id,
        feeds.system_id,
        feeds.fetched_at as fetched_at_utc,
        feeds.loaded_at,
        vt.type_index,
        vt.vehicle_type_id,
        vt.form_factor,
        vt.propulsion_type,
        -- v3.0: name is a list of localized texts ({text, language}); v2.x a plain string
        coalesce(vt.name_v3, vt.name_text) as vehicle_type_name,
        vt.max_range_text,
        {{ json_number('vt.max_range_text') }} as max_range_value
    -- JSON_TABLE over the landing table's own column: MySQL refuses it over a column of
    -- a CTE or derived table (error 1210), MariaDB accepts both
    from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
    cross join json_table(
        feeds.payload, '$.data.vehicle_types[*]' columns (
            type_index for ordinality,
            {{ json_text_columns('vehicle_type_id, form_factor, propulsion_type, name as name_text,
                name[0].text as name_v3, max_range_meters as max_range_text') }}
        )
    ) as vt
    where {{ gbfs_new_documents(['vehicle_types']) }}
),

{{ base_checked('types', checks) }}

select
    {{ base_record_columns(['type_index'], "'$.data.vehicle_types'", as_text('system_id') ~ ' as system_id') }},
    {{ base_columns('staged text', 'vehicle_type_id as vehicle_type_id, left(form_factor, 50) as form_factor,
        left(propulsion_type, 50) as propulsion_type, left(vehicle_type_name, 200) as vehicle_type_name') }},
    {{ staged('cast(max_range_value as decimal(12, 2))') }} as max_range_m
from checked
