{#
  A column that keeps the CTE it is selected in materialised (computed once per row):
  a derived table or CTE with a window function is never merged into the query that
  reads it, on MariaDB 10.11 as on MySQL 8. Without it both engines merge a chain of
  `select *, <expression> ...` CTEs and copy each expression into every place that
  reads it: the base models' reject_reason (dozens of regular-expression checks) was
  evaluated again inside every guarded output column, 40 s for 720 forecast slots.
  `name` must be unique in the model (the column flows on through `select *`).
#}
{% macro keep_materialised(name) -%}
    row_number() over () as {{ name }}
{%- endmacro %}
