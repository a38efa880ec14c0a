{#
  The parts every base model is made of (models/staging/base): read the new landing rows,
  unpack their JSON once with JSON_TABLE, give each record its reject_reason, and stage
  only what passed. Each macro is one of those steps, so a base model says only what is
  its own: the JSON paths, the checks, the conversions. Run the same on MariaDB 10.11 and
  MySQL 8. Described in _base__macros.yml.
#}

{#
  The landing rows a base model unpacks: `select id as landing_id, <columns>, fetched_at as
  fetched_at_utc, loaded_at from <landing table> where http_status ... <new_landing_rows>`.
  `columns` maps a column name to its SQL expression over the landing row (request_key,
  request_params, payload), in order; `statuses` are the HTTP statuses whose payloads hold
  records; `materialise` adds keep_materialised('landing_row'), so the columns are computed
  once per landing row, not again for each of its records.
#}
{% macro base_landing_rows(table, columns={}, statuses=[200], materialise=false) -%}
    select
        id as landing_id,
        {%- for name, expr in columns.items() %}
        {{ expr }} as {{ name }},
        {%- endfor %}
        fetched_at as fetched_at_utc,
        loaded_at
        {%- if materialise %},
        {{ keep_materialised('landing_row') }}
        {%- endif %}
    from {{ source('gans_raw', table) }}
    where
        {% if statuses | length == 1 -%}
        http_status = {{ statuses[0] }}
        {%- else -%}
        http_status in ({{ statuses | join(', ') }})
        {%- endif %}
        {{ new_landing_rows() }}
{%- endmacro %}

{#
  Joins landing table `table` as `raw_row` to the landing rows in `landing` (a CTE with
  landing_id), for a JSON_TABLE over raw_row.payload: JSON_TABLE must read the landing
  table's own column, since MySQL refuses it over a column of a CTE or derived table
  (error 1210; MariaDB accepts both). The new-rows filter is repeated on this alias, so
  whichever join order the optimizer picks, JSON_TABLE never unpacks a landing row that is
  not new.
#}
{% macro base_landing_payload(table, landing='landing') -%}
    inner join {{ source('gans_raw', table) }} as raw_row
        on
            {{ landing }}.landing_id = raw_row.id
            {{ new_landing_rows('raw_row.id', 'raw_row.loaded_at') }}
{%- endmacro %}

{#
  JSON_TABLE column definitions, every value as text: `name text path '$.<path>' null on
  error`. Numbers, flags and times are converted afterwards, only when they are what they
  should be (defensive_casts): JSON_TABLE's own conversions differ between MariaDB (which
  turns 'abc' into 0 with a warning) and MySQL 8 (NULL), and text cuts no long value.
  `fields` is one string of comma-separated items `<path below the record> [as <name>]`,
  the name defaulting to the path: 'icao, name as airport_name, location.lat as lat_text'.
#}
{% macro json_text_columns(fields) -%}
    {%- for item in fields.split(',') %}
        {%- set parts = item.strip().split(' as ') %}
        {{ parts[-1].strip() }} text path '$.{{ parts[0].strip() }}' null on error
        {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
  CTE `checked`: every column of `relation`, the columns of select list `columns` (SQL
  text, optional), the reject reason of each record (reject_reason(checks)) and
  keep_materialised('checked_row'), so each record's checks and columns are computed once,
  not again in every guarded output column. `checks` as in reject_reason.
#}
{% macro base_checked(relation, checks, columns=none) -%}
    checked as (
        select
            *,
            {%- if columns %}
            {{ columns }},
            {%- endif %}
            {{ reject_reason(checks) }} as reject_reason,
            {{ keep_materialised('checked_row') }}
        from {{ relation }}
    )
{%- endmacro %}

{#
  The leading columns of a base model's output: landing_id, the record's ordinal columns
  `index_columns` (a list; the last one is the 1-based position in its JSON array),
  record_path (the record's JSON path in the payload: `array_path`, an SQL text
  expression such as "'$.items'", followed by "[<position - 1>]"), reject_reason, the
  columns of select list `keys` (SQL text: what the record belongs to, e.g. its city or
  system), then fetched_at_utc and loaded_at. loaded_at is cast: MySQL gives a NOT NULL
  default-current_timestamp column read through a window-ranked CTE a zero default that
  its CREATE TABLE ... AS refuses (error 1067).
#}
{% macro base_record_columns(index_columns, array_path, keys) -%}
    landing_id,
    {%- for column in index_columns %}
    {{ column }},
    {%- endfor %}
    concat({{ array_path }}, '[', {{ index_columns[-1] }} - 1, ']') as record_path,
    reject_reason,
    {{ keys }},
    fetched_at_utc,
    cast(loaded_at as datetime(6)) as loaded_at
{%- endmacro %}

{# The keys of a record of a city's landing row (city_name column): city_id and city_name. #}
{% macro base_city_keys() -%}
    {{ city_id('city_name') }} as city_id, city_name
{%- endmacro %}

{#
  `expr` for a record that is staged (reject_reason NULL), else NULL: a rejected record's
  values are never converted, so a value out of range is a reject, not a failed cast.
#}
{% macro staged(expr) -%}
    case when reject_reason is null then {{ expr }} end
{%- endmacro %}

{#
  The items of SQL select list `text` ("<expr> as <name>, ..."), split at the commas outside
  parentheses, as a list of [expr, name] (the name after the last " as "). Every item must
  have its name; a comma or parenthesis inside a string literal must come in balanced
  parentheses (", %" inside concat(...) does).
#}
{% macro select_list_items(text) -%}
    {%- set ns = namespace(depth=0, item='', items=[]) %}
    {%- for ch in text ~ ',' %}
        {%- if ch == ',' and ns.depth == 0 %}
            {%- if ns.item.strip() %}
                {%- set parts = ns.item.strip().rsplit(' as ', 1) %}
                {%- if parts | length != 2 %}
                    {{ exceptions.raise_compiler_error("select list item without ' as <name>': " ~ ns.item.strip()) }}
                {%- endif %}
                {%- do ns.items.append([parts[0].strip(), parts[1].strip()]) %}
            {%- endif %}
            {%- set ns.item = '' %}
        {%- else %}
            {%- if ch == '(' %}{% set ns.depth = ns.depth + 1 %}{% elif ch == ')' %}{% set ns.depth = ns.depth - 1 %}{% endif %}
            {%- set ns.item = ns.item ~ ch %}
        {%- endif %}
    {%- endfor %}
    {{- return(ns.items) }}
{%- endmacro %}

{#
  Output columns of select list `text` ("<expr> as <name>, ..."), each expression wrapped:
  `how` is 'staged' (staged(expr): NULL for a rejected record), 'text' (as_text(expr): the
  project collation) or 'staged text' (both).
#}
{% macro base_columns(how, text) -%}
    {%- if how not in ['staged', 'text', 'staged text'] %}
        {{ exceptions.raise_compiler_error("base_columns: how is 'staged', 'text' or 'staged text', not '" ~ how ~ "'") }}
    {%- endif %}
    {%- for expr, name in select_list_items(text) %}
        {%- set value = as_text(expr) if 'text' in how else expr %}
        {{ staged(value) if 'staged' in how else value }} as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
  Values converted from the JSON_TABLE text columns, defensively (NULL when the text is not
  what it should be, so the checks can reject the record with a reason): `numbers` with
  json_number (DOUBLE), `flags` with gbfs_flag (0/1), `instants` with gbfs_instant_utc (UTC
  DATETIME); each a select list "<text expr> as <name>, ...".
#}
{% macro base_values(numbers='', flags='', instants='') -%}
    {%- set columns = [] %}
    {%- for expr, name in select_list_items(numbers) %}{% do columns.append(json_number(expr) ~ ' as ' ~ name) %}{% endfor %}
    {%- for expr, name in select_list_items(flags) %}{% do columns.append(gbfs_flag(expr) ~ ' as ' ~ name) %}{% endfor %}
    {%- for expr, name in select_list_items(instants) %}{% do columns.append(gbfs_instant_utc(expr) ~ ' as ' ~ name) %}{% endfor %}
    {{- columns | join(',\n        ') }}
{%- endmacro %}

{#
  Checks (for reject_reason) that each `<name>_text` holding a value converted to a number in
  `<name>_value`: [<name>_text is not null and <name>_value is null, '<label> not a number'],
  the label being the name or its entry in the list `labels`.
#}
{% macro base_number_checks(names, labels=none) -%}
    {%- set checks = [] %}
    {%- for name in names %}
        {%- do checks.append([name ~ '_text is not null and ' ~ name ~ '_value is null',
            (labels[loop.index0] if labels else name) ~ ' not a number']) %}
    {%- endfor %}
    {{- return(checks) }}
{%- endmacro %}
