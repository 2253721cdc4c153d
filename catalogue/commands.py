"""CLI commands on DDI-L content: validate, publish, list, show."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalogue.batch import batch_collection
from catalogue.errors import BadRequest, NotFound
from catalogue.settings import Settings
from ddi_schemas.findings import FileReport, report_text
from ddi_schemas.worker import start_early

if TYPE_CHECKING:
    from catalogue.store import Store

# The store (SQLAlchemy) and publishing are imported by the commands that use them:
# ``catalogue validate`` starts in half the time without them. It imports the reader, the
# XSD and the profile rules (lxml, langcodes, the model) once its first file's XSD helper
# is started, which compiles the XSD meanwhile.


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = sub.add_parser(
        "validate", help="check DDI-L files against the official XSD and the profile rules",
        description="Exit status: 0 valid, 1 invalid (XSD or error-level profile rule, or "
                    "any warning with --strict), 2 unusable input.")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                          help="DDI-L files, or directories to search for *.xml")
    validate.add_argument("--format", choices=("text", "json"), default="text",
                          help="json prints one object per file, one per line")
    validate.add_argument("--strict", action="store_true", help="warnings make it fail too")
    validate.set_defaults(handler=_validate)

    publish = sub.add_parser(
        "publish", help="validate, read and store DDI-L files, all or nothing",
        description="Every file of one command is one publication; the command publishes "
                    "all of them or none. References between the files resolve.")
    publish.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    publish.add_argument("--lenient", action="store_true",
                         help="publish XSD-invalid files whose content is readable; the "
                              "report is kept with the publication")
    publish.add_argument("--as", dest="as_email", metavar="EMAIL",
                         help="publish as this catalogue account")
    publish.add_argument("--bundled", action="store_true",
                         help="publish the shared topics and the four bundled cohorts")
    publish.add_argument("--if-new", action="store_true",
                         help="skip files already published unchanged (same SHA-256)")
    publish.add_argument("--json", action="store_true", help="print the publications as JSON")
    publish.set_defaults(handler=_publish)

    listing = sub.add_parser("list", help="list publications")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--live", action="store_true", help="leave out withdrawn ones")
    listing.set_defaults(handler=_list)

    reindex = sub.add_parser("reindex", help="rebuild the search index from the store")
    reindex.set_defaults(handler=_reindex)

    search = sub.add_parser("search", help="search variables, questions and studies")
    search.add_argument("query", nargs="?", default="", help="words, \"a phrase\", prefix*")
    search.add_argument("--cohort", action="append", default=[], metavar="SLUG")
    search.add_argument("--wave", action="append", default=[], metavar="URN")
    search.add_argument("--year", action="append", default=[])
    search.add_argument("--topic", action="append", default=[])
    search.add_argument("--instrument", action="append", default=[])
    search.add_argument("--response-type", action="append", default=[])
    search.add_argument("--access", action="append", default=[], choices=("open", "casd"))
    search.add_argument("--kind", action="append", default=[],
                        choices=("variable", "question", "study"))
    search.add_argument("--page", type=int, default=1)
    search.add_argument("--page-size", type=int, default=20)
    search.add_argument("--group", action="store_true",
                        help="one result per question, with its variables of every wave")
    search.add_argument("--lang", choices=("fr", "en"), default="en")
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=_search)

    show = sub.add_parser("show", help="print an item (by URN) and its versions")
    show.add_argument("urn", help="urn:ddi:AGENCY:ID[:VERSION]")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories become the *.xml files below them, sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*.xml") if p.is_file()))
        else:
            out.append(path)
    return out


def open_store(settings: Settings) -> Store:
    from catalogue.store import Store  # noqa: PLC0415 - see the imports

    return Store(settings.store_url)


def existing_store(settings: Settings) -> Store | None:
    """The store when it exists; validation never creates one."""
    if not settings.database_url and not (settings.data_dir / "catalogue.sqlite").exists():
        return None
    return open_store(settings)


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    paths = expand_paths(args.paths)
    if not paths:
        raise BadRequest("no file to validate: the directories given hold no *.xml file")
    # Work on the first file starts before the rest is imported (see the imports): the XSD
    # helper of a small file, else the parse of its tree for the profile rules (both on a
    # small file took longer: 0.36-0.41 s against 0.35-0.36 s for 2.5 MB).
    early = start_early(paths[0], settings.ddi_schemas)
    from ddi_schemas.inspect import parse_early  # noqa: PLC0415

    parsed = parse_early(paths[0]) if early is None else None
    from catalogue.validation import validate_paths  # noqa: PLC0415
    from catalogue.xsd_runner import XsdRunner  # noqa: PLC0415

    with XsdRunner(settings.ddi_schemas, {paths[0]: early}) as runner, batch_collection():
        store = existing_store(settings)
        reports = validate_paths(paths, settings.ddi_schemas,
                                 store.existing_targets if store else None,
                                 store.held_contents if store else None, runner,
                                 {paths[0]: parsed})
    for report in reports:
        if args.format == "json":
            print(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            print(report_text(report))
    return _exit_status(reports, strict=args.strict)


def _exit_status(reports: list[FileReport], *, strict: bool) -> int:
    if any(r.unusable is not None for r in reports):
        return 2
    if any(not r.valid or (strict and r.warnings) for r in reports):
        return 1
    return 0


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    with batch_collection():
        return _publish_batch(args, settings)


def _publish_batch(args: argparse.Namespace, settings: Settings) -> int:
    from catalogue.accounts_audit import record_publication  # noqa: PLC0415
    from catalogue.accounts_model import Origin  # noqa: PLC0415
    from catalogue.publishing import PublishRefused, publish_paths  # noqa: PLC0415

    paths = expand_paths(args.paths)
    if args.bundled:
        from cohorts import bundled_files  # noqa: PLC0415 - only this command needs it

        paths.extend(bundled_files())
    if not paths:
        raise BadRequest("nothing to publish: give DDI-L files, a directory or --bundled")
    store = open_store(settings)
    if args.if_new:
        known = {p.sha256 for p in store.list_publications()}
        paths = [p for p in paths if _sha256(p) not in known]
        if not paths:
            print("nothing new to publish")
            return 0
    published_by = _publisher(args, settings, store, paths)
    try:
        results = publish_paths(paths, store, settings.ddi_schemas, lenient=args.lenient,
                                published_by=published_by)
    except PublishRefused as refused:
        for report in refused.reports:
            print(report_text(report), file=sys.stderr)
        print(f"error: {refused.message}", file=sys.stderr)
        return refused.exit_code
    record_publication(store, actor=published_by, origin=Origin.cli(), lenient=args.lenient,
                       publication_ids=[r.publication.id for r in results])
    after_publish(settings, store, [r.publication.id for r in results])
    if args.json:
        print(json.dumps([r.publication.to_json() for r in results], ensure_ascii=False,
                         indent=2))
    else:
        for result in results:
            pub = result.publication
            counts = pub.counts
            flag = " (lenient: XSD-invalid)" if pub.lenient else ""
            print(f"published {pub.file_name} as publication {pub.id} {pub.urn}{flag}: "
                  f"{counts.variables} variables, {counts.questions} questions, "
                  f"{counts.code_lists} code lists, {counts.categories} categories, "
                  f"{counts.concepts} concepts; {len(result.report.warnings)} warnings")
    return 0


def _publisher(args: argparse.Namespace, settings: Settings, store: Store,
               paths: list[Path]) -> str | None:
    """Who publishes: checked against the accounts when ``--as`` is given."""
    if not args.as_email:
        return None
    try:
        accounts = importlib.import_module("catalogue.accounts_cli")
    except ImportError:
        raise BadRequest("--as needs the accounts module, which is not installed") from None
    email: str = accounts.check_publisher(settings, store, args.as_email, paths)
    return email


def after_publish(settings: Settings, store: Store, publication_ids: list[int]) -> None:
    """Bring the search index up to date with new publications (when search is set up)."""
    try:
        indexing = importlib.import_module("search.indexing")
    except ImportError:
        return
    indexing.index_publications(settings, store, publication_ids)


def _reindex(args: argparse.Namespace, settings: Settings) -> int:
    from search.indexing import reindex  # noqa: PLC0415

    store = open_store(settings)
    with batch_collection():
        count = reindex(settings, store)
    print(f"indexed {count} documents with {settings.search_engine}")
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from search.cli import run_search  # noqa: PLC0415

    return run_search(args, settings)


def _sha256(path: Path) -> str:
    import hashlib  # noqa: PLC0415

    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _list(args: argparse.Namespace, settings: Settings) -> int:
    store = existing_store(settings)
    publications = store.list_publications(include_withdrawn=not args.live) if store else []
    if args.json:
        print(json.dumps([p.to_json() for p in publications], ensure_ascii=False, indent=2))
        return 0
    if not publications:
        print("no publication yet")
    for pub in publications:
        state = " WITHDRAWN" if pub.withdrawn else ""
        lenient = " lenient" if pub.lenient else ""
        print(f"{pub.id:>4}  {pub.published_at}  DDI-L {pub.ddi_version}{lenient}{state}  "
              f"{pub.urn}  {pub.title.best('en', 'fr')!r}  variables={pub.counts.variables}")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from catalogue.model import parse_urn  # noqa: PLC0415 - see the imports

    parts = parse_urn(args.urn)
    if parts is None:
        raise BadRequest(f"{args.urn!r} is not a DDI URN (urn:ddi:AGENCY:ID[:VERSION])")
    store = existing_store(settings)
    stored = store.get_item(args.urn) if store else None
    if store is None or stored is None:
        raise NotFound(f"{args.urn} is not in the catalogue")
    versions = store.versions(parts.agency, parts.id)
    item = stored.item
    if args.json:
        from catalogue.codec import encode_item  # noqa: PLC0415

        data: dict[str, Any] = {
            "urn": item.urn, "kind": item.kind, "element": item.element, "name": item.name,
            "label": dict(item.label.values), "publication": stored.publication_id,
            "withdrawn": stored.withdrawn, "content": json.loads(encode_item(item)),
            "versions": [{"version": v.version, "publication": v.publication_id,
                          "published_at": v.published_at, "withdrawn": v.withdrawn}
                         for v in versions],
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"{item.urn}  ({item.element})")
    if item.name:
        print(f"  name: {item.name}")
    for lang, text in item.label.values:
        print(f"  label [{lang or '-'}]: {text}")
    for lang, text in item.description.values:
        print(f"  description [{lang or '-'}]: {text}")
    print(f"  publication: {stored.publication_id}, published {stored.published_at}"
          + (" (WITHDRAWN)" if stored.withdrawn else ""))
    for ref in item.references:
        print(f"  -> {ref.role}: {ref.urn}")
    print("  versions:")
    for version in versions:
        print(f"    {version.version}  publication {version.publication_id}  "
              f"{version.published_at}" + ("  withdrawn" if version.withdrawn else ""))
    return 0
