"""CASD secure-workspace cost estimates, from dated price lists kept as data.

SNDS-linked and other sensitive variables are only reachable inside a CASD secure
workspace, which CASD invoices to the project's funder. Prices change over time, so they
live in ``catalogue/data/casd_prices.json``, one list per offer (``cohort-project``,
``pmsi-project``) and effective date; :func:`price_list_in_force` picks the list of an
offer in force on a date, :func:`estimate` turns :class:`CasdInputs` into itemised lines.

Rules applied, as the sources state them:

- every line is ``months x [units x] monthly price``; amounts are ``Decimal`` euros,
  quantised to cents (half up);
- a new project is invoiced for at least the list's minimum duration (12 months for the
  cohort-project list); a renewal is invoiced for the months asked;
- the configuration's subscription includes ``users_included`` user accesses; each other
  user is a user line;
- the student reduction (on proof) takes the list's rate (50%) off the monthly fee of the
  last user access. When that access is part of the configuration's subscription (a
  one-user cohort project) the sources do not say its share, so no reduction is
  computed and a note says so.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalogue.errors import BadRequest, ConfigurationError, NotFound

CENT = Decimal("0.01")
DEFAULT_OFFER = "cohort-project"
#: Bounds on what an estimate accepts: beyond them CASD makes a quote by hand.
MAX_USERS = 200
MAX_MONTHS = 120
MAX_SD_BOXES = 50


class CasdInputError(BadRequest):
    """Estimate inputs the price list cannot price; ``errors`` holds one
    ``{"field": ..., "message": ...}`` per problem (fields of :class:`CasdInputs`)."""


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_euros(value: Decimal) -> str:
    """``4740.00`` -> ``4,740.00`` (the way the worked examples print amounts)."""
    return f"{money(value):,.2f}"


@dataclass(frozen=True, slots=True)
class Configuration:
    """A workspace configuration and its monthly subscription."""

    code: str
    label: str
    line_label: str
    monthly: Decimal
    users_included: int


@dataclass(frozen=True, slots=True)
class PricedOption:
    code: str
    label: str
    monthly: Decimal
    per_user: bool


@dataclass(frozen=True, slots=True)
class PriceList:
    id: str
    offer: str
    title: str
    effective_from: date | None
    currency: str
    source: str
    sd_box_label: str
    sd_box_monthly: Decimal
    user_label: str
    user_monthly: Decimal
    configurations: tuple[Configuration, ...]
    options: tuple[PricedOption, ...] = ()
    minimum_months_new_project: int | None = None
    student_reduction: Decimal | None = None

    def configuration(self, code: str) -> Configuration | None:
        return next((c for c in self.configurations if c.code == code), None)

    def option(self, code: str) -> PricedOption | None:
        return next((o for o in self.options if o.code == code), None)


@dataclass(frozen=True, slots=True)
class CasdInputs:
    """What the applicant tells the estimate; stored with the access request as JSON."""

    offer: str = DEFAULT_OFFER
    users: int = 1
    months: int = 12
    configuration: str = "1"
    sd_boxes: int = 1
    options: tuple[str, ...] = ()
    #: the last user is a student (PhD, post-doc) and will show proof of it
    student_last_user: bool = False
    #: a new project (the minimum duration applies) rather than a renewal
    new_project: bool = True
    #: when the workspace opens: picks the price list in force; None means today
    start: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"offer": self.offer, "users": self.users, "months": self.months,
                "configuration": self.configuration, "sd_boxes": self.sd_boxes,
                "options": list(self.options), "student_last_user": self.student_last_user,
                "new_project": self.new_project,
                "start": self.start.isoformat() if self.start else None}

    @staticmethod
    def from_json(data: dict[str, Any]) -> CasdInputs:
        start = data.get("start")
        return CasdInputs(
            offer=str(data.get("offer", DEFAULT_OFFER)), users=int(data.get("users", 1)),
            months=int(data.get("months", 12)),
            configuration=str(data.get("configuration", "1")),
            sd_boxes=int(data.get("sd_boxes", 1)),
            options=tuple(str(o) for o in data.get("options", ())),
            student_last_user=bool(data.get("student_last_user", False)),
            new_project=bool(data.get("new_project", True)),
            start=date.fromisoformat(start) if start else None)


@dataclass(frozen=True, slots=True)
class EstimateLine:
    """``months x [quantity x] unit_price = amount``; a reduction has a negative price."""

    code: str
    label: str
    months: int
    quantity: int
    unit_price: Decimal
    amount: Decimal
    #: what ``quantity`` counts ("users", "SD-Boxes"); empty when it is 1 of the thing
    unit: str = ""

    @property
    def formula(self) -> str:
        parts = [f"{self.months} months"]
        if self.unit:
            parts.append(f"{self.quantity} {self.unit}")
        parts.append(format_euros(self.unit_price))
        return " x ".join(parts) + f" = {format_euros(self.amount)}"

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "label": self.label, "months": self.months,
                "quantity": self.quantity, "unit": self.unit,
                "unit_price": str(self.unit_price), "amount": str(self.amount),
                "formula": self.formula}


@dataclass(frozen=True, slots=True)
class CasdEstimate:
    price_list: PriceList
    inputs: CasdInputs
    months_billed: int
    lines: tuple[EstimateLine, ...]
    total: Decimal
    per_user: Decimal
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "price_list": self.price_list.id, "offer": self.price_list.offer,
            "effective_from": (self.price_list.effective_from.isoformat()
                               if self.price_list.effective_from else None),
            "currency": self.price_list.currency, "source": self.price_list.source,
            "inputs": self.inputs.to_json(), "months_billed": self.months_billed,
            "lines": [line.to_json() for line in self.lines], "total": str(self.total),
            "per_user": str(self.per_user), "notes": list(self.notes),
        }


# -- price lists as data -----------------------------------------------------------------

def _decimal(value: Any, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ConfigurationError(f"{where}: {value!r} is not an amount") from None


def _price_list(data: dict[str, Any]) -> PriceList:
    where = f"CASD price list {data.get('id', '?')}"
    try:
        effective = data.get("effective_from")
        reduction = data.get("student_reduction")
        return PriceList(
            id=data["id"], offer=data["offer"], title=data["title"],
            effective_from=date.fromisoformat(effective) if effective else None,
            currency=data["currency"], source=data["source"],
            sd_box_label=data["sd_box"]["label"],
            sd_box_monthly=_decimal(data["sd_box"]["monthly"], where),
            user_label=data["user"]["label"],
            user_monthly=_decimal(data["user"]["monthly"], where),
            configurations=tuple(
                Configuration(c["code"], c["label"], c["line_label"],
                              _decimal(c["monthly"], where), int(c["users_included"]))
                for c in data["configurations"]),
            options=tuple(PricedOption(o["code"], o["label"], _decimal(o["monthly"], where),
                                       bool(o["per_user"])) for o in data.get("options", ())),
            minimum_months_new_project=data.get("minimum_months_new_project"),
            student_reduction=_decimal(reduction, where) if reduction is not None else None)
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f"{where} is malformed: {error}") from None


def read_price_lists(text: str) -> tuple[PriceList, ...]:
    """Price lists from the JSON text of a price file (see ``casd_prices.json``)."""
    data = json.loads(text)
    return tuple(_price_list(entry) for entry in data["price_lists"])


@lru_cache(maxsize=1)
def _bundled() -> tuple[PriceList, ...]:
    resource = importlib.resources.files("catalogue") / "data" / "casd_prices.json"
    return read_price_lists(resource.read_text(encoding="utf-8"))


def load_price_lists(path: Path | None = None) -> tuple[PriceList, ...]:
    """The bundled price lists, or those of another price file."""
    if path is None:
        return _bundled()
    return read_price_lists(path.read_text(encoding="utf-8"))


def offers(price_lists: Sequence[PriceList] | None = None) -> tuple[str, ...]:
    lists = price_lists if price_lists is not None else load_price_lists()
    return tuple(dict.fromkeys(p.offer for p in lists))


def price_list_in_force(offer: str, on: date,
                        price_lists: Sequence[PriceList] | None = None) -> PriceList:
    """The list of ``offer`` in force on ``on``: the latest dated one that started on or
    before that day; an undated list only when the offer has no dated list at all."""
    lists = [p for p in (price_lists if price_lists is not None else load_price_lists())
             if p.offer == offer]
    if not lists:
        raise NotFound(f"no CASD price list for the offer {offer!r}; known offers: "
                       f"{', '.join(offers(price_lists))}")
    dated = sorted((p for p in lists if p.effective_from is not None),
                   key=lambda p: p.effective_from or date.min)
    if not dated:
        return lists[-1]
    in_force = [p for p in dated if p.effective_from is not None and p.effective_from <= on]
    if not in_force:
        first = dated[0].effective_from
        raise NotFound(f"no CASD {offer} price list was in force on {on.isoformat()}; "
                       f"the earliest known starts on {first.isoformat() if first else '?'}")
    return in_force[-1]


# -- the estimate ----------------------------------------------------------------------

def input_problems(inputs: CasdInputs, price_list: PriceList) -> list[tuple[str, str]]:
    """(field, message) for every input this price list cannot price."""
    problems: list[tuple[str, str]] = []
    if not 1 <= inputs.users <= MAX_USERS:
        problems.append(("users", f"give between 1 and {MAX_USERS} users"))
    if not 1 <= inputs.months <= MAX_MONTHS:
        problems.append(("months", f"give a duration between 1 and {MAX_MONTHS} months"))
    if not 0 <= inputs.sd_boxes <= MAX_SD_BOXES:
        problems.append(("sd_boxes", f"give between 0 and {MAX_SD_BOXES} SD-Boxes"))
    if price_list.configuration(inputs.configuration) is None:
        known = ", ".join(c.code for c in price_list.configurations)
        problems.append(("configuration", f"configuration {inputs.configuration!r} is not in "
                         f"the price list {price_list.id} (known: {known}); ask CASD "
                         "for a quote"))
    for code in inputs.options:
        if price_list.option(code) is None:
            known = ", ".join(o.code for o in price_list.options) or "none"
            problems.append(("options", f"option {code!r} is not in the price list "
                             f"{price_list.id} (known: {known})"))
    if len(set(inputs.options)) != len(inputs.options):
        problems.append(("options", "list each option once"))
    return problems


def estimate(inputs: CasdInputs, *, today: date | None = None,
             price_lists: Sequence[PriceList] | None = None) -> CasdEstimate:
    """Itemised estimate for ``inputs`` from the price list in force on ``inputs.start``
    (or ``today``). Raises :class:`CasdInputError` listing every unusable input."""
    on = inputs.start or today or date.today()
    try:
        price_list = price_list_in_force(inputs.offer, on, price_lists)
    except NotFound as missing:
        where = "offer" if inputs.offer not in offers(price_lists) else "start"
        raise CasdInputError(missing.message, [{"field": where, "message": missing.message}]
                             ) from None
    problems = input_problems(inputs, price_list)
    if problems:
        raise CasdInputError("the CASD estimate cannot be computed: " + "; ".join(
            f"{f}: {m}" for f, m in problems),
            [{"field": f, "message": m} for f, m in problems])
    return _estimate(inputs, price_list)


def _estimate(inputs: CasdInputs, price_list: PriceList) -> CasdEstimate:
    notes: list[str] = []
    months = inputs.months
    minimum = price_list.minimum_months_new_project
    if inputs.new_project and minimum is not None and months < minimum:
        notes.append(f"A new project is invoiced for at least {minimum} months "
                     f"({months} asked).")
        months = minimum
    configuration = price_list.configuration(inputs.configuration)
    assert configuration is not None  # checked by input_problems
    lines: list[EstimateLine] = []

    def line(code: str, label: str, quantity: int, unit_price: Decimal, unit: str = "") -> None:
        lines.append(EstimateLine(code, label, months, quantity, money(unit_price),
                                  money(unit_price * quantity * months), unit))

    if inputs.sd_boxes:
        line("sd_box", price_list.sd_box_label, inputs.sd_boxes, price_list.sd_box_monthly,
             "SD-Boxes" if inputs.sd_boxes > 1 else "")
    line("subscription", configuration.line_label, 1, configuration.monthly)
    extra_users = max(0, inputs.users - configuration.users_included)
    if extra_users:
        line("users", price_list.user_label, extra_users, price_list.user_monthly,
             "users" if extra_users > 1 or configuration.users_included == 0 else "")
    for code in inputs.options:
        option = price_list.option(code)
        assert option is not None
        if option.per_user:
            line(f"option:{code}", option.label, inputs.users, option.monthly, "users")
        else:
            line(f"option:{code}", option.label, 1, option.monthly)
    if inputs.student_last_user:
        if price_list.student_reduction is None:
            notes.append(f"The price list {price_list.id} states no student reduction.")
        elif extra_users == 0:
            notes.append("The student reduction applies to the last user access; here it is "
                         "part of the standard subscription, whose user share the price "
                         "list does not state: ask CASD.")
        else:
            rate = price_list.student_reduction
            line("student_reduction",
                 f"Student access reduction ({rate * 100:.0f}% of the last user access)", 1,
                 -price_list.user_monthly * rate)
    total = money(sum((item.amount for item in lines), Decimal(0)))
    return CasdEstimate(price_list, inputs, months, tuple(lines), total,
                        money(total / inputs.users), tuple(notes))
