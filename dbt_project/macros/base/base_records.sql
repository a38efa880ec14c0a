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
  The reject reason of each record and a column keeping the select materialised
  (keep_materialised('checked_row')), for `select *, {{ base_checked_columns(checks) }}`:
  the checks are evaluated once per record, not again in every guarded output column.
  `checks` as in reject_reason.
#}
{% macro base_checked_columns(checks) -%}
    {{ reject_reason(checks) }} as reject_reason,
        {{ keep_materialised('checked_row') }}
{%- endmacro %}

{#
  The leading columns of a base model's output: landing_id, the record's ordinal columns
  `index_columns` (a list; the last one is the 1-based position in its JSON array),
  record_path (the record's JSON path in the payload: `array_path`, an SQL text
  expression such as "'$.items'", followed by "[<position - 1>]") and reject_reason.
#}
{% macro base_record_columns(index_columns, array_path) -%}
    landing_id,
    {%- for column in index_columns %}
    {{ column }},
    {%- endfor %}
    concat({{ array_path }}, '[', {{ index_columns[-1] }} - 1, ']') as record_path,
    reject_reason
{%- endmacro %}

{#
  fetched_at_utc and loaded_at as the landing row has them. loaded_at is cast: MySQL gives
  a NOT NULL default-current_timestamp column read through a window-ranked CTE a zero
  default that its CREATE TABLE ... AS refuses (error 1067).
#}
{% macro base_landing_times() -%}
    fetched_at_utc,
    cast(loaded_at as datetime(6)) as loaded_at
{%- endmacro %}

{#
  `expr` for a record that is staged (reject_reason NULL), else NULL: a rejected record's
  values are never converted, so a value out of range is a reject, not a failed cast.
#}
{% macro staged(expr) -%}
    case when reject_reason is null then {{ expr }} end
{%- endmacro %}
