{#
  Tests of the large, growing relations check the rows landed recently, so a build's
  test cost follows new data, not history.

  A test whose `where` config is `recent` (set for the staging, intermediate and marts
  folders in dbt_project.yml, and so for the landing tables' source tests) reads only
  the rows whose load-time column `loaded_at` (the landing row's load instant, UTC, in
  landing tables, staging views and incremental models alike) is within the last
  var('test_window_hours') hours before now (UTC); a relation without it (cities,
  airports, ...) is tested whole. Any other `where`
  is applied as dbt does. Run every test on all history with
  `--vars '{test_window_hours: 0}'` (0 = no window).
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == 'recent' -%}
        {%- set hours = var('test_window_hours') | int -%}
        {%- set load_column = recent_rows_column(relation) if hours > 0 and execute else none -%}
        {%- if load_column is none -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ landed_in_test_window(load_column) }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- elif where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{# The load-time column of `relation` (loaded_at), none when it has none. #}
{% macro recent_rows_column(relation) -%}
    {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- for candidate in ['loaded_at'] -%}
        {%- if candidate in names -%}
            {%- do return(candidate) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}

{#
  The test window as a condition (used above and by the singular tests): true for
  rows whose load-time `column` (UTC) is within the last var('test_window_hours')
  hours, and for every row when it is 0.
#}
{% macro landed_in_test_window(column) -%}
    {%- set hours = var('test_window_hours') | int -%}
    {%- if hours > 0 -%}
        {{ column }} >= timestampadd(hour, -{{ hours }}, utc_timestamp())
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}
