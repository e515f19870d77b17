"""`inspection-station audit verify [FILE]`: is the audit trail's hash chain intact?

Exit 0 intact, 1 tampered (the line is named) or not verifiable with this station's key,
2 the file (or the key) cannot be read.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the audit trail: verify its hash chain")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check that no line was edited, inserted or deleted")
    verify.add_argument("file", nargs="?", help="audit.jsonl (default: the station's own)")
    verify.add_argument("--key", metavar="FILE",
                        help="the audit key to check with (default: this station's audit.key beside the accounts)")
    verify.add_argument("--unkeyed", action="store_true",
                        help="accept a log without key-protected lines (an older copy, a station without a key)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.errors import StationError
    from inspection_station.core.settings.audit import (
        STATION_KEY,
        AuditError,
        default_audit_path,
        verify_audit,
    )
    from inspection_station.core.settings.audit_key import load_key

    path = args.file or default_audit_path()
    key = STATION_KEY
    if args.key:
        try:
            key = load_key(args.key)
        except StationError as exc:
            raise AuditError(str(exc)) from None
        if key is None:
            raise AuditError(f"{args.key}: no such audit key")
    result = verify_audit(path, key=key, allow_unkeyed=args.unkeyed)  # AuditError -> exit 2 in cli.main
    if result.intact:
        print(f"{path}: {result.summary()}")
        return 0
    print(f"inspection-station: tampered: {result.problem}", file=sys.stderr)
    return 1
