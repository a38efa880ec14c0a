"""Versioned schema migrations of ``gans_raw``: ``NNN_name.sql`` files and ``NNN_name.py`` modules.

How they are found, applied and checksummed: :func:`extract.db.migrations` and :func:`extract.db.migrate`.
"""
