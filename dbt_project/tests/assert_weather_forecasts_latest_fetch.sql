-- No landed forecast for a held slot was fetched later than the one weather_forecasts keeps.
select
    held.city_id,
    held.forecast_at_utc,
    held.fetched_at_utc,
    max(landed.fetched_at_utc) as latest_fetch
from {{ ref('weather_forecasts') }} as held
inner join {{ ref('stg_openweather__forecasts') }} as landed
    on
        held.city_id = landed.city_id
        and held.forecast_at_utc = landed.forecast_at_utc
group by held.city_id, held.forecast_at_utc, held.fetched_at_utc
having max(landed.fetched_at_utc) > held.fetched_at_utc
