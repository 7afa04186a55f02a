"""``python -m sim``: the ``changesim`` command (see ``sim.cli``)."""

from sim.cli import main

main()
