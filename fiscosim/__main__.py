"""Allows ``python -m fiscosim``."""

from fiscosim.cli import main

main()
