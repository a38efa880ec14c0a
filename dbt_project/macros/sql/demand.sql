{#- The instant the demand baseline is computed at: var demand_as_of_utc (a UTC
    'YYYY-MM-DD HH:MM:SS' string) or, when NULL, the current hour (UTC). An SQL
    expression of type datetime, truncated to the hour. -#}
{% macro demand_as_of() -%}
    {%- if var('demand_as_of_utc') -%}
        cast(date_format(cast('{{ var("demand_as_of_utc") }}' as datetime), '%Y-%m-%d %H:00:00') as datetime)
    {%- else -%}
        cast(date_format(utc_timestamp(), '%Y-%m-%d %H:00:00') as datetime)
    {%- endif -%}
{%- endmacro %}

{#- Local hour of the week of a UTC datetime in a time zone: 0 = Monday 00:00-01:00
    local time, 167 = Sunday 23:00-24:00 (weekday() is 0 on Mondays in MariaDB and MySQL). -#}
{% macro hour_of_week(utc_expr, zone_expr) -%}
    (weekday(convert_tz({{ utc_expr }}, 'UTC', {{ zone_expr }})) * 24 + hour(convert_tz({{ utc_expr }}, 'UTC', {{ zone_expr }})))
{%- endmacro %}
