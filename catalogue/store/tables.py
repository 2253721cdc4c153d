"""The store's tables (SQLAlchemy Core), written to run on SQLite and PostgreSQL alike:
no SQLite-only types, text timestamps in ISO 8601 UTC, blobs as LargeBinary."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

publications = Table(
    "publications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("urn", String(512), nullable=False),
    Column("title", Text, nullable=False, default="[]"),  # LangText as JSON pairs
    Column("file_name", String(512), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("ddi_version", String(8), nullable=False),
    Column("root", String(128), nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("lenient", Boolean, nullable=False, default=False),
    Column("published_at", String(32), nullable=False),
    Column("published_by", String(320)),
    Column("report", Text, nullable=False, default="[]"),  # findings as JSON
    Column("agencies", Text, nullable=False, default=""),  # space-separated
    Column("n_variables", Integer, nullable=False, default=0),
    Column("n_questions", Integer, nullable=False, default=0),
    Column("n_code_lists", Integer, nullable=False, default=0),
    Column("n_categories", Integer, nullable=False, default=0),
    Column("n_concepts", Integer, nullable=False, default=0),
    Column("n_items", Integer, nullable=False, default=0),
    # Stores made before publication_sources existed kept the file here; opening such a
    # store moves it (see Store._move_sources): this column stays NULL.
    Column("source", LargeBinary),
    Column("source_size", Integer, nullable=False, default=0),
    Column("complete", Boolean, nullable=False, default=False),
    Column("withdrawn_at", String(32)),
    Column("withdrawn_by", String(320)),
    Column("withdrawal_reason", Text),
)

# The file as published (gzip-compressed), apart from its publication's row: SQLite
# stores a row's columns in order, so reading a column stored after a 10 MB blob walks
# the blob's 2,500 overflow pages (3 ms a publication, on every listing).
publication_sources = Table(
    "publication_sources", metadata,
    Column("publication_id", Integer, ForeignKey("publications.id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("source", LargeBinary, nullable=False),
)

items = Table(
    "items", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("publication_id", Integer, ForeignKey("publications.id", ondelete="CASCADE"),
           nullable=False),
    Column("agency", String(255), nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("version", String(64), nullable=False),
    Column("version_key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("element", String(128), nullable=False),
    Column("versionable", Boolean, nullable=False, default=True),
    Column("name", String(512), nullable=False, default=""),
    Column("parent_agency", String(255)),
    Column("parent_id", String(255)),
    Column("parent_version", String(64)),
    Column("line", Integer),
    Column("content_hash", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("xml", LargeBinary),  # zlib-compressed XML as published
    UniqueConstraint("publication_id", "agency", "item_id", "version",
                     name="uq_item_in_publication"),
)
Index("ix_items_identity", items.c.agency, items.c.item_id, items.c.version_key)
Index("ix_items_publication_kind", items.c.publication_id, items.c.kind)
Index("ix_items_parent", items.c.parent_agency, items.c.parent_id)
Index("ix_items_kind_name", items.c.kind, items.c.name)

edges = Table(
    "edges", metadata,
    Column("from_pk", Integer, ForeignKey("items.pk", ondelete="CASCADE"), nullable=False),
    Column("publication_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("role", String(64), nullable=False),
    Column("to_agency", String(255), nullable=False),
    Column("to_id", String(255), nullable=False),
    Column("to_version", String(64)),
    Column("type_of_object", String(128)),
)
Index("ix_edges_from", edges.c.from_pk)
Index("ix_edges_to", edges.c.to_agency, edges.c.to_id)

index_state = Table(
    "index_state", metadata,
    Column("engine", String(32), primary_key=True),
    Column("publication_id", Integer, primary_key=True),
    Column("indexed_at", String(32), nullable=False),
)
