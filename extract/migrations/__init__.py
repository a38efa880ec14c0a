"""Versioned schema migrations of ``gans_raw``: ``NNN_name.sql`` files and ``NNN_name.py`` modules (see :mod:`extract.db`)."""
