"""`python -m liqwatch` runs the CLI."""

from liqwatch.cli import main

main()
