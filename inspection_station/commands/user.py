"""`inspection-station user add|list|passwd|role|remove|unlock`: the station's accounts.

The store is the per-station one in the data root (core/settings/accounts.py),
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

from inspection_station.core.settings.accounts import ROLES, AccountError


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


def station_actions(args: argparse.Namespace):
    """The station's actions on its files (settings loaded tolerantly), acting as the OS user."""
    from inspection_station.core.actions import StationActions
    from inspection_station.core.settings.model import load_settings
    from inspection_station.core.settings.session import cli_actor

    loaded = load_settings()
    actions = StationActions.offline(loaded.settings, loaded.user_file,
                                     accounts_path=getattr(args, "accounts", None))
    return actions, cli_actor(loaded.settings.station.name)


def recover_store(actions, actor, args: argparse.Namespace) -> int:
    if args.role != "admin":
        raise AccountError("--recover-store makes the new store's administrator: use --role admin")
    problem = actions.access.store.problem()
    if not problem:  # before a password is asked for nothing
        raise AccountError(f"{actions.access.store.path}: the accounts store is readable; nothing to recover "
                           "(add the user without --recover-store)")
    outcome = actions.recover_accounts(actor, args.name, read_password(args.password_stdin))
    if not outcome.ok:
        print(f"inspection-station: error: {outcome.message}", file=sys.stderr)
        return 2
    print(outcome.message)
    return 0


def run(args: argparse.Namespace) -> int:
    actions, actor = station_actions(args)
    store = actions.access.store
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
        return recover_store(actions, actor, args)
    if command == "add":
        store.users()  # a missing or unreadable store refuses before a password is asked
        outcome = actions.add_user(actor, args.name, args.role, read_password(args.password_stdin))
        done = f"user {args.name!r} ({args.role}) added to {store.path}"
    elif command == "passwd":
        if store.get(args.name) is None:  # before asking for a password nobody will use
            raise AccountError(f"no user {args.name!r} in {store.path}")
        outcome = actions.set_password(actor, args.name, read_password(args.password_stdin))
        done = f"password of {args.name!r} changed"
    elif command == "remove":
        outcome = actions.remove_user(actor, args.name)
        done = f"user {args.name!r} removed"
    elif command == "role":
        outcome = actions.set_role(actor, args.name, args.role)
        done = f"{args.name!r} is now {args.role}"
    else:  # unlock
        outcome = actions.unlock_user(actor, args.name)
        done = f"user {args.name!r} unlocked"
    if not outcome.ok:
        print(f"inspection-station: error: {outcome.message}", file=sys.stderr)
        return 2
    print(done)
    return 0
