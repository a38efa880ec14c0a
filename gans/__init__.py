"""The ``gans`` command line: extraction (:mod:`extract`), the dbt transform (:mod:`transform`)
and the main job that chains them. ``python -m gans`` or the ``gans`` / ``gans-extract`` scripts;
see :mod:`gans.cli`.
"""
