{#
  Override of dbt-mysql 1.7's incremental_delete (delete+insert strategy). dbt-mysql
  deletes `where (key) in (select key from tmp)`: MariaDB 10.11 runs that IN as a
  subquery per target row (no semi-join for single-table DELETE), so the cost grows
  with the table's history. A multi-table DELETE joined to the new rows uses the
  target's index on the key (macro ensure_index) on MariaDB and MySQL 8 alike.
  Rows whose key has a NULL are not deleted, as with IN.
#}
{% macro incremental_delete(tmp_relation, target_relation, unique_key=none, statement_name="pre_main") %}
    {%- if unique_key is not none and unique_key|length -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {#- the target unaliased: MariaDB resolves a delete-list alias in the default database #}
    delete {{ target_relation }}
    from {{ target_relation }}
    inner join (
        select distinct {{ keys | join(', ') }} from {{ tmp_relation }}
    ) as new_rows
        on
        {%- for key in keys %}
            {{ 'and ' if not loop.first }}{{ target_relation }}.{{ key }} = new_rows.{{ key }}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}
