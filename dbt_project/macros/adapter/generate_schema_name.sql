{#
  Staging and intermediate models (and seeds) build into the staging database, marts
  into the marts database, stored test failures into their own: exactly the names of
  GANS_STAGING_DATABASE, GANS_MARTS_DATABASE and GANS_TEST_FAILURES_DATABASE (defaults
  gans_staging, gans and gans_test_failures), never dbt's default
  "<target schema>_<custom schema>".
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {{ env_var('GANS_MARTS_DATABASE', 'gans') }}
    {%- elif custom_schema_name | trim == 'staging' -%}
        {{ env_var('GANS_STAGING_DATABASE', 'gans_staging') }}
    {%- elif custom_schema_name | trim == 'test_failures' -%}
        {{ env_var('GANS_TEST_FAILURES_DATABASE', 'gans_test_failures') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
