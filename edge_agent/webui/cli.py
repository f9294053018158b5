"""``edge-agent --config F webui add-user NAME --role enroller|manager|viewer`` (prompts for the
password twice; ``--password-stdin`` reads one line, for provisioning scripts) and
``webui list-users``. Works with the agent running (the accounts file is WAL SQLite)."""

from __future__ import annotations

import getpass
import sys

from .accounts import ROLES, AccountError, Accounts


def add_webui_parser(sub) -> None:
    w = sub.add_parser("webui", help="enrollment web UI: staff accounts")
    wsub = w.add_subparsers(dest="webui_command", required=True)
    a = wsub.add_parser("add-user", help="add a staff account (or reset its password with --replace)")
    a.add_argument("name", help="user name: 1-32 letters, digits, _ . -")
    a.add_argument("--role", required=True, choices=ROLES,
                   help="enroller = 劳资专管员 (enrolls), manager = site manager (sees full ID numbers), viewer")
    a.add_argument("--replace", action="store_true", help="reset an existing account (logs it out)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    wsub.add_parser("list-users", help="list staff accounts and roles")


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码 / password: ")
    if getpass.getpass("再次输入 / again: ") != first:
        raise AccountError("两次输入的密码不一致 / the passwords differ")
    return first


def cmd_webui(cfg, args) -> int:
    accounts = Accounts(cfg.webui.accounts_db)
    try:
        if args.webui_command == "list-users":
            for name, role in accounts.users():
                print(f"{name}\t{role}")
            return 0
        try:
            accounts.add_user(args.name, args.role, _password(args), replace=args.replace)
        except AccountError as exc:
            print(f"错误 / error: {exc}", file=sys.stderr)
            return 1
        print(f"OK: {args.name} ({args.role})")
        return 0
    finally:
        accounts.close()
