{#
  dbt wraps a model's SQL in parentheses: `create view v as ( <sql> )`. MariaDB
  10.11 rejects a WITH clause inside those parentheses (MySQL 8 accepts it), so
  these overrides of dbt-mysql's macros emit `as <sql>` unparenthesised, which
  both servers accept. Contracts are not used in this project.
#}
{% macro mysql__create_view_as(relation, sql) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {{ sql_header if sql_header is not none }}
    create view {{ relation }}
    as
    {{ sql }}
{%- endmacro %}

{% macro mysql__create_table_as(temporary, relation, sql) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {{ sql_header if sql_header is not none }}
    create {% if temporary -%} temporary {%- endif %} table
        {{ relation.include(database=False) }}
    as
    {{ sql }}
{%- endmacro %}
