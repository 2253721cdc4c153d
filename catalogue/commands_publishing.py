"""``catalogue diff`` and ``catalogue withdraw``: comparing two publications and
withdrawing one from the command line (as the web does)."""

from __future__ import annotations

import argparse
import json

from catalogue.accounts import email_key
from catalogue.accounts_model import Origin, User
from catalogue.diffs import Diff, ItemChange, compare_publications
from catalogue.errors import NotFound
from catalogue.settings import Settings
from catalogue.store import Store
from catalogue.withdrawal import after_withdrawal, withdraw_publication


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diff = sub.add_parser("diff", help="compare two publications item by item",
                          description="Variables, questions, code lists and categories "
                                      "added, removed or changed (field by field) from "
                                      "publication FROM to publication TO.")
    diff.add_argument("before", type=int, metavar="FROM",
                      help="the earlier publication's number (0: compare with nothing)")
    diff.add_argument("after", type=int, metavar="TO", help="the later publication's number")
    diff.add_argument("--json", action="store_true", help="print the diff as JSON")
    diff.set_defaults(handler=_diff)

    withdraw = sub.add_parser(
        "withdraw", help="withdraw a publication (no longer browsed or searched)",
        description="The publication stays resolvable by URN and in access requests that "
                    "selected its variables; the versions it superseded become current "
                    "again. Recorded in the audit trail.")
    withdraw.add_argument("publication", type=int, metavar="PUBLICATION",
                          help="the publication's number (catalogue list)")
    withdraw.add_argument("--reason", required=True, help="why, shown on its page")
    withdraw.add_argument("--as", dest="as_email", metavar="EMAIL",
                          help="withdraw as this account (must publish for its cohort)")
    withdraw.set_defaults(handler=_withdraw)


def _diff(args: argparse.Namespace, settings: Settings) -> int:
    store = Store(settings.store_url)
    diff = compare_publications(store, args.before or None, args.after)
    if args.json:
        print(json.dumps(diff.to_json(), ensure_ascii=False, indent=2))
    else:
        print(diff_text(diff))
    return 0


def diff_text(diff: Diff) -> str:
    """A diff for people: a line per kind, then ``~`` changed (with each field), ``+``
    added and ``-`` removed items."""
    totals = diff.totals()
    before = f"publication {diff.before.publication_id}" if diff.before else "nothing"
    lines = [f"from {before} to publication {diff.after.publication_id}: "
             f"{totals['changed']} changed, {totals['added']} added, {totals['removed']} "
             f"removed, {totals['unchanged']} unchanged"]
    for kind in diff.kinds:
        if not kind.count:
            continue
        lines.append(f"{kind.section}: {len(kind.changed)} changed, {len(kind.added)} added, "
                     f"{len(kind.removed)} removed")
        for change in kind.changed:
            lines.append(f"  ~ {_describe(change)}")
            lines.extend(f"      {f.field}: {_value(f.before)} -> {_value(f.after)}"
                         for f in change.fields)
        lines.extend(f"  + {_describe(change)}" for change in kind.added)
        lines.extend(f"  - {_describe(change)}" for change in kind.removed)
    return "\n".join(lines)


def _describe(change: ItemChange) -> str:
    label = change.label.best("en", "fr")
    return f"{change.urn} {change.name}" + (f" {label!r}" if label else "")


def _value(value: str | None) -> str:
    return "(absent)" if value is None else repr(value)


def _withdraw(args: argparse.Namespace, settings: Settings) -> int:
    store = Store(settings.store_url)
    actor: User | None = None
    if args.as_email:
        actor = store.user_by_email(email_key(args.as_email))
        if actor is None:
            raise NotFound(f"no account for {args.as_email}")
    withdrawn = withdraw_publication(store, args.publication, actor=actor, reason=args.reason,
                                     origin=Origin.cli())
    after_withdrawal(settings, store, args.publication)
    publication = withdrawn.publication
    print(f"withdrew publication {publication.id} {publication.urn}; "
          f"{len(withdrawn.affected)} other publication(s) indexed again")
    return 0
