"""`inspection-station import-old-config`: the old system's settings as station settings.

Reads the old services' `.env` files, `default_config.toml` files, docker-compose files and/or the environment
(later sources win, as the old environment won over its TOML), writes the equivalent
station settings TOML and names, with the reason, every old setting it could not map.
Exit 0 when written (even with unmapped settings: they are listed), 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from inspection_station.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-old-config", help="write station settings from the old system's .env / TOML files")
    p.add_argument("sources", nargs="*", type=Path, metavar="FILE",
                   help="old .env files (NAME=VALUE), default_config.toml files and docker-compose .yaml files, "
                        "lowest precedence first")
    p.add_argument("--environment", action="store_true",
                   help="also read the old variables (BE_*, IF_*, FE_*, the camera adapter's) from this environment, last")
    p.add_argument("--out", type=Path, required=True, help="station settings TOML to write")
    p.add_argument("--force", action="store_true", help="replace an existing --out file (the old one is kept as .bak)")
    p.add_argument("--json", action="store_true", help="print mapped and unmapped settings as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.atomic import atomic_write_text
    from inspection_station.core.settings.model import load_settings
    from inspection_station.core.settings.old_config import (
        expand_variables,
        migrate,
        migration_toml,
        read_environment,
        read_old_sources,
        variables_from,
    )

    if not args.sources and not args.environment:
        raise ConfigError("import-old-config: give old .env / .toml files, or --environment")
    if args.out.exists() and not args.force:
        raise ConfigError(f"{args.out}: exists; choose another --out, or --force to replace it (kept as .bak)")
    values = read_old_sources(args.sources)
    if args.environment:
        values += read_environment()
    values, unresolved = expand_variables(values, variables_from(args.sources, os.environ if args.environment else None))
    migration = migrate(values)
    migration.unmapped[:0] = unresolved
    sources = [str(s) for s in args.sources] + (["environment"] if args.environment else [])
    atomic_write_text(args.out, migration_toml(migration, sources))
    check = load_settings(args.out, env={}, strict=False)  # what the station will make of it
    own = [w for w in check.warnings if str(args.out) in w]
    if args.json:
        print(json.dumps({"out": str(args.out), "settings": migration.changes, "mapped": migration.mapped,
                          "unmapped": migration.unmapped, "precedence": migration.conflicts, "warnings": own}))
    else:
        print(f"{args.out}: {sum(len(v) for v in migration.changes.values())} station settings from "
              f"{len(migration.mapped)} old ones")
        for line in migration.mapped:
            print(f"  mapped: {line}")
        for line in migration.unmapped:
            print(f"  not mapped: {line}")
        for line in migration.conflicts:
            print(f"  precedence: {line}")
        for line in own:
            print(f"inspection-station: warning: {line}", file=sys.stderr)
    return 0
