{#
  Select of the tracked cities' time zones (seed tracked_cities): city_id (macro city_id
  of the name) and timezone (IANA name, for convert_tz), one row per tracked city. Inline
  as a CTE body, so each model keeps it as its own CTE; materialised=true keeps that CTE
  materialised (macro keep_materialised), for a model joining it to many rows.
#}
{% macro city_time_zones(materialised=false) -%}
    select
        {{ city_id('city_name') }} as city_id,
        timezone
        {%- if materialised %},
        {{ keep_materialised('zone_row') }}
        {%- endif %}
    from {{ ref('tracked_cities') }}
{%- endmacro %}
