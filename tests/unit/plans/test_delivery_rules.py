"""plans.delivery_rules: KA form lines, remote consultations, agreements and evaluations, as pure rules."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from services.plans.delivery_rules import (
    ConsultationFacts,
    OrderFacts,
    Refused,
    check_agreement_date,
    check_consultation,
    check_evaluation,
    order_gaps,
)

pytestmark = pytest.mark.unit

PLAN, SCHOOL, PROVIDER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
HELD = date(2026, 10, 5)

ORDER = OrderFacts(
    kind="remote_consultations",
    school_id=SCHOOL,
    valid_from=date(2026, 10, 1),
    valid_to=date(2026, 10, 31),
    plan_ids=frozenset({PLAN}),
    provider_ids=frozenset({PROVIDER}),
)

LINE = ConsultationFacts(
    plan_id=PLAN,
    school_id=SCHOOL,
    provider_id=PROVIDER,
    plan_status="in_progress",
    semester_start=date(2026, 9, 1),
    semester_end=date(2026, 12, 22),
    today=date(2026, 11, 28),
    held_on=HELD,
    hours=Decimal("2"),
    planned_hours=Decimal("10"),
    delivered_hours=Decimal("0"),
    agreement_signed_on=date(2026, 9, 10),
    mode="in_person",
)
REMOTE = replace(LINE, mode="remote", order=ORDER, confirmed_on=HELD)


def refusal(facts: ConsultationFacts) -> str:
    with pytest.raises(Refused) as caught:
        check_consultation(facts)
    return caught.value.code


def test_a_line_inside_every_rule_passes() -> None:
    check_consultation(LINE)
    check_consultation(REMOTE)


@pytest.mark.parametrize("status", ["draft", "in_approval", "approved", "suspended", "under_review", "inactive"])
def test_only_a_plan_in_progress_takes_consultations(status: str) -> None:
    assert refusal(replace(LINE, plan_status=status)) == "plan_not_in_progress"


def test_a_consultation_is_recorded_after_it_is_held() -> None:
    assert refusal(replace(LINE, held_on=date(2026, 11, 29))) == "held_in_future"
    check_consultation(replace(LINE, held_on=date(2026, 11, 28)))  # today is fine


@pytest.mark.parametrize(
    ("held_on", "inside"),
    [
        (date(2026, 8, 31), False),
        (date(2026, 9, 1), True),
        (date(2026, 12, 22), True),
        (date(2026, 12, 23), False),
    ],
)
def test_the_date_is_inside_the_semester_edges_included(held_on: date, inside: bool) -> None:
    facts = replace(LINE, held_on=held_on, today=date(2027, 1, 10), agreement_signed_on=date(2026, 9, 1))
    if inside:
        check_consultation(facts)
    else:
        assert refusal(facts) == "outside_semester"


def test_hours_are_positive() -> None:
    assert refusal(replace(LINE, hours=Decimal("0"))) == "hours_not_positive"
    assert refusal(replace(LINE, hours=Decimal("-1"))) == "hours_not_positive"


def test_the_provider_needs_an_agreement_signed_before_the_consultation() -> None:
    assert refusal(replace(LINE, agreement_signed_on=None)) == "no_agreement"
    assert refusal(replace(LINE, agreement_signed_on=HELD.replace(day=6))) == "before_agreement"
    check_consultation(replace(LINE, agreement_signed_on=HELD))  # the same day is fine


def test_delivered_hours_never_pass_the_planned_hours() -> None:
    check_consultation(replace(LINE, delivered_hours=Decimal("8"), hours=Decimal("2")))  # exactly the plan
    with pytest.raises(Refused) as caught:
        check_consultation(replace(LINE, delivered_hours=Decimal("8.5"), hours=Decimal("2")))
    assert caught.value.code == "planned_hours_exceeded"
    assert caught.value.extra == {"planned_hours": "10", "delivered_hours": "8.5"}
    assert "review" in caught.value.en and "pārskatīšanas" in caught.value.lv


def test_a_remote_consultation_needs_an_order() -> None:
    assert refusal(replace(REMOTE, order=None)) == "remote_order_missing"
    check_consultation(replace(LINE, order=None))  # in person needs none


@pytest.mark.parametrize(
    ("order", "gap"),
    [
        (replace(ORDER, kind="practice_placement"), "kind"),
        (replace(ORDER, school_id=uuid.uuid4()), "school"),
        (replace(ORDER, valid_to=date(2026, 10, 4)), "period"),
        (replace(ORDER, valid_from=date(2026, 10, 6)), "period"),
        (replace(ORDER, plan_ids=frozenset({uuid.uuid4()})), "student"),
        (replace(ORDER, provider_ids=frozenset({uuid.uuid4()})), "provider"),
    ],
)
def test_the_order_must_cover_date_student_and_provider(order: OrderFacts, gap: str) -> None:
    with pytest.raises(Refused) as caught:
        check_consultation(replace(REMOTE, order=order))
    assert caught.value.code == "remote_order_not_covering"
    assert caught.value.extra["gaps"] == [gap]


def test_order_gaps_on_the_period_edges() -> None:
    for day in (date(2026, 10, 1), date(2026, 10, 31)):
        assert order_gaps(ORDER, school_id=SCHOOL, plan_id=PLAN, provider_id=PROVIDER, held_on=day) == []
    assert order_gaps(ORDER, school_id=SCHOOL, plan_id=uuid.uuid4(), provider_id=uuid.uuid4(), held_on=HELD) == [
        "student",
        "provider",
    ]


@pytest.mark.parametrize(
    ("confirmed_on", "code"),
    [
        (None, "remote_confirmation_missing"),
        (date(2026, 10, 4), "remote_confirmation_early"),
        (date(2026, 10, 5), None),  # the same day
        (date(2026, 10, 6), None),  # one day after: the last day allowed
        (date(2026, 10, 7), "remote_confirmation_late"),  # two days after
    ],
)
def test_the_students_confirmation_on_the_day_boundary(confirmed_on: date | None, code: str | None) -> None:
    facts = replace(REMOTE, confirmed_on=confirmed_on)
    if code is None:
        check_consultation(facts)
    else:
        assert refusal(facts) == code


def test_the_confirmation_window_follows_the_setting() -> None:
    check_consultation(replace(REMOTE, confirmed_on=date(2026, 10, 8), confirmation_days=3))
    assert refusal(replace(REMOTE, confirmed_on=date(2026, 10, 6), confirmation_days=0)) == "remote_confirmation_late"


def test_refusals_come_in_a_fixed_order() -> None:
    # a line breaking several rules is refused for the first a person would check
    everything_wrong = replace(
        REMOTE, plan_status="approved", agreement_signed_on=None, order=None, hours=Decimal("20"), confirmed_on=None
    )
    assert refusal(everything_wrong) == "plan_not_in_progress"
    assert refusal(replace(everything_wrong, plan_status="in_progress")) == "no_agreement"
    with_agreement = replace(everything_wrong, plan_status="in_progress", agreement_signed_on=date(2026, 9, 1))
    assert refusal(with_agreement) == "planned_hours_exceeded"
    assert refusal(replace(with_agreement, hours=Decimal("1"))) == "remote_order_missing"
    assert refusal(replace(with_agreement, hours=Decimal("1"), order=ORDER)) == "remote_confirmation_missing"


def test_an_agreement_is_recorded_once_signed() -> None:
    check_agreement_date(date(2026, 11, 28), date(2026, 11, 28))
    with pytest.raises(Refused) as caught:
        check_agreement_date(date(2026, 11, 29), date(2026, 11, 28))
    assert caught.value.code == "signed_in_future"


END = date(2026, 12, 22)


@pytest.mark.parametrize(
    ("status", "today", "code"),
    [
        ("in_progress", date(2026, 10, 1), None),
        ("in_progress", date(2027, 1, 10), None),
        ("approved", date(2026, 12, 21), "evaluation_too_early"),
        ("approved", END, None),
        ("suspended", date(2026, 11, 1), "evaluation_too_early"),
        ("suspended", date(2027, 1, 10), None),
        ("draft", date(2027, 1, 10), "plan_not_evaluable"),
        ("in_approval", date(2027, 1, 10), "plan_not_evaluable"),
        ("under_review", date(2027, 1, 10), "plan_not_evaluable"),
        ("inactive", date(2027, 1, 10), "plan_not_evaluable"),
    ],
)
def test_when_a_plan_is_evaluated(status: str, today: date, code: str | None) -> None:
    if code is None:
        check_evaluation(status, today, END)
    else:
        with pytest.raises(Refused) as caught:
            check_evaluation(status, today, END)
        assert caught.value.code == code
        assert caught.value.lv
