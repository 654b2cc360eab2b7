"""``python -m handoff``: the same command line as the ``handoff`` console script."""

from handoff.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
