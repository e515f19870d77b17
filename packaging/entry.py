"""Entry script of the frozen build: the same as the `inspection-station` command."""

from inspection_station.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
