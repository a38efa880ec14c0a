-- Every forecast slot of every OpenWeather landing row (HTTP 200), staged or not:
-- values converted defensively (NULL instead of an error), and reject_reason saying
-- why a slot cannot be staged (NULL when it can). stg_openweather__forecasts keeps the
-- slots without a reason, landing_rejects the others.
-- Units as applied: OpenWeather ignores a units value it does not recognise and
-- answers in standard units (kelvin, m/s), so anything but metric or imperial
-- (no units, 'metric"') is standard.
{%- set numbers = [
    ['dt', '$.dt'],
    ['temp', '$.main.temp'],
    ['feels_like', '$.main.feels_like'],
    ['temp_min', '$.main.temp_min'],
    ['temp_max', '$.main.temp_max'],
    ['pressure', '$.main.pressure'],
    ['humidity', '$.main.humidity'],
    ['wind_speed', '$.wind.speed'],
    ['wind_gust', '$.wind.gust'],
    ['wind_deg', '$.wind.deg'],
    ['pop', '$.pop'],
    ['rain_3h', '$.rain."3h"'],
    ['snow_3h', '$.snow."3h"'],
    ['clouds_all', '$.clouds.all'],
    ['visibility', '$.visibility'],
    ['weather_condition_id', '$.weather[0].id'],
] %}
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        {{ json_text('request_params', '$.units') }} as units_requested,
        case lower({{ json_text('request_params', '$.units') }})
            when 'metric' then 'metric'
            when 'imperial' then 'imperial'
            else 'standard'
        end as units_applied,
        {{ json_text('payload', '$.city.timezone') }} as city_utc_offset_text,
        fetched_at as fetched_at_utc,
        loaded_at,
        -- computed once per landing row: merged into the slots below, the JSON paths
        -- (one of them into the whole payload) ran again for every slot (55 s -> 24 s for
        -- a year of 100 cities' forecasts)
        {{ keep_materialised('landing_row') }}
    from {{ source('gans_raw', 'openweather_forecasts') }}
    where
        http_status = 200
        {{ new_landing_rows() }}  -- noqa: LT02
),

slots as (
    select
        landing.landing_id,
        landing.city_name,
        landing.units_requested,
        landing.units_applied,
        landing.city_utc_offset_text,
        landing.fetched_at_utc,
        landing.loaded_at,
        slot.slot_index,
        {%- for name, path in numbers %}
            slot.{{ name }}_text,
        {%- endfor %}
        slot.weather_main,
        slot.weather_condition_description,
        slot.pod
    from landing
    -- JSON_TABLE reads the landing table's own column: MySQL refuses it over a column
    -- of a CTE or derived table (error 1210), MariaDB accepts both
    inner join {{ source('gans_raw', 'openweather_forecasts') }} as raw_row
        on
            landing.landing_id = raw_row.id
            -- the same filter on this alias too: whichever join order the optimizer picks,
            -- JSON_TABLE never unpacks a landing row that is not new
            {{ new_landing_rows('raw_row.id', 'raw_row.loaded_at') }}  -- noqa: LT02
    -- every value as text, converted below only when it is a number: JSON_TABLE's own
    -- conversions differ (MariaDB turns 'abc' into 0 with a warning, MySQL 8 into NULL)
    cross join json_table(
        raw_row.payload, '$.list[*]' columns (
            slot_index for ordinality,
            {%- for name, path in numbers %}
                {{ name }}_text text path '{{ path }}' null on error,
            {%- endfor %}
            weather_main text path '$.weather[0].main' null on error,
            weather_condition_description text path '$.weather[0].description' null on error,
            pod text path '$.sys.pod' null on error
        )
    ) as slot
),

as_numbers as (
    select
        *,
        {%- for name, path in numbers %}
            {{ json_number(name ~ '_text') }} as {{ name }}_value,
        {%- endfor %}
        {{ json_number('city_utc_offset_text') }} as city_utc_offset_value,
        case units_applied when 'imperial' then 5.0 / 9.0 else 1.0 end as temperature_scale,
        case units_applied when 'metric' then 0.0 when 'imperial' then -32.0 * 5.0 / 9.0 else -273.15 end
            as temperature_shift,
        case units_applied when 'imperial' then 0.44704 else 1.0 end as speed_to_m_s,
        {{ keep_materialised('numbers_row') }}
    from slots
),

converted as (
    select
        *,
        temp_value * temperature_scale + temperature_shift as temp_c,
        feels_like_value * temperature_scale + temperature_shift as feels_like_c,
        temp_min_value * temperature_scale + temperature_shift as temp_min_c,
        temp_max_value * temperature_scale + temperature_shift as temp_max_c,
        wind_speed_value * speed_to_m_s as wind_speed_ms,
        wind_gust_value * speed_to_m_s as wind_gust_ms
    from as_numbers
),

checked as (
    select
        *,
        {%- set checks = [
            ['dt_text is null', 'dt missing'],
            ['temp_text is null', 'main.temp missing'],
        ] %}
        {%- for name, path in numbers %}
            {%- do checks.append([name ~ '_text is not null and ' ~ name ~ '_value is null', path ~ ' not a number']) %}
        {%- endfor %}
        {%- do checks.extend([
            ['city_utc_offset_text is not null and city_utc_offset_value is null', '$.city.timezone not a number'],
            ['city_utc_offset_value not between -86400 and 86400', '$.city.timezone out of range'],
            ['dt_value not between 0 and 253402300799 or dt_value <> floor(dt_value)', '$.dt not a unix time'],
            ['temp_c not between -273.15 and 9999', '$.main.temp out of range'],
            ['feels_like_c not between -273.15 and 9999', '$.main.feels_like out of range'],
            ['temp_min_c not between -273.15 and 9999', '$.main.temp_min out of range'],
            ['temp_max_c not between -273.15 and 9999', '$.main.temp_max out of range'],
            ['pressure_value not between 0 and 10000', '$.main.pressure out of range'],
            ['humidity_value not between 0 and 100', '$.main.humidity out of range'],
            ['wind_speed_ms not between 0 and 9999', '$.wind.speed out of range'],
            ['wind_gust_ms not between 0 and 9999', '$.wind.gust out of range'],
            ['wind_deg_value not between 0 and 360', '$.wind.deg out of range'],
            ['pop_value not between 0 and 1', '$.pop out of range'],
            ['rain_3h_value not between 0 and 99999', '$.rain.3h out of range'],
            ['snow_3h_value not between 0 and 99999', '$.snow.3h out of range'],
            ['clouds_all_value not between 0 and 100', '$.clouds.all out of range'],
            ['visibility_value not between 0 and 1000000', '$.visibility out of range'],
            ['weather_condition_id_value not between 0 and 99999', '$.weather[0].id out of range'],
        ]) %}
        {{ reject_reason(checks) }} as reject_reason,
        {{ keep_materialised('checked_row') }}
    from converted
)

select
    landing_id,
    slot_index,
    concat('$.list[', slot_index - 1, ']') as record_path,
    reject_reason,
    {{ city_id('city_name') }} as city_id,
    city_name,
    {{ as_text('units_requested') }} as units_requested,
    {{ as_text('units_applied') }} as units_applied,
    fetched_at_utc,
    -- cast: MySQL gives a NOT NULL default-current_timestamp column through a window-ranked CTE a zero
    -- default its CREATE TABLE ... AS refuses (1067)
    cast(loaded_at as datetime(6)) as loaded_at,
    -- every conversion below is guarded by reject_reason: a rejected slot's values
    -- are NULL, never an out-of-range cast
    case when reject_reason is null then cast(city_utc_offset_value as signed) end as city_utc_offset_s,
    case when reject_reason is null then {{ from_unix_utc('cast(dt_value as signed)') }} end as forecast_at_utc,
    case when reject_reason is null then cast(round(temp_c, 2) as decimal(6, 2)) end as temperature_c,
    case when reject_reason is null then cast(round(feels_like_c, 2) as decimal(6, 2)) end as feels_like_c,
    case when reject_reason is null then cast(round(temp_min_c, 2) as decimal(6, 2)) end as temperature_min_c,
    case when reject_reason is null then cast(round(temp_max_c, 2) as decimal(6, 2)) end as temperature_max_c,
    case when reject_reason is null then cast(round(pressure_value) as signed) end as pressure_hpa,
    case when reject_reason is null then cast(round(humidity_value) as signed) end as humidity_pct,
    case when reject_reason is null then cast(round(wind_speed_ms, 2) as decimal(6, 2)) end as wind_speed_m_s,
    case when reject_reason is null then cast(round(wind_gust_ms, 2) as decimal(6, 2)) end as wind_gust_m_s,
    case when reject_reason is null then cast(round(wind_deg_value) as signed) end as wind_direction_deg,
    case when reject_reason is null then cast(pop_value as decimal(4, 3)) end as precipitation_probability,
    case when reject_reason is null then cast(coalesce(rain_3h_value, 0) as decimal(7, 2)) end as rain_3h_mm,
    case when reject_reason is null then cast(coalesce(snow_3h_value, 0) as decimal(7, 2)) end as snow_3h_mm,
    case when reject_reason is null then cast(round(clouds_all_value) as signed) end as cloudiness_pct,
    case when reject_reason is null then cast(round(visibility_value) as signed) end as visibility_m,
    case when reject_reason is null then cast(weather_condition_id_value as signed) end as weather_condition_id,
    {{ as_text('weather_main') }} as weather_condition,
    {{ as_text('weather_condition_description') }} as weather_condition_description,
    {{ as_text('pod') }} as part_of_day
from checked
