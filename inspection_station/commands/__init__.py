"""Subcommands of `inspection-station`; each module has `register(subparsers)`."""
