"""``python -m extract``: the command line of :mod:`extract.cli`."""

from extract.cli import main

main()
