{#
  Staging and intermediate models (and seeds, and stored test failures) build into
  the staging database, marts into the marts database: exactly the names of
  GANS_STAGING_DATABASE and GANS_MARTS_DATABASE (defaults gans_staging and gans),
  never dbt's default "<target schema>_<custom schema>".
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {{ env_var('GANS_MARTS_DATABASE', 'gans') }}
    {%- elif custom_schema_name | trim == 'staging' -%}
        {{ env_var('GANS_STAGING_DATABASE', 'gans_staging') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
