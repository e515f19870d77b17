"""`inspection-station audit verify [FILE]`: is the audit trail's hash chain intact?

Exit 0 intact, 1 tampered (the line is named), 2 the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the audit trail: verify its hash chain")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check that no line was edited, inserted or deleted")
    verify.add_argument("file", nargs="?", help="audit.jsonl (default: the station's own)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.settings.audit import default_audit_path, verify_audit

    path = args.file or default_audit_path()
    result = verify_audit(path)  # AuditError (unreadable) -> exit 2 in cli.main
    if result.intact:
        print(f"{path}: {result.summary()}")
        return 0
    print(f"inspection-station: tampered: {result.problem}", file=sys.stderr)
    return 1
