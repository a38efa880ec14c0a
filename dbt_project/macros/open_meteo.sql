{#
  Open-Meteo staging helpers (MariaDB 10.11 and MySQL 8). `array` is a JSON array
  taken out of the payload (one hourly series); values may be JSON null.
#}

{# The `index`-th (1-based) number of JSON array column `array` as DOUBLE; NULL for JSON null. #}
{% macro open_meteo_value(array, index) -%}
    cast(nullif(json_unquote(json_extract({{ array }}, concat('$[', {{ index }} - 1, ']'))), 'null') as double)
{%- endmacro %}

{# °C from a value in `unit_expr` (°C or °F, as hourly_units says). #}
{% macro open_meteo_celsius(value, unit_expr) -%}
    cast(round(case when {{ unit_expr }} = '°F' then ({{ value }} - 32) * 5 / 9 else {{ value }} end, 2) as decimal(6, 2))
{%- endmacro %}

{# m/s from a speed in `unit_expr` (m/s, km/h, mph or kn). #}
{% macro open_meteo_m_s(value, unit_expr) -%}
    cast(round(case {{ unit_expr }}
        when 'km/h' then {{ value }} / 3.6
        when 'mph' then {{ value }} * 0.44704
        when 'kn' then {{ value }} * 0.514444
        else {{ value }}
    end, 2) as decimal(6, 2))
{%- endmacro %}

{# mm from a depth in `unit_expr` (mm or inch). #}
{% macro open_meteo_mm(value, unit_expr) -%}
    cast(round(case when {{ unit_expr }} = 'inch' then {{ value }} * 25.4 else {{ value }} end, 2) as decimal(7, 2))
{%- endmacro %}

{#
  OpenWeather-style condition group ("Clear", "Clouds", "Rain", ...) of a WMO
  weather code (Open-Meteo weather_code, WMO 4677 as Open-Meteo documents it).
#}
{% macro wmo_condition(code) -%}
    case
        when {{ code }} in (0, 1) then 'Clear'
        when {{ code }} in (2, 3) then 'Clouds'
        when {{ code }} in (45, 48) then 'Fog'
        when {{ code }} between 51 and 57 then 'Drizzle'
        when {{ code }} between 61 and 67 or {{ code }} between 80 and 82 then 'Rain'
        when {{ code }} between 71 and 77 or {{ code }} in (85, 86) then 'Snow'
        when {{ code }} between 95 and 99 then 'Thunderstorm'
    end
{%- endmacro %}
