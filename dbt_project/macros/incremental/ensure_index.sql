{#
  Post-hook for incremental models: creates index `name` on {{ this }} over
  `columns` (SQL column list; text columns need a prefix length, e.g.
  'flight_key(191)') unless the table already has an index of that name. Checks
  information_schema first, since MySQL 8 has no ADD INDEX IF NOT EXISTS (MariaDB
  has). Returns the statement to run (a no-op when the index exists).
#}
{% macro ensure_index(name, columns) -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select count(*) from information_schema.statistics where table_schema = '"
            ~ this.schema ~ "' and table_name = '" ~ this.identifier ~ "' and index_name = '" ~ name ~ "'"
        ) -%}
        {%- if found.columns[0].values()[0] | int == 0 -%}
            create index {{ name }} on {{ this }} ({{ columns }})
        {%- else -%}
            select 1
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
