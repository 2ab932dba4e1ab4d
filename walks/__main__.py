"""Run the command-line interface: ``python -m walks``."""

from walks.cli import app

app(prog_name="walks")
