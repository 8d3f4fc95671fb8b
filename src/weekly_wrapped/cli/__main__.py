"""`python -m weekly_wrapped.cli` runs the `wrapped` command."""

from weekly_wrapped.cli import main

main()
