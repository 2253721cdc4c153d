"""``catalogue search``: the same search the web page runs, for scripts and people."""

from __future__ import annotations

import argparse
import json
from typing import Any

from catalogue.settings import Settings
from catalogue.store import Store
from search.indexing import catch_up, open_index
from search.query import Filters, SearchQuery
from search.results import Hit, SearchResults


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    pairs = [(facet, value) for facet in ("cohort", "wave", "year", "topic", "instrument",
                                          "response_type", "access", "kind")
             for value in getattr(args, facet)]
    query = SearchQuery(text=args.query, filters=Filters.from_pairs(pairs), page=args.page,
                        page_size=args.page_size, group=args.group)
    store = Store(settings.store_url)
    with open_index(settings, store) as engine:
        catch_up(settings, store, engine)
        results = engine.search(query)
    if args.json:
        print(json.dumps(results_json(results, args.lang), ensure_ascii=False, indent=2))
    else:
        print(results_text(results, args.lang))
    return 0


def hit_json(hit: Hit, lang: str) -> dict[str, Any]:
    doc = hit.document
    return {"urn": doc.urn, "kind": doc.kind, "name": doc.name, "label": hit.label(lang),
            "cohort": doc.cohort, "wave": doc.wave, "snippet": hit.snippet}


def results_json(results: SearchResults, lang: str) -> dict[str, Any]:
    """The stable JSON shape: ``total``, ``page``, ``hits``, ``facets``, ``suggestion``
    (plus ``groups`` when grouping)."""
    data: dict[str, Any] = {
        "total": results.total,
        "page": results.page,
        "hits": [hit_json(h, lang) for h in results.hits]
        if not results.groups else [hit_json(g.best, lang) for g in results.groups],
        "facets": {f.name: {v.value: v.count for v in f.values} for f in results.facets},
        "suggestion": results.suggestion,
    }
    if results.groups:
        data["groups"] = [{"group_key": g.group_key, "size": g.size,
                           "hits": [hit_json(h, lang) for h in g.hits]}
                          for g in results.groups]
    if results.warnings:
        data["warnings"] = list(results.warnings)
    return data


def results_text(results: SearchResults, lang: str) -> str:
    lines = [f"{results.total} result(s), page {results.page} of {results.pages}"]
    if results.suggestion:
        lines.append(f"did you mean: {results.suggestion}")
    lines.extend(results.warnings)
    hits = [g.best for g in results.groups] if results.groups else list(results.hits)
    for hit in hits:
        doc = hit.document
        where = " / ".join(x for x in (doc.cohort_label, doc.wave) if x)
        lines.append(f"- {doc.name or doc.kind}  {hit.label(lang)}  [{where}]  {doc.urn}")
    return "\n".join(lines)
