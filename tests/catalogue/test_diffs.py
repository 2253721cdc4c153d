"""Comparing versions: items matched by Agency+ID, added, removed and changed field by
field; two publications of a small cohort, the JSON shape and its way back; which
publication a new one follows, and a cohort's history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from catalogue.accounts_model import Origin
from catalogue.accounts_roles import register_cohort
from catalogue.diffs import (
    Diff,
    DiffSide,
    ItemSet,
    compare_items,
    compare_publications,
    diff_from_json,
    field_changes,
    item_fields,
)
from catalogue.history import baseline, cohort_history, predecessor, series_key
from catalogue.model import (
    Category,
    Code,
    CodeList,
    Identity,
    LangText,
    Question,
    Reference,
    Representation,
    UserAttribute,
    Variable,
)
from catalogue.publishing import publish_paths
from catalogue.store import Store

if TYPE_CHECKING:
    from conftest import SmallDDI


def variable(id_: str = "v1", version: str = "1", **fields: object) -> Variable:
    values: dict[str, object] = {"name": "SMOKE", "label": LangText.of(fr="Fume", en="Smokes")}
    values.update(fields)
    return Variable(identity=Identity("fr.test", id_, version), element="Variable",
                    **values)  # type: ignore[arg-type]


# -- fields ---------------------------------------------------------------------------------


def test_fields_are_named_by_their_path() -> None:
    item = variable(
        description=LangText.of(en="Current smoking"),
        representation=Representation(kind="numeric", unit="cm",
                                      code_list=Reference("fr.test", "cl", "1", "code_list")),
        user_attributes=(UserAttribute("catalogue:access", "casd"),),
        references=(Reference("fr.test", "q1", "1", "question"),
                    Reference("fr.test", "c1", None, "concept"),
                    Reference("fr.test", "c2", None, "concept")))
    assert item_fields(item) == {
        "name": "SMOKE", "label[fr]": "Fume", "label[en]": "Smokes",
        "description[en]": "Current smoking",
        "user_attributes[catalogue:access]": "casd",
        "references.question": "urn:ddi:fr.test:q1:1",
        "references.concept": "urn:ddi:fr.test:c1, urn:ddi:fr.test:c2",
        "representation.kind": "numeric", "representation.unit": "cm",
    }


def test_where_an_item_was_published_is_not_a_field() -> None:
    here = variable(parent=Identity("fr.test", "scheme", "1"))
    there = variable(parent=Identity("fr.test", "other-scheme", "4"))
    assert item_fields(here) == item_fields(there)
    assert field_changes(here, there) == ()


def test_changed_fields_before_and_after() -> None:
    old = variable(representation=Representation(kind="numeric", unit="cm"))
    new = variable(version="2", label=LangText.of(fr="Fume", en="Smokes now"),
                   representation=Representation(kind="numeric", unit="mm"),
                   analysis_unit="Individual")
    changes = {c.field: (c.before, c.after) for c in field_changes(old, new)}
    assert changes == {"version": ("1", "2"), "label[en]": ("Smokes", "Smokes now"),
                       "representation.unit": ("cm", "mm"),
                       "analysis_unit": (None, "Individual")}
    assert next(iter(field_changes(old, new))).field == "version"


def test_codes_are_compared_by_value() -> None:
    def code(value: str, category: str) -> Code:
        return Code(identity=Identity("fr.test", f"cl-{value}", "1"), element="Code",
                    value=value, references=(Reference("fr.test", category, "1", "category"),))

    old = CodeList(identity=Identity("fr.test", "cl", "1"), element="CodeList",
                   codes=(code("1", "yes"), code("2", "no")))
    new = CodeList(identity=Identity("fr.test", "cl", "2"), element="CodeList",
                   codes=(code("1", "yes"), code("2", "no-v2"), code("9", "unknown")))
    changes = {c.field: (c.before, c.after) for c in field_changes(old, new)}
    assert changes == {
        "version": ("1", "2"),
        "codes[2].references.category": ("urn:ddi:fr.test:no:1", "urn:ddi:fr.test:no-v2:1"),
        "codes[9].value": (None, "9"),
        "codes[9].references.category": (None, "urn:ddi:fr.test:unknown:1"),
    }


# -- item sets ----------------------------------------------------------------------------------


def test_compare_items_by_kind() -> None:
    category = Category(identity=Identity("fr.test", "yes", "1"), element="Category",
                        label=LangText.of(en="Yes"))
    question = Question(identity=Identity("fr.test", "q", "1"), element="QuestionItem",
                        text=LangText.of(en="Do you smoke?"))
    before = ItemSet.of_items([variable("v1"), variable("v2"), category, question])
    after = ItemSet.of_items([
        variable("v1"), variable("v2", "2", name="SMOKE2"), variable("v3"), question,
        Category(identity=Identity("fr.test", "yes", "2"), element="Category",
                 label=LangText.of(en="Yes", fr="Oui"))])
    kinds = {k.section: k for k in compare_items(before, after)}
    assert list(kinds) == ["variables", "questions", "code_lists", "categories"]
    variables = kinds["variables"]
    assert [c.id for c in variables.added] == ["v3"]
    assert [c.id for c in variables.changed] == ["v2"] and variables.unchanged == 1
    assert variables.changed[0].urn == "urn:ddi:fr.test:v2:2"
    assert [(f.field, f.before, f.after) for f in variables.changed[0].fields] == [
        ("version", "1", "2"), ("name", "SMOKE", "SMOKE2")]
    assert kinds["questions"].count == 0 and kinds["questions"].unchanged == 1
    [changed] = kinds["categories"].changed
    assert [(f.field, f.after) for f in changed.fields] == [("version", "2"),
                                                            ("label[fr]", "Oui")]


def test_the_highest_version_of_a_side_is_compared() -> None:
    items = ItemSet.of_items([variable("v1", "3", name="NEW"), variable("v1", "2",
                                                                       name="OLD")])
    assert len(items) == 1
    [kind, *_] = compare_items(ItemSet(), items)
    assert [(c.version_after, c.name) for c in kind.added] == [("3", "NEW")]


def test_removed_items_keep_their_last_version() -> None:
    [kind, *_] = compare_items(ItemSet.of_items([variable("gone", "4")]), ItemSet())
    [removed] = kind.removed
    assert (removed.change, removed.version_before, removed.version_after) == ("removed", "4",
                                                                               None)
    assert removed.urn == "urn:ddi:fr.test:gone:4"


# -- publications ---------------------------------------------------------------------------------


def cohort_files(ddi: SmallDDI, *, version: str, smoke_label: str, with_bmi: bool,
                 with_alcohol: bool, no_label: str = "No") -> Path:
    categories = ddi.scheme("l:CategoryScheme", "cats",
                            ddi.category("yes", {"en": "Yes", "fr": "Oui"}),
                            ddi.category("no", {"en": no_label, "fr": "Non"},
                                         version="2" if no_label != "No" else "1"),
                            version=version)
    code_lists = ddi.scheme("l:CodeListScheme", "cls",
                            ddi.code_list("yesno", [("1", "yes"), ("2", "no")]),
                            version=version)
    questions = ddi.scheme("d:QuestionScheme", "qs",
                           ddi.question("q-smoke", {"en": "Do you smoke?"}), version=version)
    variables = [ddi.variable("v-smoke", "SMOKE", {"en": smoke_label},
                              version="2" if smoke_label != "Smokes" else "1",
                              question=("q-smoke", "1"), code_list=("yesno", "1"))]
    if with_bmi:
        variables.append(ddi.variable("v-bmi", "BMI", {"en": "Body mass index"}))
    if with_alcohol:
        variables.append(ddi.variable("v-alcohol", "ALCOHOL", {"en": "Drinks alcohol"}))
    scheme = ddi.scheme("l:VariableScheme", "vars", *variables, version=version)
    return ddi.write(f"cohort-{version}.xml", questions, categories, code_lists, scheme,
                     version=version)


@pytest.fixture
def two_versions(tmp_path: Path, ddi: SmallDDI, schema_dir: Path) -> tuple[Store, int, int]:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    first = cohort_files(ddi, version="1", smoke_label="Smokes", with_bmi=True,
                         with_alcohol=False)
    second = cohort_files(ddi, version="2", smoke_label="Smokes every day", with_bmi=False,
                          with_alcohol=True, no_label="No, never")
    [one] = publish_paths([first], store, schema_dir)
    [two] = publish_paths([second], store, schema_dir)
    return store, one.publication.id, two.publication.id


def test_two_publications(two_versions: tuple[Store, int, int]) -> None:
    store, one, two = two_versions
    diff = compare_publications(store, one, two)
    assert diff.before is not None and diff.before.publication_id == one
    assert diff.after.publication_id == two
    kinds = {k.section: k for k in diff.kinds}
    variables = kinds["variables"]
    assert [c.name for c in variables.added] == ["ALCOHOL"]
    assert [c.name for c in variables.removed] == ["BMI"]
    [smoke] = variables.changed
    assert {f.field: (f.before, f.after) for f in smoke.fields} == {
        "version": ("1", "2"), "label[en]": ("Smokes", "Smokes every day")}
    [no] = kinds["categories"].changed
    assert {f.field: f.after for f in no.fields} == {"version": "2", "label[en]": "No, never"}
    assert kinds["questions"].count == 0 and kinds["code_lists"].count == 0
    assert diff.totals() == {"added": 1, "removed": 1, "changed": 2, "unchanged": 3}
    assert diff.count == 4


def test_json_shape_and_back(two_versions: tuple[Store, int, int]) -> None:
    store, one, two = two_versions
    diff = compare_publications(store, one, two)
    data = json.loads(json.dumps(diff.to_json()))
    assert set(data) == {"from", "to", "summary", "kinds"}
    assert set(data["from"]) == {"publication", "upload", "urn", "file", "title",
                                 "published_at", "withdrawn"}
    assert [k["kind"] for k in data["kinds"]] == ["variables", "questions", "code_lists",
                                                  "categories"]
    [changed] = data["kinds"][0]["changed"]
    assert changed == {
        "change": "changed", "urn": "urn:ddi:fr.test:v-smoke:2", "agency": "fr.test",
        "id": "v-smoke", "version_before": "1", "version_after": "2", "name": "SMOKE",
        "label": {"en": "Smokes every day"},
        "fields": [{"field": "version", "before": "1", "after": "2"},
                   {"field": "label[en]", "before": "Smokes", "after": "Smokes every day"}]}
    assert diff_from_json(data) == diff


def test_from_nothing_everything_is_added(two_versions: tuple[Store, int, int]) -> None:
    store, one, _ = two_versions
    diff = compare_publications(store, None, one)
    assert diff.before is None and diff.to_json()["from"] is None
    assert diff.totals() == {"added": 6, "removed": 0, "changed": 0, "unchanged": 0}


def test_an_upload_side() -> None:
    diff = Diff(None, DiffSide(LangText(), "new.xml", upload="tok"), ())
    assert diff.to_json()["to"]["upload"] == "tok" and diff.count == 0


# -- history ------------------------------------------------------------------------------------


def test_history_baseline_and_predecessor(two_versions: tuple[Store, int, int], ddi: SmallDDI,
                                          schema_dir: Path) -> None:
    store, one, two = two_versions
    register_cohort(store, actor=None, slug="test", name="Test", agencies=["fr.test"],
                    origin=Origin.cli())
    other = type(ddi)(ddi.directory, agency="fr.other")
    [elsewhere] = publish_paths([other.write("other.xml", other.scheme(
        "l:VariableScheme", "vars", other.variable("v", "V", {"en": "V"})))], store, schema_dir)
    history = cohort_history(store, "test")
    assert [p.id for p in history.publications] == [two, one]
    assert history.current is not None and history.current.id == two
    publication_two = store.get_publication(two)
    assert series_key(publication_two.urn) == "fr.test:publication"
    assert baseline(history, "fr.test:publication") == publication_two
    assert baseline(history, "fr.test:something-else") == publication_two
    before = predecessor(store, publication_two)
    assert before is not None and before.id == one
    assert predecessor(store, store.get_publication(one)) is None
    assert predecessor(store, store.get_publication(elsewhere.publication.id)) is None

    store.withdraw(two, by=None, reason="test", at="2026-01-01T00:00:00Z")
    history = cohort_history(store, "test")
    assert [p.id for p in history.live] == [one]
    assert history.current is not None and history.current.id == one
