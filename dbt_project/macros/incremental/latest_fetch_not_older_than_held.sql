{#
  Tail of the incremental marts that keep the latest fetch per key (weather_forecasts,
  weather_hourly_forecasts, flight_arrivals): the rows of `rows` ranked first per key
  (recency_rank = 1) and, in incremental runs, only where the model holds no row of the
  key or holds one from an older or the same fetch (fetched_at_utc, landing_id), so a late
  landing of an older fetch never replaces a newer one. Emits the left join of
  {{ this }} as held and the where clause; `keys` are the columns of the model's unique key.
#}
{% macro latest_fetch_not_older_than_held(rows, keys) -%}
    {% if is_incremental() -%}
    left join {{ this }} as held
        on
        {%- for key in keys %}
            {{ 'and ' if not loop.first }}{{ rows }}.{{ key }} = held.{{ key }}
        {%- endfor %}
    {%- endif %}
    where {{ rows }}.recency_rank = 1
    {%- if is_incremental() %}
        and (
            held.{{ keys[0] }} is null
            or ({{ rows }}.fetched_at_utc, {{ rows }}.landing_id) >= (held.fetched_at_utc, held.landing_id)
        )
    {%- endif %}
{%- endmacro %}
