"""Run the command-line interface: ``python -m walks``."""

from walks.cli import run

run()
