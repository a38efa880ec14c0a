{#
  Open-Meteo staging helpers (MariaDB 10.11 and MySQL 8). `array` is a JSON array
  taken out of the payload (one hourly series); its values may be JSON null. The
  conversions return DOUBLE (no cast): base_open_meteo__hours checks the ranges
  before it casts, so an absurd value is a reject, never a failed cast.
#}

{# The `index`-th (1-based) value of JSON array column `array` as text; NULL when absent or JSON null. #}
{% macro open_meteo_text(array, index) -%}
    nullif(json_unquote(json_extract({{ array }}, concat('$[', {{ index }} - 1, ']'))), 'null')
{%- endmacro %}

{# °C from a value in `unit_expr` (°C or °F, as hourly_units says). #}
{% macro open_meteo_celsius(value, unit_expr) -%}
    case when {{ unit_expr }} = '°F' then ({{ value }} - 32) * 5 / 9 else {{ value }} end
{%- endmacro %}

{# m/s from a speed in `unit_expr` (m/s, km/h, mph or kn). #}
{% macro open_meteo_m_s(value, unit_expr) -%}
    case {{ unit_expr }}
        when 'km/h' then {{ value }} / 3.6
        when 'mph' then {{ value }} * 0.44704
        when 'kn' then {{ value }} * 0.514444
        else {{ value }}
    end
{%- endmacro %}

{# mm from a depth in `unit_expr` (mm or inch). #}
{% macro open_meteo_mm(value, unit_expr) -%}
    case when {{ unit_expr }} = 'inch' then {{ value }} * 25.4 else {{ value }} end
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

{#
  The number of records base_open_meteo__hours reads from an Open-Meteo payload
  (JSON column `payload`): hours in hourly.time times model series, a model series
  being an hourly key that starts with temperature_2m (one, unsuffixed, in the
  single-model shape; one per model, suffixed, in the multi-model shape). Counted in
  the text of json_keys, so no JSON_TABLE is needed in landing_reconciliation.
#}
{% macro open_meteo_records(payload) -%}
    coalesce(json_length({{ payload }}, '$.hourly.time'), 0) * coalesce((
        char_length(json_keys({{ payload }}, '$.hourly'))
        - char_length(replace(json_keys({{ payload }}, '$.hourly'), '"temperature_2m', ''))
    ) / char_length('"temperature_2m'), 0)
{%- endmacro %}
