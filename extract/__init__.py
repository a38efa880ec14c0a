"""Gans extractors: Wikipedia, OpenWeather and AeroDataBox into MySQL landing tables.

Modules: :mod:`extract.settings` (configuration), :mod:`extract.db` (connections,
migrations, users), :mod:`extract.loader` (idempotent landing), :mod:`extract.runlog`
(run and error log), :mod:`extract.localdb` (the project-local MariaDB).
"""
