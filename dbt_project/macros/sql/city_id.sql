{#
  Deterministic city key from the city's name (as in request keys and the seed):
  the first 15 hex digits of SHA-256 of the trimmed, lower-cased name, as a
  BIGINT. Same name, same id, on every server and every run.
#}
{% macro city_id(name_expr) -%}
    cast(conv(left(sha2(lower(trim({{ name_expr }})), 256), 15), 16, 10) as unsigned)
{%- endmacro %}
