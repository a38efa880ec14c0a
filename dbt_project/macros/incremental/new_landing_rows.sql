{#
  For the base models, which parse landing payloads into incremental tables: in
  incremental runs, the landing rows loaded since the newest row held (minus
  var('incremental_lookback_hours'), for late commits) that the model does not hold
  yet, so each landing row's JSON is parsed once, ever. Landing rows never change, so
  a row once parsed stays true; a change to a base model's parsing is applied with
  `dbt build --full-refresh -s <model>`. Emits `and ...` conditions on the landing
  table's `id_column` and `loaded_column`; empty outside incremental runs.
#}
{% macro new_landing_rows(id_column='id', loaded_column='loaded_at') -%}
    {{ incremental_landing_filter(loaded_column) }}
    {%- if is_incremental() %}
        and not exists (select 1 from {{ this }} as held where held.landing_id = {{ id_column }})
    {%- endif %}
{%- endmacro %}
