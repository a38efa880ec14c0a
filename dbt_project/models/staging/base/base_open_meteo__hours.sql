-- Every hourly record of every Open-Meteo landing row (HTTP 200), staged or not: a
-- record is one hour of hourly.time (hour_index, 1-based) of one model series (an
-- hourly key starting with temperature_2m: the unsuffixed one in the single-model
-- shape, one suffixed key per model in the multi-model shape), so a payload holds
-- len(hourly.time) x model series records (macro open_meteo_records). Values are
-- converted defensively (NULL instead of an error) to °C, m/s, mm (snowfall cm) and
-- m from what hourly_units says; reject_reason says why a record cannot be staged
-- (NULL when it can): its time no ISO hour, its temperature null (the model has no
-- forecast for that hour: no such variable, or past its horizon), a value that is no
-- number, or one out of physical range. record_path points at the record's
-- temperature value. stg_open_meteo__forecasts keeps the records without a reason,
-- landing_rejects the others.
{%- set variables = ['temperature_2m', 'apparent_temperature', 'precipitation', 'rain', 'showers',
                     'snowfall', 'precipitation_probability', 'weather_code', 'cloud_cover',
                     'wind_speed_10m', 'wind_gusts_10m', 'wind_direction_10m', 'visibility'] %}
{%- set unit_variables = ['temperature_2m', 'apparent_temperature', 'precipitation', 'snowfall',
                          'wind_speed_10m', 'wind_gusts_10m', 'visibility'] %}
{%- set checks = [
    ['hour_text is null or not is_hour_time', '$.hourly.time not an ISO hour'],
    ['utc_offset_value is null', '$.utc_offset_seconds missing or not a number'],
    ['utc_offset_value not between -86400 and 86400', '$.utc_offset_seconds out of range'],
    ['temperature_2m_text is null', 'temperature_2m null: no forecast for this model and hour'],
] %}
{%- do checks.extend(base_number_checks(variables)) %}
{%- do checks.extend([
    ['temperature_c_value not between -273.15 and 9999', 'temperature_2m out of range'],
    ['apparent_temperature_c_value not between -273.15 and 9999', 'apparent_temperature out of range'],
    ['precipitation_mm_value not between 0 and 99999', 'precipitation out of range'],
    ['rain_mm_value not between 0 and 99999', 'rain out of range'],
    ['showers_mm_value not between 0 and 99999', 'showers out of range'],
    ['snowfall_cm_value not between 0 and 99999', 'snowfall out of range'],
    ['precipitation_probability_value not between 0 and 100', 'precipitation_probability out of range'],
    ['weather_code_value not between 0 and 99', 'weather_code out of range'],
    ['cloud_cover_value not between 0 and 100', 'cloud_cover out of range'],
    ['wind_speed_m_s_value not between 0 and 9999', 'wind_speed_10m out of range'],
    ['wind_gust_m_s_value not between 0 and 9999', 'wind_gusts_10m out of range'],
    ['wind_direction_10m_value not between 0 and 360', 'wind_direction_10m out of range'],
    ['visibility_m_value not between 0 and 10000000', 'visibility out of range'],
]) %}
with

landing as (
    {{ base_landing_rows('open_meteo_forecasts', {
        'city_name': json_text('request_key', '$.city'),
        'models_requested': json_text('request_params', '$.models'),
        'utc_offset_text': json_text('payload', '$.utc_offset_seconds'),
        'payload': 'payload',
    }) }}  -- noqa: LT02
),

series as (
    -- one temperature_2m series per model: its key's suffix names the model
    select
        landing.*,
        substring(hourly_keys.hourly_key, 15) as suffix
    from landing
    {{ base_landing_payload('open_meteo_forecasts') }}  -- noqa: LT02, LT05
    -- noqa: disable=LT02
    cross join json_table(
        json_keys(raw_row.payload, '$.hourly'), '$[*]' columns (
            hourly_key varchar(200) path '$' null on error
        )
    ) as hourly_keys
    -- noqa: enable=LT02
    where left(hourly_keys.hourly_key, 14) = 'temperature_2m'
),

models as (
    -- each model's series and units, taken out of the payload once: a window
    -- function keeps this CTE materialised, so the hours below index these short
    -- arrays, not the whole payload
    select
        landing_id,
        city_name,
        fetched_at_utc,
        loaded_at,
        utc_offset_text,
        suffix,
        case
            when suffix <> '' then substring(suffix, 2)
            when models_requested is not null and models_requested not like '%,%' then models_requested
            else 'best_match'
        end as model,  -- noqa: RF04
        {%- for name in variables %}
            json_extract(payload, concat('$.hourly.{{ name }}', suffix)) as {{ name }},
        {%- endfor %}
        {%- for name in unit_variables %}
            json_unquote(json_extract(payload, concat('$.hourly_units.{{ name }}', suffix))) as {{ name }}_unit,
        {%- endfor %}
        row_number() over (partition by landing_id, loaded_at order by suffix) as model_index
    from series
),

hours as (
    select
        models.*,
        hour_rows.hour_index,
        hour_rows.hour_text
    from models
    -- the hours of hourly.time, read from the landing table's column (see series)
    {{ base_landing_payload('open_meteo_forecasts', 'models') }}  -- noqa: LT02, LT05
    -- noqa: disable=LT02
    cross join json_table(
        raw_row.payload, '$.hourly.time[*]' columns (
            hour_index for ordinality,
            hour_text varchar(32) path '$' null on error
        )
    ) as hour_rows
    -- noqa: enable=LT02
),

as_text as (
    select
        landing_id,
        model_index,
        model,
        suffix,
        city_name,
        fetched_at_utc,
        loaded_at,
        hour_index,
        hour_text,
        utc_offset_text,
        {%- for name in variables %}
            {{ open_meteo_text(name, 'hour_index') }} as {{ name }}_text,
        {%- endfor %}
        {%- for name in unit_variables %}
            {{ name }}_unit,
        {%- endfor %}
        {{ is_adb_time('hour_text') }} as is_hour_time
    from hours
),

as_numbers as (
    select
        *,
        {%- for name in variables %}
            {{ json_number(name ~ '_text') }} as {{ name }}_value,
        {%- endfor %}
        {{ json_number('utc_offset_text') }} as utc_offset_value,
        {{ keep_materialised('numbers_row') }}
    from as_text
),

converted as (
    select
        *,
        {{ open_meteo_celsius('temperature_2m_value', 'temperature_2m_unit') }} as temperature_c_value,
        {{ open_meteo_celsius('apparent_temperature_value', 'apparent_temperature_unit') }}
            as apparent_temperature_c_value,
        {{ open_meteo_mm('precipitation_value', 'precipitation_unit') }} as precipitation_mm_value,
        {{ open_meteo_mm('rain_value', 'precipitation_unit') }} as rain_mm_value,
        {{ open_meteo_mm('showers_value', 'precipitation_unit') }} as showers_mm_value,
        case when snowfall_unit = 'inch' then snowfall_value * 2.54 else snowfall_value end as snowfall_cm_value,
        {{ open_meteo_m_s('wind_speed_10m_value', 'wind_speed_10m_unit') }} as wind_speed_m_s_value,
        {{ open_meteo_m_s('wind_gusts_10m_value', 'wind_gusts_10m_unit') }} as wind_gust_m_s_value,
        case when visibility_unit = 'ft' then visibility_value * 0.3048 else visibility_value end as visibility_m_value
    from as_numbers
),

{{ base_checked('converted', checks) }}

select
    {{ base_record_columns(['model_index', 'hour_index'], "concat('$.hourly.temperature_2m', suffix)",
        as_text('cast(model as char(64))') ~ ' as model, ' ~ base_city_keys()) }},
    -- every conversion below is guarded by reject_reason (macro staged): a rejected
    -- record's values are NULL, never an out-of-range cast
    {{ staged("timestampadd(second, -cast(utc_offset_value as signed), "
        ~ "str_to_date(concat(left(hour_text, 10), ' ', substr(hour_text, 12, 5)), '%Y-%m-%d %H:%i'))") }}
        as forecast_hour_utc,
    {{ base_columns('staged', 'cast(round(temperature_c_value, 2) as decimal(6, 2)) as temperature_c,
        cast(round(apparent_temperature_c_value, 2) as decimal(6, 2)) as apparent_temperature_c,
        cast(round(precipitation_mm_value, 2) as decimal(7, 2)) as precipitation_mm,
        cast(round(rain_mm_value, 2) as decimal(7, 2)) as rain_mm, cast(round(showers_mm_value, 2) as decimal(7, 2)) as showers_mm,
        cast(round(snowfall_cm_value, 2) as decimal(7, 2)) as snowfall_cm,
        cast(round(precipitation_probability_value) as signed) as precipitation_probability_pct,
        cast(weather_code_value as signed) as weather_code, cast(round(cloud_cover_value) as signed) as cloud_cover_pct,
        cast(round(wind_speed_m_s_value, 2) as decimal(6, 2)) as wind_speed_m_s,
        cast(round(wind_gust_m_s_value, 2) as decimal(6, 2)) as wind_gust_m_s,
        cast(round(wind_direction_10m_value) as signed) as wind_direction_deg,
        cast(round(visibility_m_value) as signed) as visibility_m') }}
from checked
