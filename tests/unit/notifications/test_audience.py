"""notifications.audience: who each trigger is for (pure rules, no database)."""

from __future__ import annotations

import pytest

from services.notifications.audience import Audience, escalation_step, for_message

pytestmark = pytest.mark.unit

T, S = "t-1", "s-1"


def test_a_verdict_is_for_the_uploader_and_the_school_coordinator_or_the_municipality():
    school = for_message("document_verdict", {"uploaded_by": "u-1", "tenant_id": T, "school_id": S})
    assert school == [Audience(user_id="u-1"), Audience(role="school_coordinator", tenant_id=T, school_id=S)]
    tenant = for_message("document_verdict", {"uploaded_by": "u-1", "tenant_id": T, "school_id": None})
    assert tenant[1] == Audience(role="municipality_coordinator", tenant_id=T)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("director", Audience(role="director", tenant_id=T, school_id=S)),
        ("municipality", Audience(role="municipality_coordinator", tenant_id=T)),
        ("ikvd", Audience(role="platform_admin")),
    ],
)
def test_a_plan_awaiting_approval_is_for_that_levels_approvers(level, expected):
    assert for_message("plan_awaiting_approval", {"level": level, "tenant_id": T, "school_id": S}) == [expected]


def test_the_other_triggers():
    assert for_message("plan_returned", {"preparer_id": "u-2"}) == [Audience(user_id="u-2")]
    assert for_message("plan_approved", {"preparer_id": "u-2"}) == [Audience(user_id="u-2")]
    assert for_message("order_registered", {"region": "latgale"}) == [
        Audience(role="regional_coordinator", region="latgale")
    ]
    assert for_message("statement_ready", {"tenant_id": T}) == [Audience(role="accountant", tenant_id=T)]
    assert for_message("message_dead_lettered", {}) == [Audience(role="platform_admin")]
    with pytest.raises(ValueError):
        for_message("lottery", {})


def test_a_grant_filter_names_only_the_scope_given():
    assert Audience.holders("director", tenant_id=T, school_id=S).grant_filter() == {
        "role": "director",
        "tenant_id": T,
        "school_id": S,
    }
    assert Audience.holders("regional_coordinator", region="riga").grant_filter() == {
        "role": "regional_coordinator",
        "region": "riga",
    }


@pytest.mark.parametrize(("days", "step"), [(0, 0), (2, 0), (3, 1), (5, 1), (6, 2), (60, 2)])
def test_escalation_climbs_one_level_every_few_days_and_stops_at_the_top(days, step):
    assert escalation_step(days, 3, 3) == step


def test_an_item_not_yet_overdue_has_no_step():
    with pytest.raises(ValueError):
        escalation_step(-1, 3, 3)
