"""`python -m inspection_station` is the same as the `inspection-station` command."""

from inspection_station.cli import main

raise SystemExit(main())
