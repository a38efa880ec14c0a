{#
  Select of the tracked cities' time zones (seed tracked_cities): city_id (macro city_id
  of the name) and timezone (IANA name, for convert_tz), one row per tracked city. Inline
  as a CTE body, so each model keeps it as its own CTE.
#}
{% macro city_time_zones() -%}
    select
        {{ city_id('city_name') }} as city_id,
        timezone
    from {{ ref('tracked_cities') }}
{%- endmacro %}
