"""CASD cost estimates: the two worked examples of domain.md, to the cent and line by
line, the 12-month minimum, the student reduction and dated price lists."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from catalogue.casd import (
    CasdEstimate,
    CasdInputError,
    CasdInputs,
    estimate,
    load_price_lists,
    price_list_in_force,
    read_price_lists,
)
from catalogue.errors import ConfigurationError, NotFound

AUGUST_2020 = date(2020, 8, 1)
COHORT_EXAMPLE = CasdInputs(offer="cohort-project", users=2, months=12, configuration="1",
                            sd_boxes=1, options=("security_referent", "automatic_exports"),
                            start=AUGUST_2020)
PMSI_EXAMPLE = CasdInputs(offer="pmsi-project", users=4, months=6, configuration="VM1",
                          sd_boxes=1, start=AUGUST_2020)


def lines(result: CasdEstimate) -> dict[str, tuple[int, int, Decimal, Decimal]]:
    return {line.code: (line.months, line.quantity, line.unit_price, line.amount)
            for line in result.lines}


def test_cohort_project_example_of_2020_gives_4740_with_every_line() -> None:
    result = estimate(COHORT_EXAMPLE)
    assert lines(result) == {
        "sd_box": (12, 1, Decimal("35.00"), Decimal("420.00")),
        "subscription": (12, 1, Decimal("238.00"), Decimal("2856.00")),
        "users": (12, 1, Decimal("37.00"), Decimal("444.00")),
        "option:security_referent": (12, 2, Decimal("30.00"), Decimal("720.00")),
        "option:automatic_exports": (12, 1, Decimal("25.00"), Decimal("300.00")),
    }
    assert result.total == Decimal("4740.00")
    assert str(result.total) == "4740.00"  # quantised to cents, not 4740 or 4.74E+3
    assert [line.formula for line in result.lines] == [
        "12 months x 35.00 = 420.00",
        "12 months x 238.00 = 2,856.00",
        "12 months x 37.00 = 444.00",
        "12 months x 2 users x 30.00 = 720.00",
        "12 months x 25.00 = 300.00",
    ]
    assert result.price_list.id == "casd-cohort-project-2020"
    assert result.notes == ()


def test_pmsi_example_gives_2454_and_613_50_per_user() -> None:
    result = estimate(PMSI_EXAMPLE)
    assert lines(result) == {
        "sd_box": (6, 1, Decimal("35.00"), Decimal("210.00")),
        "users": (6, 4, Decimal("29.00"), Decimal("696.00")),
        "subscription": (6, 1, Decimal("258.00"), Decimal("1548.00")),
    }
    assert result.total == Decimal("2454.00")
    assert str(result.per_user) == "613.50"
    # no minimum duration is stated for PMSI projects: 6 months are 6 months
    assert result.months_billed == 6


def test_a_new_cohort_project_is_invoiced_for_at_least_12_months() -> None:
    short = estimate(CasdInputs(users=2, months=6, start=AUGUST_2020))
    full = estimate(CasdInputs(users=2, months=12, start=AUGUST_2020))
    assert short.months_billed == 12
    assert short.total == full.total == Decimal("3720.00")  # 420 + 2856 + 444
    assert any("at least 12 months (6 asked)" in note for note in short.notes)
    renewal = estimate(CasdInputs(users=2, months=6, new_project=False, start=AUGUST_2020))
    assert renewal.months_billed == 6
    assert renewal.total == Decimal("1860.00")
    longer = estimate(CasdInputs(users=2, months=18, start=AUGUST_2020))
    assert longer.months_billed == 18


def test_student_reduction_is_half_the_monthly_fee_of_the_last_user_access() -> None:
    result = estimate(CasdInputs(users=2, months=12, options=COHORT_EXAMPLE.options,
                                 student_last_user=True, start=AUGUST_2020))
    reduction = next(line for line in result.lines if line.code == "student_reduction")
    assert (reduction.months, reduction.unit_price, reduction.amount) == (
        12, Decimal("-18.50"), Decimal("-222.00"))
    assert result.total == Decimal("4518.00")  # 4740.00 - 222.00
    # the options priced per user are not reduced
    assert lines(result)["option:security_referent"][3] == Decimal("720.00")
    # three users: still one reduction, on the last access only
    three = estimate(CasdInputs(users=3, months=12, student_last_user=True, start=AUGUST_2020))
    assert lines(three)["users"] == (12, 2, Decimal("37.00"), Decimal("888.00"))
    assert lines(three)["student_reduction"][3] == Decimal("-222.00")


def test_student_reduction_is_not_guessed_where_the_sources_say_nothing() -> None:
    alone = estimate(CasdInputs(users=1, months=12, student_last_user=True, start=AUGUST_2020))
    assert "student_reduction" not in lines(alone)
    assert alone.total == Decimal("3276.00")  # 420 + 2856
    assert any("ask CASD" in note for note in alone.notes)
    pmsi = estimate(CasdInputs(offer="pmsi-project", users=4, months=6, configuration="VM1",
                               student_last_user=True))
    assert pmsi.total == Decimal("2454.00")
    assert any("states no student reduction" in note for note in pmsi.notes)


def test_the_price_list_in_force_at_a_date_is_picked(tmp_path: Path) -> None:
    shipped = load_price_lists()
    assert price_list_in_force("cohort-project", date(2023, 1, 1)).id == (
        "casd-cohort-project-2020")
    with pytest.raises(NotFound, match="earliest known starts on 2020-08-01"):
        price_list_in_force("cohort-project", date(2020, 7, 31))
    # a later list (made up for this test only) takes over from its effective date
    data = json.loads((Path(__file__).resolve().parents[2] / "catalogue" / "data"
                       / "casd_prices.json").read_text(encoding="utf-8"))
    later = dict(data["price_lists"][0], id="test-later", effective_from="2030-01-01",
                 sd_box={"label": "SD-Box", "monthly": "40.00"})
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"price_lists": [*data["price_lists"], later]}),
                    encoding="utf-8")
    lists = load_price_lists(path)
    assert len(lists) == len(shipped) + 1
    assert price_list_in_force("cohort-project", date(2029, 12, 31), lists).id == (
        "casd-cohort-project-2020")
    assert price_list_in_force("cohort-project", date(2030, 1, 1), lists).id == "test-later"
    inputs = CasdInputs(users=2, months=12, start=date(2030, 6, 1))
    assert lines(estimate(inputs, price_lists=lists))["sd_box"][3] == Decimal("480.00")
    assert lines(estimate(inputs))["sd_box"][3] == Decimal("420.00")
    # without a start date, the day of the estimate picks the list
    undated = CasdInputs(users=2, months=12)
    assert estimate(undated, today=date(2030, 2, 1), price_lists=lists).price_list.id == (
        "test-later")
    # the PMSI list is undated: it is the one in force whatever the day
    assert price_list_in_force("pmsi-project", date(2001, 1, 1)).id == "casd-pmsi-project"


def test_inputs_the_price_list_cannot_price_are_refused_field_by_field() -> None:
    with pytest.raises(CasdInputError) as refused:
        estimate(CasdInputs(users=0, months=0, configuration="9", options=("sauna",),
                            start=AUGUST_2020))
    fields = {e["field"] for e in refused.value.errors}
    assert fields == {"users", "months", "configuration", "options"}
    assert "ask CASD for a quote" in refused.value.message
    with pytest.raises(CasdInputError) as unknown_offer:
        estimate(CasdInputs(offer="private", start=AUGUST_2020))
    assert unknown_offer.value.errors[0]["field"] == "offer"
    with pytest.raises(CasdInputError) as too_early:
        estimate(CasdInputs(start=date(2019, 1, 1)))
    assert too_early.value.errors[0]["field"] == "start"


def test_inputs_survive_their_json_form_and_estimates_print_strings() -> None:
    assert CasdInputs.from_json(COHORT_EXAMPLE.to_json()) == COHORT_EXAMPLE
    assert CasdInputs.from_json(CasdInputs().to_json()) == CasdInputs()
    data = estimate(COHORT_EXAMPLE).to_json()
    assert data["total"] == "4740.00" and data["per_user"] == "2370.00"
    assert data["lines"][0]["amount"] == "420.00"
    assert json.loads(json.dumps(data)) == data


def test_price_files_with_a_bad_amount_are_a_configuration_error() -> None:
    text = json.dumps({"price_lists": [{"id": "x", "offer": "o", "title": "t",
                                        "effective_from": None, "currency": "EUR",
                                        "source": "s",
                                        "sd_box": {"label": "b", "monthly": "lots"},
                                        "user": {"label": "u", "monthly": "1"},
                                        "configurations": []}]})
    with pytest.raises(ConfigurationError, match="'lots' is not an amount"):
        read_price_lists(text)
