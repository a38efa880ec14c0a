{#
  The operator's system and the tracked city it serves: left joins of the seed gbfs_systems
  (aliased `systems`) on `system_id` and of the seed tracked_cities (aliased `cities`) on
  the system's city name. A system of an untracked city keeps its rows, with NULL city
  columns.
#}
{% macro gbfs_join_system_city(system_id) -%}
    left join {{ ref('gbfs_systems') }} as systems
        on {{ system_id }} = systems.system_id
    left join {{ ref('tracked_cities') }} as cities
        on systems.city_name = cities.city_name
{%- endmacro %}
