{#
  Select of the observed hours of int_demand__city_hours (is_history = 1): the history the
  demand factors and the backtest are estimated on.
#}
{% macro demand_history_hours() -%}
    select *
    from {{ ref('int_demand__city_hours') }}
    where is_history = 1
{%- endmacro %}

{#
  Select of the applied demand factors of each city as columns (demand_factors has one
  row per city and factor): city_id, rain_factor, cold_factor, hot_factor, arrivals_factor.
#}
{% macro demand_applied_factors() -%}
    select
        city_id,
        max(case when factor_name = 'rain' then factor_applied end) as rain_factor,
        max(case when factor_name = 'cold' then factor_applied end) as cold_factor,
        max(case when factor_name = 'hot' then factor_applied end) as hot_factor,
        max(case when factor_name = 'arrivals' then factor_applied end) as arrivals_factor
    from {{ ref('demand_factors') }}
    group by city_id
{%- endmacro %}

{#
  The multiplier of an hour's trips for its conditions: the product of the applied factors
  (from demand_applied_factors, aliased `factors`) of the classes the hour `hours` is in
  (rain, cold or hot, busy arrivals), 1 for each class it is not in or has no factor for.
#}
{% macro demand_conditions_factor(hours, factors='factors') -%}
    (
        coalesce(case when {{ hours }}.is_rain = 1 then {{ factors }}.rain_factor end, 1)
        * coalesce(case when {{ hours }}.temperature_band = 'cold' then {{ factors }}.cold_factor end, 1)
        * coalesce(case when {{ hours }}.temperature_band = 'hot' then {{ factors }}.hot_factor end, 1)
        * coalesce(case when {{ hours }}.is_busy_arrivals = 1 then {{ factors }}.arrivals_factor end, 1)
    )
{%- endmacro %}
