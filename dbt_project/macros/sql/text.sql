{#
  Text from JSON, and text in the project collation (utf8mb4_unicode_ci).
  Run the same on MariaDB 10.11 and MySQL 8.
#}

{# Text at `path` of JSON `doc`, SQL NULL when absent or JSON null, in the project collation. #}
{% macro json_text(doc, path) -%}
    convert(
        case when json_type(json_extract({{ doc }}, '{{ path }}')) <> 'NULL'
            then json_unquote(json_extract({{ doc }}, '{{ path }}'))
        end using utf8mb4
    ) collate utf8mb4_unicode_ci
{%- endmacro %}

{# A string expression in the project collation (JSON_TABLE text columns, literals). #}
{% macro as_text(expr) -%}
    convert({{ expr }} using utf8mb4) collate utf8mb4_unicode_ci
{%- endmacro %}
