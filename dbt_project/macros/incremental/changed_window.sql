{#
  For incremental models that recompute a time range: the UTC instants touched by
  rows loaded since the model last ran, found before the model's SQL is compiled.

  `inputs` is a list of [relation, first_column, last_column]: every row of
  `relation` whose loaded_at is later than the watermark touches the
  instants first_column .. last_column (UTC datetimes). The watermark is
  max(`watermark_column`) of {{ this }} minus var('incremental_lookback_hours'). The
  queries run here, at execution time (run_query), and return literals, so the
  model's own query filters on constants: the optimizer then takes the index ranges
  on the time columns whatever its statistics say about freshly rebuilt tables (it
  did not, with the same bounds as subqueries, and scanned history).

  Returns a dict {'first_utc': 'YYYY-MM-DD HH:MM:SS', 'last_utc': ...}, with both
  values none when nothing was loaded since the watermark; none outside an
  incremental run (full builds read everything) and at parse time.
#}
{% macro changed_window(inputs, watermark_column='loaded_at') -%}
    {%- if not (execute and is_incremental()) -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set watermark = run_query(
        "select date_format(timestampadd(hour, -" ~ var('incremental_lookback_hours') ~ ", coalesce(max("
        ~ watermark_column ~ "), cast('1970-01-01 00:00:00' as datetime))), '%Y-%m-%d %H:%i:%s.%f') from " ~ this
    ).columns[0].values()[0] -%}
    {%- set parts = [] -%}
    {%- for relation, first_column, last_column in inputs -%}
        {%- do parts.append(
            "select min(" ~ first_column ~ ") as first_utc, max(" ~ last_column ~ ") as last_utc from "
            ~ relation ~ " where loaded_at > '" ~ watermark ~ "'"
        ) -%}
    {%- endfor -%}
    {%- set touched = run_query(
        "select date_format(min(first_utc), '%Y-%m-%d %H:%i:%s'), date_format(max(last_utc), '%Y-%m-%d %H:%i:%s')"
        ~ " from (" ~ parts | join(' union all ') ~ ") as touched"
    ).rows[0] -%}
    {%- do return({'first_utc': touched[0], 'last_utc': touched[1]}) -%}
{%- endmacro %}
