{#
  GBFS conversions, the same on MariaDB 10.11 and MySQL 8. Like the defensive casts,
  each returns NULL instead of raising on text it cannot convert (strict mode turns a
  bad conversion inside CREATE TABLE ... AS SELECT into an error).
#}

{#
  A GBFS time (text) -> UTC DATETIME: POSIX seconds (v1.x/v2.x `last_updated`,
  `last_reported`) or RFC 3339 (v3.x: "2023-07-17T13:34:13+02:00", "...Z"); NULL
  otherwise. CASE, not AND: str_to_date runs only on a real calendar date.
#}
{% macro gbfs_instant_utc(expr) -%}
    case
        when {{ expr }} regexp '^[0-9]{1,11}$'
            then {{ from_unix_utc(expr) }}
        when {{ is_adb_time(expr) }} and {{ expr }} regexp '^.{10}T[0-9]{2}:[0-9]{2}:[0-5][0-9]'
            then timestampadd(
                minute,
                -coalesce({{ adb_offset_minutes(expr) }}, 0),
                str_to_date(left({{ expr }}, 19), '%Y-%m-%dT%H:%i:%s')
            )
    end
{%- endmacro %}

{# A JSON boolean or 0/1 (GBFS 1.0), as text -> 1/0; NULL when absent or anything else. #}
{% macro gbfs_flag(expr) -%}
    case when lower({{ expr }}) in ('true', '1') then 1 when lower({{ expr }}) in ('false', '0') then 0 end
{%- endmacro %}

{#
  Grid cell of a point: rows of var('gbfs_cell_size_m') metres of latitude, columns of
  the same width at the city's reference latitude (equirectangular, 111 320 m per
  degree), so cells are square within a city and stable across snapshots. Returns the
  row or column index (signed).
#}
{% macro gbfs_cell_row(lat) -%}
    cast(floor({{ lat }} * 111320 / {{ var('gbfs_cell_size_m') }}) as signed)
{%- endmacro %}

{% macro gbfs_cell_col(lon, ref_lat) -%}
    cast(floor({{ lon }} * 111320 * cos(radians({{ ref_lat }})) / {{ var('gbfs_cell_size_m') }}) as signed)
{%- endmacro %}

{# Start of the 15-minute bucket of a UTC DATETIME, independent of the session time zone. #}
{% macro bucket_15m(ts) -%}
    {{ from_unix_utc("floor(timestampdiff(second, cast('1970-01-01 00:00:00' as datetime), " ~ ts ~ ") / 900) * 900") }}
{%- endmacro %}

{#
  For the GBFS incremental models that parse landing payloads: besides
  incremental_landing_filter (loaded since the newest held, minus the lookback), skip the
  landing rows already held, so each snapshot's JSON is parsed once. `id_column` is the
  landing id, `held_column` the model's column holding it.
#}
{% macro gbfs_new_landing_rows(id_column, held_column='landing_id') -%}
    {%- if is_incremental() %}
        and not exists (select 1 from {{ this }} as held where held.{{ held_column }} = {{ id_column }})
    {%- endif %}
{%- endmacro %}

{#
  For the GBFS incremental models: `and <column> > '<watermark>'`, the watermark being
  max(loaded_at) of the model minus var incremental_lookback_hours (as
  incremental_landing_filter), found with run_query before the model's SQL is compiled and
  written in as a constant: the optimizer then takes the range on the loaded_at index of
  the table read, whatever its statistics of a freshly rebuilt table say (the same bound
  as a subquery let it scan history; see changed_window). Empty outside incremental runs
  and at parse time.
#}
{% macro gbfs_loaded_since(column) -%}
    {%- if execute and is_incremental() %}
        {%- set watermark = run_query(
            "select date_format(timestampadd(hour, -" ~ var('incremental_lookback_hours')
            ~ ", coalesce(max(loaded_at), cast('1970-01-01 00:00:00' as datetime))), '%Y-%m-%d %H:%i:%s.%f') from "
            ~ this
        ).columns[0].values()[0] %}
        and {{ column }} > cast('{{ watermark }}' as datetime(6))
    {%- endif %}
{%- endmacro %}

{# Distance in metres between two WGS 84 points (equirectangular: within 0.1 % of the
   great circle at city scale, a few kilometres). #}
{% macro gbfs_distance_m(lat1, lon1, lat2, lon2) -%}
    (111320 * sqrt(
        power({{ lat2 }} - {{ lat1 }}, 2)
        + power(({{ lon2 }} - {{ lon1 }}) * cos(radians(({{ lat1 }} + {{ lat2 }}) / 2)), 2)
    ))
{%- endmacro %}
