{#
  Unix and AeroDataBox time values to UTC DATETIMEs and offsets.
  Run the same on MariaDB 10.11 and MySQL 8.
#}

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
