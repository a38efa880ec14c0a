"""``python -m gans``: the command line of :mod:`gans.cli`."""

from gans.cli import main

main()
