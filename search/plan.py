"""A parsed query turned into engine-neutral clauses over the shared index fields.

Both engines translate the same plan into their own query objects, so that they match
the same documents for the same text; only the analyzers (each engine's own, built from
the same choices) and the scoring details differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from search.analysis import Analyzer
from search.fields import (
    GROUP_BOOSTS,
    NAME,
    NAME_BOOST,
    PLAIN_FIELDS,
    TEXT_FIELDS,
    URN,
    URN_BOOST,
    URN_KEY,
)
from search.syntax import ParsedQuery, Term

#: ``analyze(analyzer, text)``: the engine's tokens for ``text``.
Analyze = Callable[[Analyzer, str], list[str]]


@dataclass(frozen=True, slots=True)
class TermNode:
    field: str
    value: str
    boost: float = 1.0


@dataclass(frozen=True, slots=True)
class PhraseNode:
    field: str
    values: tuple[str, ...]
    boost: float = 1.0


@dataclass(frozen=True, slots=True)
class PrefixNode:
    field: str
    prefix: str
    boost: float = 1.0


@dataclass(frozen=True, slots=True)
class AnyNode:
    """At least one child matches; scores add up. No children: matches nothing."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AllNode:
    children: tuple[Node, ...]


Node = TermNode | PhraseNode | PrefixNode | AnyNode | AllNode


@dataclass(frozen=True, slots=True)
class TextPlan:
    """Every ``required`` node matches, no ``excluded`` one does; ``optional`` adds score.

    No required node means "every document" (minus the excluded ones).
    """

    required: tuple[Node, ...] = ()
    optional: tuple[Node, ...] = ()
    excluded: tuple[Node, ...] = ()


#: Matches nothing: the plan of a query without any searchable word.
NOTHING = TextPlan(required=(AnyNode(()),))
#: Queries with this many required terms that no document holds all of are searched again
#: for documents missing one ("number of cigarettes per day" finds "Cigarettes per day").
#: Fewer terms would match too loosely; more would make too large a query.
RELAXED_TERMS = range(3, 7)


def build_plan(parsed: ParsedQuery, analyze: Analyze) -> TextPlan | None:
    """The plan for ``parsed``; None when it has no text at all (browse)."""
    if parsed.is_browse:
        return None
    if parsed.unsearchable:
        return NOTHING
    required = tuple(_any(tuple(_term_node(t, analyze) for t in clause.options))
                     for clause in parsed.required)
    optional = tuple(_term_node(t, analyze) for t in parsed.optional)
    excluded = tuple(_term_node(t, analyze) for t in parsed.excluded)
    return TextPlan(required, optional, excluded)


def all_but_one(plan: TextPlan) -> TextPlan | None:
    """``plan`` matching documents that hold every required term but one, or None when it
    has too few or too many required terms for that.

    Used only once nothing holds them all, so a match satisfies exactly one of the
    alternatives and scores as the terms it holds.
    """
    required = plan.required
    if len(required) not in RELAXED_TERMS:
        return None
    alternatives = tuple(AllNode(required[:i] + required[i + 1:]) for i in range(len(required)))
    return TextPlan((AnyNode(alternatives),), plan.optional, plan.excluded)


def _any(children: tuple[Node, ...]) -> Node:
    return children[0] if len(children) == 1 else AnyNode(children)


def _boost(field: str) -> float:
    return GROUP_BOOSTS[field.rsplit("_", 1)[0]]


def _term_node(term: Term, analyze: Analyze) -> Node:
    if term.kind == "urn":
        value = term.text.lower()
        return AnyNode((TermNode(URN, value, URN_BOOST), TermNode(URN_KEY, value, URN_BOOST)))
    if term.kind == "prefix":
        return _prefix_node(term, analyze)
    if term.kind == "phrase":
        return _phrase_node(term, analyze)
    children: list[Node] = []
    for field, analyzer in TEXT_FIELDS.items():
        tokens = analyze(analyzer, term.text)
        if not tokens:
            continue
        if len(tokens) == 1:
            children.append(TermNode(field, tokens[0], _boost(field)))
        elif analyzer == "plain":
            children.append(PhraseNode(field, tuple(tokens), _boost(field)))
        else:
            # Stemmed fields keep no positions: every word, anywhere in the field.
            children.append(AllNode(tuple(TermNode(field, t, _boost(field)) for t in tokens)))
    children.extend(_name_nodes(term.text))
    return AnyNode(tuple(children))


def _prefix_node(term: Term, analyze: Analyze) -> Node:
    children: list[Node] = []
    tokens = analyze("plain", term.text)
    if len(tokens) == 1:
        children.extend(PrefixNode(field, tokens[0], _boost(field)) for field in PLAIN_FIELDS)
    elif tokens:
        # "tour de tai*": the words, then the prefix, anywhere in one field.
        for field in PLAIN_FIELDS:
            words = tuple(TermNode(field, t, _boost(field)) for t in tokens[:-1])
            children.append(AllNode((*words, PrefixNode(field, tokens[-1], _boost(field)))))
    if term.text and not any(c.isspace() for c in term.text):
        children.append(PrefixNode(NAME, term.text.lower(), NAME_BOOST))
    return AnyNode(tuple(children))


def _phrase_node(term: Term, analyze: Analyze) -> Node:
    tokens = analyze("plain", term.text)
    children: list[Node] = []
    for field in PLAIN_FIELDS:
        if len(tokens) == 1:
            children.append(TermNode(field, tokens[0], _boost(field)))
        elif tokens:
            children.append(PhraseNode(field, tuple(tokens), _boost(field)))
    children.extend(_name_nodes(term.text.strip()))
    return AnyNode(tuple(children))


def _name_nodes(text: str) -> list[Node]:
    if not text or any(c.isspace() for c in text):
        return []
    return [TermNode(NAME, text.lower(), NAME_BOOST)]
