{#
  Range tests used in the models' YAML. Each returns the offending rows (NULLs
  pass: pair with not_null where a value is required).
#}

{#
  Range tests check values that come from third parties: they warn (their rows are
  stored, store_failures) rather than stop the models downstream; records whose
  values no column can hold are rejects already (landing_rejects).
#}
{% test value_between(model, column_name, min_value, max_value) %}
{{ config(severity='warn') }}
select *
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}

{# Latitude in decimal degrees: -90 to 90. #}
{% test latitude_range(model, column_name) %}
    {{ test_value_between(model, column_name, -90, 90) }}
{% endtest %}

{# Longitude in decimal degrees: -180 to 180. #}
{% test longitude_range(model, column_name) %}
    {{ test_value_between(model, column_name, -180, 180) }}
{% endtest %}

{# Air temperature in °C that is physically plausible at a city (catches unconverted kelvin or °F). #}
{% test celsius_plausible(model, column_name, min_value=-60, max_value=60) %}
    {{ test_value_between(model, column_name, min_value, max_value) }}
{% endtest %}

{# A probability: 0 to 1 (not a percentage). #}
{% test probability(model, column_name) %}
    {{ test_value_between(model, column_name, 0, 1) }}
{% endtest %}

{# A percentage: 0 to 100. #}
{% test percentage(model, column_name) %}
    {{ test_value_between(model, column_name, 0, 100) }}
{% endtest %}

{# Non-negative quantity (counts, mm, m/s, m). #}
{% test non_negative(model, column_name) %}
{{ config(severity='warn') }}
select * from {{ model }} where {{ column_name }} < 0
{% endtest %}

{# The combination of `combination_of_columns` is unique (composite keys). #}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Rows with a NULL in any of columns: one test for many not-NULL columns of a model (a test
    per column costs a query each in every build). -#}
{% test not_null_columns(model, columns) %}
select *
from {{ model }}
where {% for column in columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
