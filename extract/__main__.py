"""``python -m extract``: kept as an alias of ``python -m gans`` (:mod:`gans.cli`)."""

from gans.cli import main

main()
