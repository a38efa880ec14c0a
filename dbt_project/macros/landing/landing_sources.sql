{#
  The one declaration of what every extract source lands and where its records are
  staged, read by landing_reconciliation (records in each payload, staged, rejected),
  landing_rejects (the rejected records) and so source_health. A new source is one entry
  here (tests/test_sources.py fails while a registered source is missing).
#}
{% macro landing_sources() -%}
    {%- do return([
        {'source': 'open_meteo', 'table': 'open_meteo_forecasts', 'statuses': [200],
            'records': open_meteo_records('payload'),
            'models': [['base_open_meteo__hours', 'stg_open_meteo__forecasts']]},
        {'source': 'openweather', 'table': 'openweather_forecasts', 'statuses': [200],
            'records': [[none, '$.list']],
            'models': [['base_openweather__slots', 'stg_openweather__forecasts']]},
        {'source': 'aerodatabox_flights', 'table': 'aerodatabox_flights', 'statuses': [200, 204],
            'records': [[none, '$.arrivals'], [none, '$.departures']],
            'models': [['base_aerodatabox__flights', 'stg_aerodatabox__flights']]},
        {'source': 'aerodatabox_airports', 'table': 'aerodatabox_airports', 'statuses': [200],
            'records': [[none, '$.items']],
            'models': [['base_aerodatabox__airports', 'stg_aerodatabox__airports']]},
        {'source': 'wikipedia', 'table': 'wikipedia_city_pages', 'statuses': [200],
            'records': [[none, '$.populations']],
            'models': [['base_wikipedia__populations', 'stg_wikipedia__populations']]},
        {'source': 'gbfs', 'table': 'gbfs_feeds', 'statuses': [200],
            'records': [
                ['free_bike_status', '$.data.bikes'], ['vehicle_status', '$.data.vehicles'],
                ['vehicle_types', '$.data.vehicle_types'], ['station_status', '$.data.stations'],
                ['station_information', '$.data.stations'],
            ],
            'models': [
                ['base_gbfs__vehicles', 'stg_gbfs__vehicles'],
                ['base_gbfs__vehicle_types', 'stg_gbfs__vehicle_types'],
                ['base_gbfs__station_status', 'stg_gbfs__station_status'],
                ['base_gbfs__station_information', 'stg_gbfs__station_information'],
            ]},
    ]) -%}
{%- endmacro %}
