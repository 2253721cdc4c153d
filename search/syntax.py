"""The query language people type, parsed once for both engines.

Words are all required (``tabac alcool``; when nothing holds all of three to six words,
results missing one are shown, with a warning); ``OR`` offers alternatives
(``tabac OR alcool``); ``-word`` or ``NOT word`` excludes; ``"a phrase"`` matches those
words in that order, unstemmed; ``tabag*`` is a prefix; ``urn:ddi:agency:id[:version]``
finds that item. Stop words (``de``, ``the``) only help ranking unless the query has
nothing else.

The parser never fails: stray quotes, operators without operands, brackets and field
syntax (``title:``) are read as plain words or dropped, so every input gets an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from catalogue.model import parse_urn
from search.analysis import STOP_WORDS, WORD_PATTERN, fold

TermKind = Literal["word", "prefix", "phrase", "urn"]

#: Longer queries are cut: nobody types them, and each word costs a query per field.
MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 32
#: Shorter prefixes would expand to most of the vocabulary.
MIN_PREFIX_LENGTH = 2

_TOKEN = re.compile(r'(?P<neg>-?)"(?P<phrase>[^"]*)"?|(?P<token>[^\s"]+)')
_OR = frozenset({"OR", "|", "||"})
_AND = frozenset({"AND", "&&", "&", "+"})
_NOT = frozenset({"NOT", "!"})
_BRACKETS = "()[]{}"


@dataclass(frozen=True, slots=True)
class Term:
    kind: TermKind
    #: As typed, without quotes or the prefix star.
    text: str

    @property
    def words(self) -> list[str]:
        return WORD_PATTERN.findall(self.text)


@dataclass(frozen=True, slots=True)
class Clause:
    """Alternatives joined by OR; most clauses have one."""

    options: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    required: tuple[Clause, ...] = ()
    #: Stop words: they raise the score of documents holding them but filter nothing.
    optional: tuple[Term, ...] = ()
    excluded: tuple[Term, ...] = ()
    #: True when the text held something but nothing searchable (``AND OR (``).
    unsearchable: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def is_browse(self) -> bool:
        """No text at all: every document matches (filters still apply)."""
        return not (self.required or self.optional or self.excluded or self.unsearchable)

    def positive_terms(self) -> Iterator[Term]:
        for clause in self.required:
            yield from clause.options
        yield from self.optional


def parse_query(text: str) -> ParsedQuery:
    """Read what someone typed into required, optional and excluded terms."""
    warnings: list[str] = []
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        warnings.append(f"the query was cut to its first {MAX_QUERY_CHARS} characters")
    clauses: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    negate_next = False
    saw_text = False
    for match in _TOKEN.finditer(text):
        phrase = match["phrase"]
        if phrase is not None:
            saw_text = True
            term: Term | None = Term("phrase", phrase) if WORD_PATTERN.search(phrase) else None
            negated = bool(match["neg"]) or negate_next
        else:
            token = match["token"]
            if token == "*":
                continue  # "everything": the same as no text
            saw_text = True
            if token in _OR:
                pending_or = bool(clauses)
                continue
            if token in _AND:
                continue
            if token in _NOT:
                negate_next = True
                continue
            negated = negate_next
            if token.startswith("-") and len(token) > 1:
                negated, token = True, token[1:]
            term = _read_token(token.lstrip("+"))
        negate_next = False
        if term is None:
            continue
        if negated:
            excluded.append(term)
            pending_or = False
        elif pending_or:
            clauses[-1].append(term)
            pending_or = False
        else:
            clauses.append([term])
    if len(clauses) > MAX_CLAUSES:
        clauses = clauses[:MAX_CLAUSES]
        warnings.append(f"the query was cut to its first {MAX_CLAUSES} terms")
    excluded = excluded[:MAX_CLAUSES]
    required = [Clause(tuple(c)) for c in clauses if not _is_stop_clause(c)]
    optional = [c[0] for c in clauses if _is_stop_clause(c)]
    if not required and optional:
        # Only stop words ("de la"): they are all the query has, so they must match.
        required, optional = [Clause((t,)) for t in optional], []
    unsearchable = saw_text and not (required or optional or excluded)
    if unsearchable:
        warnings.append("the query has no words to search for")
    return ParsedQuery(tuple(required), tuple(optional), tuple(excluded), unsearchable,
                       tuple(warnings))


def _read_token(token: str) -> Term | None:
    token = token.strip(_BRACKETS)
    if token.lower().startswith("urn:ddi:"):
        candidate = token.rstrip(".,;")
        if parse_urn(candidate) is not None:
            return Term("urn", candidate)
    if token.endswith("*"):
        stem = token.rstrip("*")
        if len(fold("".join(WORD_PATTERN.findall(stem)))) >= MIN_PREFIX_LENGTH:
            return Term("prefix", stem)
        token = stem
    token = token.replace("*", " ")
    if not WORD_PATTERN.search(token):
        return None
    return Term("word", token)


def _is_stop_clause(options: list[Term]) -> bool:
    if len(options) != 1 or options[0].kind != "word":
        return False
    return all(fold(w) in STOP_WORDS for w in options[0].words)
