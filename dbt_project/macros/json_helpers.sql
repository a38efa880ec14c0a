{#
  Small SQL helpers that run the same on MariaDB 10.11 and MySQL 8.
#}

{# Text at `path` of JSON `doc`, SQL NULL when absent or JSON null, in the project collation. #}
{% macro json_text(doc, path) -%}
    convert(
        case when json_type(json_extract({{ doc }}, '{{ path }}')) <> 'NULL'
            then json_unquote(json_extract({{ doc }}, '{{ path }}'))
        end using utf8mb4
    ) collate utf8mb4_unicode_ci
{%- endmacro %}

{# A string expression in the project collation (JSON_TABLE text columns, literals). #}
{% macro as_text(expr) -%}
    convert({{ expr }} using utf8mb4) collate utf8mb4_unicode_ci
{%- endmacro %}

{#
  Deterministic city key from the city's name (as in request keys and the seed):
  the first 15 hex digits of SHA-256 of the trimmed, lower-cased name, as a
  BIGINT. Same name, same id, on every server and every run.
#}
{% macro city_id(name_expr) -%}
    cast(conv(left(sha2(lower(trim({{ name_expr }})), 256), 15), 16, 10) as unsigned)
{%- endmacro %}

{# UTC DATETIME of a unix timestamp in seconds, independent of the session time zone. #}
{% macro from_unix_utc(seconds_expr) -%}
    timestampadd(second, {{ seconds_expr }}, cast('1970-01-01 00:00:00' as datetime))
{%- endmacro %}

{#
  AeroDataBox time text -> the wall-clock DATETIME written in it, to the minute;
  NULL when absent. "2024-05-08 09:10Z" (or ...T09:10Z) gives 09:10 UTC,
  "2024-05-08 11:10+02:00" gives 11:10 local time (its offset: adb_offset_minutes).
#}
{% macro adb_wall_clock(expr) -%}
    str_to_date(left(replace({{ expr }}, 'T', ' '), 16), '%Y-%m-%d %H:%i')
{%- endmacro %}

{# AeroDataBox "2024-05-08 11:10+02:00" -> the UTC offset in minutes (120); NULL when absent. #}
{% macro adb_offset_minutes(expr) -%}
    case
        when {{ expr }} regexp '[+-][0-9]{2}:[0-9]{2}$'
            then (case when substr({{ expr }}, -6, 1) = '-' then -1 else 1 end)
            * (cast(substr({{ expr }}, -5, 2) as signed) * 60 + cast(substr({{ expr }}, -2, 2) as signed))
        when {{ expr }} like '%Z' then 0
    end
{%- endmacro %}

{# Great-circle distance in km between two points in decimal degrees (haversine, R = 6371 km). #}
{% macro haversine_km(lat1, lon1, lat2, lon2) -%}
    2 * 6371 * asin(sqrt(
        power(sin(radians({{ lat2 }} - {{ lat1 }}) / 2), 2)
        + cos(radians({{ lat1 }})) * cos(radians({{ lat2 }}))
        * power(sin(radians({{ lon2 }} - {{ lon1 }}) / 2), 2)
    ))
{%- endmacro %}

{#
  In incremental runs: keep only landing rows loaded after the newest row the
  model holds, minus a lookback (var incremental_lookback_hours) for late loads and
  for transactions that commit out of loaded_at order. Re-read rows are harmless:
  the marts keep the latest fetch per key either way.
  `column` is the staging column with the landing loaded_at; the model stores it
  as landing_loaded_at.
#}
{% macro incremental_landing_filter(column='loaded_at_utc') -%}
    {%- if is_incremental() %}
        and {{ column }} > (
            select timestampadd(
                hour, -{{ var('incremental_lookback_hours') }},
                coalesce(max(landing_loaded_at), cast('1970-01-01 00:00:00' as datetime))
            )
            from {{ this }}
        )
    {%- endif %}
{%- endmacro %}
