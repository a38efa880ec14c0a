{#
  Defensive conversions for values that come from third parties: each returns SQL
  NULL instead of raising (MariaDB and MySQL 8 in strict mode turn a bad conversion
  inside CREATE TABLE ... AS SELECT into an error that stops the model). Staging
  models use the matching checks to reject the record, with a reason, rather than
  to pass the NULL on.
#}

{# True when text `expr` (a JSON_TABLE text column) is a JSON number: -12, 3.5, 1e20. #}
{% macro is_json_number(expr) -%}
    coalesce({{ expr }} regexp '^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$', 0)
{%- endmacro %}

{# DOUBLE of text `expr` when it is a JSON number, else NULL. #}
{% macro json_number(expr) -%}
    case when {{ is_json_number(expr) }} then cast({{ expr }} as double) end
{%- endmacro %}

{#
  True when text `expr` matches regular expression `pattern`, whose first ten characters are
  a date "YYYY-MM-DD" with month 01-12 and day 01-31, and that day exists in that month
  (February 30 is caught by the last_day check).
#}
{% macro is_calendar_date(expr, pattern) -%}
    case
        -- CASE, not AND: the day check must not run on text that is no date (a warning,
        -- which strict mode turns into an error inside CREATE TABLE ... AS SELECT)
        when {{ expr }} regexp '{{ pattern }}'
            then cast(substr({{ expr }}, 9, 2) as unsigned) <= day(last_day(concat(left({{ expr }}, 7), '-01')))
        else 0
    end
{%- endmacro %}

{#
  True when text `expr` starts with a real calendar date and minute,
  "YYYY-MM-DD HH:MM" or "YYYY-MM-DDTHH:MM" (AeroDataBox times), so str_to_date
  cannot fail on it.
#}
{% macro is_adb_time(expr) -%}
    {{ is_calendar_date(expr, '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[ T]([01][0-9]|2[0-3]):[0-5][0-9]') }}
{%- endmacro %}

{# True when text `expr` is a real calendar date "YYYY-MM-DD". #}
{% macro is_iso_date(expr) -%}
    {{ is_calendar_date(expr, '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$') }}
{%- endmacro %}

{#
  The reject reason of a record: the reasons whose condition holds, joined by "; ",
  NULL when none does (the record is staged). `checks` is a list of
  [sql_condition, reason_text].
#}
{% macro reject_reason(checks) -%}
    nullif(concat_ws('; '
        {%- for condition, reason in checks %},
        case when {{ condition }} then '{{ reason }}' end
        {%- endfor %}
    ), '')
{%- endmacro %}
