"""Run the command-line interface: ``python -m walks``."""

from walks.cli import entry_point

entry_point()
