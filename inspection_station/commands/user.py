"""`inspection-station user add|list|passwd|role|remove|unlock`: the station's accounts.

The store is the per-station one under the user config folder (core/settings/accounts.py),
whatever settings file the station runs on. Each change is audited as the operating-system
account that ran the command. `--password-stdin` reads the first line of standard input
(installers, scripts); without it the password is asked twice without echo.

Once accounts exist, a missing or unreadable store refuses every action (exit 2, naming the
file); `user add NAME --role admin --recover-store` replaces it with a store holding that
admin (what was there is renamed aside), audited as `recover`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from inspection_station.core.settings.accounts import ROLES, AccountError, AccountStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="station accounts: add, list, passwd, role, remove, unlock")
    p.add_argument("--accounts", metavar="F", help=argparse.SUPPRESS)  # tests: another store
    actions = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    add.add_argument("--recover-store", action="store_true",
                     help="the store is missing or unreadable although accounts existed: start a new one "
                          "with this admin (the old file is renamed aside; audited)")
    actions.add_parser("list", help="list the accounts")
    passwd = actions.add_parser("passwd", help="set a new password (also lifts a lockout)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    remove = actions.add_parser("remove", help="delete an account")
    remove.add_argument("name")
    role = actions.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    unlock = actions.add_parser("unlock", help="lift a lockout after failed logins")
    unlock.add_argument("name")
    p.set_defaults(func=run)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AccountError("--password-stdin: standard input is empty; expected the password on the first line")
        return line.rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise AccountError("the two passwords differ")
    return first


def access_control(args: argparse.Namespace):
    """The station's AccessControl acting as the OS user (settings loaded tolerantly)."""
    from inspection_station.core.settings.audit import AuditLog
    from inspection_station.core.settings.model import load_settings
    from inspection_station.core.settings.session import AccessControl, cli_actor

    settings = load_settings().settings
    store = AccountStore(getattr(args, "accounts", None))
    audit = AuditLog()
    control = AccessControl(store, audit, settings.access, settings.station.name)
    return control, cli_actor(settings.station.name)


def recover_store(store: AccountStore, audit, args: argparse.Namespace) -> int:
    if args.role != "admin":
        raise AccountError("--recover-store makes the new store's administrator: use --role admin")
    problem = store.problem()
    if not problem:  # before a password is asked for nothing
        raise AccountError(f"{store.path}: the accounts store is readable; nothing to recover "
                           "(add the user without --recover-store)")
    moved: list[Path | None] = []

    def record(problem: str, aside: Path | None) -> None:
        moved.append(aside)
        audit.record("user", args.name, {"store": problem},
                     {"role": "admin", "moved_aside": str(aside) if aside else None}, action="recover")

    user = store.recover(args.name, read_password(args.password_stdin), record)
    aside = f"; what was there is now {moved[0]}" if moved and moved[0] else ""
    print(f"{store.path}: a new accounts store with the admin {user.name!r}{aside}")
    return 0


def run(args: argparse.Namespace) -> int:
    control, actor = access_control(args)
    store, audit = control.store, control.audit.as_actor(actor)
    command = args.user_command
    if command == "list":
        users = store.users()
        if not users:
            print(f"no accounts in {store.path}; create the first admin with "
                  "`inspection-station user add NAME --role admin`", file=sys.stderr)
        for u in users:
            state = "LOCKED" if u.locked else (f"{u.failed_logins} failed" if u.failed_logins else "")
            print(f"{u.name:<24} {u.role:<9} {u.created:<26} {state}".rstrip())
        return 0
    if command == "add" and args.recover_store:
        return recover_store(store, audit, args)
    if command == "add":
        store.users()  # a missing or unreadable store refuses before a password is asked
        user = store.add(args.name, args.role, read_password(args.password_stdin))
        audit.record("user", user.name, None, {"role": user.role}, action="create")
        print(f"user {user.name!r} ({user.role}) added to {store.path}")
    elif command == "passwd":
        if store.get(args.name) is None:  # before asking for a password nobody will use
            raise AccountError(f"no user {args.name!r} in {store.path}")
        store.set_password(args.name, read_password(args.password_stdin))
        audit.record("user", args.name, "<hidden>", "<hidden>", action="password")
        print(f"password of {args.name!r} changed")
    elif command == "remove":
        user = store.remove(args.name)
        audit.record("user", user.name, {"role": user.role}, None, action="remove")
        print(f"user {user.name!r} removed")
    elif command == "role":
        before = store.get(args.name)
        store.set_role(args.name, args.role)
        audit.record("user", args.name, {"role": before.role if before else None}, {"role": args.role},
                     action="role")
        print(f"{args.name!r} is now {args.role}")
    elif command == "unlock":
        before = store.get(args.name)
        store.unlock(args.name)
        audit.record("user", args.name, {"locked": bool(before and before.locked)}, {"locked": False},
                     action="unlock")
        print(f"user {args.name!r} unlocked")
    return 0
