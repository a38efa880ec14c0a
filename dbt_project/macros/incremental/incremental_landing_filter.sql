{#
  In incremental runs: keep only landing rows loaded after the newest row the
  model holds, minus a lookback (var incremental_lookback_hours) for late loads and
  for transactions that commit out of loaded_at order. Re-read rows are harmless:
  the marts keep the latest fetch per key either way.
  `column` is the staging column with the landing loaded_at; the model stores it
  as loaded_at.
#}
{% macro incremental_landing_filter(column='loaded_at') -%}
    {%- if is_incremental() %}
        and {{ column }} > (
            select timestampadd(
                hour, -{{ var('incremental_lookback_hours') }},
                coalesce(max(loaded_at), cast('1970-01-01 00:00:00' as datetime))
            )
            from {{ this }}
        )
    {%- endif %}
{%- endmacro %}
