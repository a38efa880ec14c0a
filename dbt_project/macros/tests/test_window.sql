{#
  Tests of the large, growing relations check the rows landed recently, so a build's
  test cost follows new data, not history.

  A test whose `where` config is `recent` (set for the staging, intermediate and marts
  folders in dbt_project.yml, and so for the landing tables' source tests) reads only
  the rows whose load-time column `loaded_at` (the landing row's load instant, UTC, in
  landing tables, staging views and incremental models alike) is within the last
  var('test_window_hours') hours before now (UTC), or its own window (macro
  window_hours_of); a relation without it (cities, airports, ...) is tested whole. Any other `where`
  is applied as dbt does. Run every test on all history with
  `--vars '{test_window_hours: 0}'` (0 = no window).
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == 'recent' -%}
        {%- set hours = window_hours_of(relation) if execute else 0 -%}
        {%- set load_column = recent_rows_column(relation) if hours > 0 else none -%}
        {%- if load_column is none -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ landed_in_test_window(load_column, hours) }}) dbt_subquery
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

{#
  The load-time column of `relation` (loaded_at), none when it has none. Read from the
  tested node's documented columns in the graph (every column a table has is described:
  tests/test_docs.py), not from the database: asking the server cost a query and a connection per
  test. A relation the graph does not document is asked for its columns as before.
#}
{% macro recent_rows_column(relation) -%}
    {%- set documented = documented_columns(relation) -%}
    {%- set names = documented if documented is not none
        else adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- for candidate in ['loaded_at'] -%}
        {%- if candidate in names -%}
            {%- do return(candidate) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}

{# The graph node (model, seed or source) the current test reads as `relation`; none when not found. #}
{% macro tested_node(relation) -%}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
        {%- if node
            and (node.alias or node.identifier or node.name) | lower == relation.identifier | lower
            and node.schema | lower == relation.schema | lower -%}
            {%- do return(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}

{# The lower-cased documented column names of the node the current test reads as `relation`; none when not found. #}
{% macro documented_columns(relation) -%}
    {%- set node = tested_node(relation) -%}
    {%- if node and node.columns -%}
        {%- do return(node.columns.keys() | map('lower') | list) -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}

{#
  The test window of `relation`, in hours: var('test_window_hours'), or the tested node's
  own `meta: {test_window_hours: N}` where it has one (a relation built every 15 minutes
  needs no day and more of history tested again at every build: the GBFS models say 3);
  0 (all history) whenever the var is 0 (`--vars '{test_window_hours: 0}'`).
#}
{% macro window_hours_of(relation) -%}
    {%- set hours = var('test_window_hours') | int -%}
    {%- set node = tested_node(relation) if hours > 0 else none -%}
    {%- set meta = ((node.config or {}).get('meta') or node.meta or {}) if node else {} -%}
    {%- do return(meta.get('test_window_hours', hours) | int) -%}
{%- endmacro %}

{#
  The test window as a condition (used above and by the singular tests): true for
  rows whose load-time `column` (UTC) is within the last `hours` hours (default
  var('test_window_hours')), and for every row when it is 0.
#}
{% macro landed_in_test_window(column, hours=none) -%}
    {%- set hours = (var('test_window_hours') if hours is none else hours) | int -%}
    {%- if hours > 0 -%}
        {{ column }} >= timestampadd(hour, -{{ hours }}, utc_timestamp())
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}
