"""``python -m localdb up|down|reset|status|shell|sql "..."``: see :mod:`localdb.server`."""

from localdb.server import cli

cli()
