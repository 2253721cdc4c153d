"""``catalogue admin ...``: people, roles, the cohort registry and the audit trail from the
command line (the first administrator is created this way), and the publisher check of
``catalogue publish --as EMAIL``.

The command line is trusted: whoever runs it holds the data directory. Its actions are
audited with the origin "cli" and the system user's name.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from catalogue.accounts import create_user, email_key, send_password_link, set_disabled
from catalogue.accounts_audit import audit_csv, entry_row
from catalogue.accounts_model import AuditFilter, Origin, User
from catalogue.accounts_roles import (
    grant,
    parse_role,
    register_bundled,
    register_cohort,
    require_publisher_of_files,
    revoke,
)
from catalogue.errors import BadRequest, NotFound
from catalogue.settings import Settings
from catalogue.store import Store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("admin", help="people, roles, cohorts and the audit trail",
                           description="Manage accounts, roles, the cohort registry and "
                                       "read the audit trail.")
    commands = admin.add_subparsers(dest="admin_command", metavar="ADMIN_COMMAND")
    commands.required = True

    create = commands.add_parser("create-user", help="create a confirmed account")
    create.add_argument("email")
    create.add_argument("--name", required=True)
    create.add_argument("--affiliation", default="")
    create.add_argument("--lang", choices=("en", "fr"), default="en",
                        help="language of the e-mails the person receives")
    create.add_argument("--admin", action="store_true", help="make them an administrator")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input; without it the person "
                             "is sent a link to choose one")
    create.set_defaults(handler=_create_user)

    for name, verb, handler in (("grant", "give", _grant), ("revoke", "take away", _revoke)):
        cmd = commands.add_parser(name, help=f"{verb} a role",
                                  description="Roles: administrator (global), publisher COHORT,"
                                              " reviewer COHORT.")
        cmd.add_argument("email")
        cmd.add_argument("role", choices=("administrator", "publisher", "reviewer"))
        cmd.add_argument("cohort", nargs="?", help="cohort slug (publisher and reviewer)")
        cmd.set_defaults(handler=handler)

    listing = commands.add_parser("list-users", help="list accounts and their roles")
    listing.add_argument("--search", default="", help="part of an e-mail, name or affiliation")
    listing.add_argument("--role", choices=("administrator", "publisher", "reviewer"))
    listing.add_argument("--cohort", default="")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list_users)

    for name, disabled in (("disable-user", True), ("enable-user", False)):
        cmd = commands.add_parser(name, help=f"{'disable' if disabled else 'enable'} an account"
                                  + (" (its sessions end)" if disabled else ""))
        cmd.add_argument("email")
        cmd.set_defaults(handler=_set_disabled, disabled=disabled)

    link = commands.add_parser("send-password-link", help="mail someone a link to set a new "
                                                          "password")
    link.add_argument("email")
    link.set_defaults(handler=_send_password_link)

    cohort = commands.add_parser("register-cohort", help="add a cohort or change its name "
                                                         "and DDI agency ids")
    cohort.add_argument("slug", help="as in the catalogue's URLs, e.g. constances")
    cohort.add_argument("--name", required=True)
    cohort.add_argument("--agency", action="append", default=[], required=True,
                        help="a DDI agency id of the cohort (repeat for several); the list "
                             "replaces the cohort's agencies")
    cohort.set_defaults(handler=_register_cohort)

    bundled = commands.add_parser("register-bundled", help="register the four bundled cohorts "
                                                           "(idempotent)")
    bundled.set_defaults(handler=_register_bundled)

    cohorts = commands.add_parser("list-cohorts", help="list registered cohorts")
    cohorts.add_argument("--json", action="store_true")
    cohorts.set_defaults(handler=_list_cohorts)

    audit = commands.add_parser("audit", help="print or export the audit trail",
                                description="Newest first as text; oldest first as CSV.")
    audit.add_argument("--action", default="", help="e.g. sign_in.failed, or sign_in for all "
                                                    "sign_in.* actions")
    audit.add_argument("--actor", default="", help="part of the acting account's e-mail")
    audit.add_argument("--target", default="", help="part of the target")
    audit.add_argument("--since", default="", help="ISO date or time (UTC)")
    audit.add_argument("--until", default="", help="ISO date or time (UTC)")
    audit.add_argument("--limit", type=int, default=50, help="entries shown as text")
    audit.add_argument("--csv", action="store_true", help="write every matching entry as CSV")
    audit.add_argument("--output", type=Path, help="write the CSV here instead of stdout")
    audit.set_defaults(handler=_audit)


# -- the publisher check of ``publish --as`` --------------------------------------------------


def check_publisher(settings: Settings, store: Store, email: str, paths: Sequence[Path]) -> str:
    """The account's e-mail when it may publish every agency in ``paths``; NotFound for
    an unknown account, Forbidden (and an audit entry) otherwise."""
    user = store.user_by_email(email_key(email))
    if user is None:
        raise NotFound(f"no account for {email}: create it with catalogue admin create-user")
    require_publisher_of_files(store, user, paths, settings.ddi_schemas, origin=Origin.cli())
    return user.email


# -- handlers ---------------------------------------------------------------------------------


def _store(settings: Settings) -> Store:
    return Store(settings.store_url)


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name,
            "affiliation": user.affiliation, "created_at": user.created_at,
            "confirmed_at": user.confirmed_at, "disabled": user.disabled, "lang": user.lang,
            "roles": [{"role": r.name, "cohort": r.cohort} for r in user.sorted_roles()]}


def _create_user(args: argparse.Namespace, settings: Settings) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadRequest("no password on standard input")
    store = _store(settings)
    origin = Origin.cli()
    user = create_user(store, settings, email=args.email, name=args.name,
                       affiliation=args.affiliation, password=password, lang=args.lang,
                       actor=None, origin=origin)
    if args.admin:
        grant(store, actor=None, email=user.email, role=parse_role("administrator", None),
              origin=origin)
    roles = " (administrator)" if args.admin else ""
    how = "" if password else "; a link to choose a password was sent"
    print(f"created {user.email}{roles}{how}")
    return 0


def _grant(args: argparse.Namespace, settings: Settings) -> int:
    role = parse_role(args.role, args.cohort)
    added = grant(_store(settings), actor=None, email=args.email, role=role,
                  origin=Origin.cli())
    print(f"{args.email} is {role.label()}" + ("" if added else " (already)"))
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    role = parse_role(args.role, args.cohort)
    removed = revoke(_store(settings), actor=None, email=args.email, role=role,
                     origin=Origin.cli())
    print(f"{args.email} is no longer {role.label()}" + ("" if removed else " (was not)"))
    return 0


def _list_users(args: argparse.Namespace, settings: Settings) -> int:
    users = _store(settings).list_users(text=args.search, role=args.role or "",
                                        cohort=args.cohort)
    if args.json:
        print(json.dumps([_user_json(u) for u in users], ensure_ascii=False, indent=2))
        return 0
    if not users:
        print("no account")
    for user in users:
        state = "disabled" if user.disabled else "confirmed" if user.confirmed else "unconfirmed"
        roles = ", ".join(r.label() for r in user.sorted_roles()) or "researcher"
        print(f"{user.email}  {user.name!r}  {state}  {roles}")
    return 0


def _set_disabled(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    user = store.user_by_email(email_key(args.email))
    if user is None:
        raise NotFound(f"no account for {args.email}")
    set_disabled(store, user, args.disabled, actor=None, origin=Origin.cli())
    print(f"{user.email} is {'disabled' if args.disabled else 'enabled'}")
    return 0


def _send_password_link(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    user = store.user_by_email(email_key(args.email))
    if user is None:
        raise NotFound(f"no account for {args.email}")
    send_password_link(store, settings, user)
    print(f"sent a password link to {user.email}")
    return 0


def _register_cohort(args: argparse.Namespace, settings: Settings) -> int:
    cohort = register_cohort(_store(settings), actor=None, slug=args.slug, name=args.name,
                             agencies=args.agency, origin=Origin.cli())
    print(f"{cohort.slug}: {cohort.name} ({' '.join(cohort.agencies)})")
    return 0


def _register_bundled(args: argparse.Namespace, settings: Settings) -> int:
    for cohort in register_bundled(_store(settings), origin=Origin.cli()):
        print(f"{cohort.slug}: {cohort.name} ({' '.join(cohort.agencies)})")
    return 0


def _list_cohorts(args: argparse.Namespace, settings: Settings) -> int:
    cohorts = _store(settings).list_registered_cohorts()
    if args.json:
        print(json.dumps([{"slug": c.slug, "name": c.name, "agencies": list(c.agencies),
                           "created_at": c.created_at} for c in cohorts], indent=2))
        return 0
    if not cohorts:
        print("no registered cohort (catalogue admin register-bundled registers the bundled "
              "ones)")
    for cohort in cohorts:
        print(f"{cohort.slug}: {cohort.name} ({' '.join(cohort.agencies)})")
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    where = AuditFilter(action=args.action, actor=args.actor, target=args.target,
                        since=args.since, until=args.until)
    store = _store(settings)
    if args.csv or args.output:
        if args.output:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                for chunk in audit_csv(store, where):
                    out.write(chunk)
        else:
            for chunk in audit_csv(store, where):
                sys.stdout.write(chunk)
        return 0
    entries = store.audit_entries(where, limit=args.limit)
    if not entries:
        print("no audit entry")
    for entry in entries:
        row = entry_row(entry)
        who = entry.actor_email or "-"
        print(f"{entry.at}  {entry.action:<22} {who:<28} {entry.target}  [{entry.client}]  "
              f"{row[-1] if entry.details else ''}".rstrip())
    return 0
