"""The bundled cohorts and one DDI-L 3.2 file, published once per test session, and a
fresh copy of that store for each test that asks for ``catalogue`` (baskets, access
requests, their review and exports)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from catalogue.accounts_model import Role, User, iso, utc_now
from catalogue.browse import Catalogue
from catalogue.publishing import publish_paths
from catalogue.store import Store
from cohorts import bundled_files

SHARED = Path(__file__).resolve().parents[3] / "shared"
CLOSER_32 = SHARED / "ddi-examples" / "third-party" / "32_closer_extract2ddi_testfile.xml"


def _copy_database(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as a, closing(sqlite3.connect(target)) as b:
        a.backup(b)


@pytest.fixture(scope="session")
def published_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled cohorts and one DDI-L 3.2 file, published once per test session."""
    path = tmp_path_factory.getbasetemp() / "requests-catalogue.sqlite"
    if not path.exists():
        building = path.with_name("requests-catalogue.building.sqlite")
        store = Store(f"sqlite:///{building}")
        publish_paths([*bundled_files(), CLOSER_32], store, SHARED / "ddi-schemas")
        store.close()
        _copy_database(building, path)
    return path


@pytest.fixture
def catalogue(published_catalogue: Path, tmp_path: Path) -> Iterator[Catalogue]:
    database = tmp_path / "catalogue.sqlite"
    _copy_database(published_catalogue, database)
    store = Store(f"sqlite:///{database}")
    yield Catalogue(store)
    store.close()


def _make_user(store: Store, email: str, *reviewer_of: str) -> User:
    user = store.add_user(email=email, email_key=email.lower(), name=email.split("@")[0],
                          affiliation="Inserm", password_hash=None, lang="en",
                          created_at=iso(utc_now()), confirmed_at=iso(utc_now()))
    for cohort in reviewer_of:
        store.add_role(user.id, Role("reviewer", cohort), at=iso(utc_now()), by=None)
    found = store.user_by_id(user.id)
    assert found is not None
    return found


@pytest.fixture
def make_user() -> Callable[..., User]:
    """``make_user(store, email, *reviewer_of)``: a confirmed account, reviewer of the
    cohorts named."""
    return _make_user
