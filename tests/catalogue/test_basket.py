"""The basket: anonymous tokens, adding variables one by one, a question across waves, a
topic within a wave, grouping by cohort and wave, and merging on sign-in."""

from __future__ import annotations

import pytest

from catalogue import basket as basket_module
from catalogue.accounts_model import User, iso, utc_now
from catalogue.basket import (
    BasketKey,
    add_question,
    add_topic,
    add_variables,
    attach_basket,
    basket_contents,
    basket_entries,
    clear_basket,
    ensure_anonymous_basket,
    new_basket_token,
    remove_question,
    remove_topic,
    remove_variables,
    selected_keys,
)
from catalogue.browse import Catalogue
from catalogue.errors import BadRequest, NotFound
from catalogue.requests_model import Limits
from catalogue.store import Store

C = "urn:ddi:fr.constances"
HEALTH_S1 = f"{C}:var-S1-SANTE_PERCUE_S1"
KINE_SNDS = f"{C}:var-SNDS-SNDS_KINE_A0"
HEIGHT_INC = f"{C}:var-INC-TAILLE_INC"


def make_user(store: Store, email: str) -> User:
    return store.add_user(email=email, email_key=email.lower(), name=email.split("@")[0],
                          affiliation="Inserm", password_hash=None, lang="en",
                          created_at=iso(utc_now()), confirmed_at=None)


def test_anonymous_baskets_live_under_a_random_token_the_store_only_hashes(
        catalogue: Catalogue) -> None:
    token = ensure_anonymous_basket(catalogue, None)
    assert ensure_anonymous_basket(catalogue, token) == token
    add_variables(catalogue, BasketKey.anonymous(token), [HEALTH_S1])
    # a token nobody was given is never adopted; a malformed one is refused
    stranger = new_basket_token()
    assert ensure_anonymous_basket(catalogue, stranger) not in (stranger, token)
    assert ensure_anonymous_basket(catalogue, "x' OR 1=1 --") != token
    with pytest.raises(BadRequest, match="malformed"):
        BasketKey.anonymous("x' OR 1=1 --")
    with pytest.raises(NotFound):
        add_variables(catalogue, BasketKey.anonymous(stranger), [HEALTH_S1])
    assert basket_entries(catalogue, BasketKey.anonymous(stranger)) == ()
    with catalogue.store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM baskets").scalars().all()
    assert token not in stored and len(stored[0]) == 64


def test_a_basket_records_urn_and_version_and_groups_by_cohort_and_wave(
        catalogue: Catalogue) -> None:
    key = BasketKey.of_user(make_user(catalogue.store, "ana@example.org").id)
    change = add_variables(catalogue, key, [HEALTH_S1, f"{KINE_SNDS}:1", HEIGHT_INC,
                                            "urn:ddi:fr.elfe:var-M2-CR_POIDS_M2"])
    assert change.added == (f"{HEALTH_S1}:1", f"{KINE_SNDS}:1", f"{HEIGHT_INC}:1",
                            "urn:ddi:fr.elfe:var-M2-CR_POIDS_M2:1")
    assert {(s.agency, s.id, s.version) for s in basket_entries(catalogue, key)} == {
        ("fr.constances", "var-S1-SANTE_PERCUE_S1", "1"),
        ("fr.constances", "var-SNDS-SNDS_KINE_A0", "1"),
        ("fr.constances", "var-INC-TAILLE_INC", "1"),
        ("fr.elfe", "var-M2-CR_POIDS_M2", "1")}
    again = add_variables(catalogue, key, [HEALTH_S1])
    assert again.unchanged == (f"{HEALTH_S1}:1",) and again.added == ()

    basket = basket_contents(catalogue, key)
    assert [c.slug for c in basket.cohorts] == ["constances", "elfe"]
    constances = basket.cohorts[0]
    # waves in the cohort's order: inclusion, follow-up 1, ..., SNDS linkage
    assert [w.urn for w in constances.waves] == [
        f"{C}:su-INC:1", f"{C}:su-S1:1", f"{C}:su-SNDS:1"]
    assert [w.count for w in constances.waves] == [1, 1, 1]
    assert constances.waves[2].label.get("en") == "SNDS linkage (national health insurance data)"
    snds = constances.waves[2].variables[0]
    assert (snds.name, snds.access, snds.casd_only) == ("SNDS_KINE_A0", "casd", True)
    assert snds.label.get("en") == (
        "Number of reimbursed physiotherapy sessions, in the year of inclusion")
    assert constances.waves[1].variables[0].question_text.get("en") == (
        "How is your health in general?")
    assert (constances.count, constances.casd_count, constances.casd_required) == (3, 1, True)
    assert (basket.cohorts[1].count, basket.cohorts[1].casd_required) == (1, False)
    assert (basket.count, basket.casd_count, basket.casd_required) == (4, 1, True)
    assert basket.drifted == ()
    assert "fr.elfe:var-M2-CR_POIDS_M2" in selected_keys(catalogue, key)


def test_adding_anything_but_variables_adds_nothing_and_names_each_culprit(
        catalogue: Catalogue) -> None:
    key = BasketKey.of_user(make_user(catalogue.store, "bo@example.org").id)
    with pytest.raises(BadRequest) as refused:
        add_variables(catalogue, key, [HEALTH_S1, f"{C}:q-SANTE_PERCUE:1", "not a urn",
                                       f"{C}:var-NOPE:1", f"{HEALTH_S1}:99"])
    assert {e["field"]: e["message"] for e in refused.value.errors} == {
        f"{C}:q-SANTE_PERCUE:1": "a QuestionItem, not a variable",
        "not a urn": "not a DDI URN",
        f"{C}:var-NOPE:1": "not in the catalogue",
        f"{HEALTH_S1}:99": "not in the catalogue"}
    assert basket_entries(catalogue, key) == ()


def test_a_whole_question_is_added_across_its_waves_and_removed_again(
        catalogue: Catalogue) -> None:
    key = BasketKey.of_user(make_user(catalogue.store, "cy@example.org").id)
    add_variables(catalogue, key, [HEIGHT_INC])
    change = add_question(catalogue, key, f"{C}:q-SANTE_PERCUE")
    assert len(change.added) == 6
    waves = [w for w in basket_contents(catalogue, key).cohorts[0].waves]
    assert [w.urn.split(":")[3] for w in waves] == [
        "su-INC", "su-S1", "su-S2", "su-S3", "su-S4", "su-S5"]
    assert all(v.question_urn == f"{C}:q-SANTE_PERCUE:1" for w in waves[1:]
               for v in w.variables)
    removed = remove_question(catalogue, key, f"{C}:q-SANTE_PERCUE:1")
    assert len(removed.removed) == 6
    assert [s.id for s in basket_entries(catalogue, key)] == ["var-INC-TAILLE_INC"]
    with pytest.raises(NotFound):
        add_question(catalogue, key, HEIGHT_INC)  # a variable is not a question


def test_a_whole_topic_is_added_within_one_wave(catalogue: Catalogue) -> None:
    key = BasketKey.of_user(make_user(catalogue.store, "di@example.org").id)
    change = add_topic(catalogue, key, f"{C}:su-SNDS", "urn:ddi:fr.cohortes:medication")
    assert len(change.added) == 36
    basket = basket_contents(catalogue, key)
    assert [w.urn for c in basket.cohorts for w in c.waves] == [f"{C}:su-SNDS:1"]
    assert basket.casd_count == 36
    # mental health is asked at inclusion and in follow-ups: only inclusion's are added
    add_topic(catalogue, key, f"{C}:su-INC:1", "urn:ddi:fr.cohortes:mental_health:1")
    waves = basket_contents(catalogue, key).cohorts[0].waves
    assert [(w.urn, w.count) for w in waves] == [(f"{C}:su-INC:1", 20), (f"{C}:su-SNDS:1", 36)]
    assert len(remove_topic(catalogue, key, f"{C}:su-SNDS",
                            "urn:ddi:fr.cohortes:medication").removed) == 36
    assert basket_contents(catalogue, key).count == 20
    with pytest.raises(NotFound, match="is a cohort"):
        add_topic(catalogue, key, f"{C}:constances", "urn:ddi:fr.cohortes:medication")


def test_removing_and_clearing(catalogue: Catalogue) -> None:
    key = BasketKey.of_user(make_user(catalogue.store, "ed@example.org").id)
    add_variables(catalogue, key, [HEALTH_S1, HEIGHT_INC])
    assert remove_variables(catalogue, key, [f"{HEALTH_S1}:7"]).removed == (f"{HEALTH_S1}:1",)
    assert remove_variables(catalogue, key, [HEALTH_S1]).removed == ()
    assert clear_basket(catalogue, key) == 1
    assert basket_contents(catalogue, key).count == 0


def test_signing_in_merges_the_anonymous_basket_into_the_account(catalogue: Catalogue) -> None:
    user = make_user(catalogue.store, "fa@example.org")
    add_variables(catalogue, BasketKey.of_user(user.id), [HEIGHT_INC, HEALTH_S1])
    token = ensure_anonymous_basket(catalogue, None)
    add_variables(catalogue, BasketKey.anonymous(token), [HEALTH_S1, KINE_SNDS])
    attached = attach_basket(catalogue, token, user.id)
    assert (attached.moved, attached.dropped) == (1, 0)
    assert {s.id for s in basket_entries(catalogue, BasketKey.of_user(user.id))} == {
        "var-INC-TAILLE_INC", "var-S1-SANTE_PERCUE_S1", "var-SNDS-SNDS_KINE_A0"}
    # the anonymous basket is gone: its token now starts a new, empty one
    assert ensure_anonymous_basket(catalogue, token) != token
    assert attach_basket(catalogue, token, user.id).moved == 0


def test_a_basket_has_a_size_limit_and_an_oversized_add_adds_nothing(
        catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(basket_module, "LIMITS", Limits(basket_variables=5))
    key = BasketKey.of_user(make_user(catalogue.store, "gu@example.org").id)
    add_variables(catalogue, key, [HEIGHT_INC])
    with pytest.raises(BadRequest, match="at most 5 variables"):
        add_question(catalogue, key, f"{C}:q-SANTE_PERCUE:1")
    assert [s.id for s in basket_entries(catalogue, key)] == ["var-INC-TAILLE_INC"]
