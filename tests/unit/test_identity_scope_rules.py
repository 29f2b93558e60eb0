"""identity.scope: who may grant what, as pure rules (no servers)."""

from __future__ import annotations

import pytest

from services.common.auth import Grant, Principal
from services.identity.scope import GrantRequest, ScopeError, TenantRef, can_grant, can_manage_user, check_grant_shape

pytestmark = pytest.mark.unit

MUNI = TenantRef("t1", "municipality", "kurzeme")
OTHER = TenantRef("t2", "municipality", "latgale")
VOC = TenantRef("t3", "vocational_school", "kurzeme")

ADMIN = Principal("a", None, None, (Grant("platform_admin"),))
REGIONAL = Principal("r", None, "kurzeme", (Grant("regional_coordinator", region="kurzeme"),))
MUNI_COORD = Principal("m", "t1", "kurzeme", (Grant("municipality_coordinator", tenant_id="t1"),))
SCHOOL_COORD = Principal("s", "t1", "kurzeme", (Grant("school_coordinator", tenant_id="t1", school_id="s1"),))
TEACHER = Principal("x", "t1", "kurzeme", (Grant("teacher", tenant_id="t1", school_id="s1"),))


def req(
    role: str, tenant: TenantRef | None = MUNI, school: str | None = "s1", region: str | None = None
) -> GrantRequest:
    return GrantRequest(role, tenant, school, tenant.id if (tenant and school) else None, region)


@pytest.mark.parametrize(
    ("principal", "request_", "allowed"),
    [
        (ADMIN, req("platform_admin", None, None), True),
        (REGIONAL, req("director"), True),
        (REGIONAL, req("director", OTHER), False),
        (REGIONAL, req("regional_coordinator", None, None, "kurzeme"), False),
        (REGIONAL, req("platform_admin", None, None), False),
        (MUNI_COORD, req("school_coordinator"), True),
        (MUNI_COORD, req("municipality_coordinator", school=None), False),
        (MUNI_COORD, req("director", OTHER), False),
        (SCHOOL_COORD, req("teacher"), True),
        (SCHOOL_COORD, req("plan_preparer"), True),
        (SCHOOL_COORD, req("support_provider"), True),
        (SCHOOL_COORD, req("accountant"), True),
        (SCHOOL_COORD, req("director"), False),
        (SCHOOL_COORD, req("school_coordinator"), False),
        (SCHOOL_COORD, req("teacher", school="s2"), False),
        (TEACHER, req("teacher"), False),
    ],
)
def test_who_may_grant_what(principal, request_, allowed):
    assert can_grant(principal, request_) is allowed


@pytest.mark.parametrize(
    ("request_", "user_tenant", "code"),
    [
        (req("platform_admin", MUNI, None), "t1", "grant_scope_invalid"),
        (req("regional_coordinator", None, None, None), None, "grant_scope_invalid"),
        (req("director", MUNI, None), "t1", "grant_scope_invalid"),
        (req("municipality_coordinator", VOC, None), "t3", "grant_scope_invalid"),
        (GrantRequest("director", MUNI, "s9", "t2", None), "t1", "grant_scope_invalid"),
        (req("teacher"), "t2", "grant_tenant_mismatch"),
        (req("regional_coordinator", None, None, "kurzeme"), "t1", "grant_tenant_mismatch"),
    ],
)
def test_grant_shapes_that_cannot_exist(request_, user_tenant, code):
    with pytest.raises(ScopeError) as err:
        check_grant_shape(request_, user_tenant)
    assert err.value.code == code


def test_grant_shapes_that_can_exist():
    check_grant_shape(req("accountant", MUNI, None), "t1")
    check_grant_shape(req("auditor", None, None, "zemgale"), None)
    check_grant_shape(req("director"), "t1")


def test_a_school_coordinator_changes_only_staff_of_their_own_school():
    assert can_manage_user(SCHOOL_COORD, MUNI, [("teacher", "s1")])
    assert can_manage_user(SCHOOL_COORD, MUNI, [("teacher", "s1"), ("plan_preparer", "s1")])
    assert can_manage_user(SCHOOL_COORD, MUNI, [])  # a user with no role yet, in the tenant
    assert not can_manage_user(SCHOOL_COORD, MUNI, [("teacher", "s2")])  # another school
    assert not can_manage_user(SCHOOL_COORD, MUNI, [("teacher", "s1"), ("teacher", "s2")])
    assert not can_manage_user(SCHOOL_COORD, MUNI, [("director", "s1")])
    assert not can_manage_user(SCHOOL_COORD, MUNI, [("school_coordinator", "s1")])
    assert not can_manage_user(SCHOOL_COORD, OTHER, [("teacher", "s1")])


def test_higher_coordinators_change_users_below_them():
    assert not can_manage_user(REGIONAL, MUNI, [("platform_admin", None)])
    assert can_manage_user(REGIONAL, MUNI, [("municipality_coordinator", None)])
    assert can_manage_user(MUNI_COORD, MUNI, [("director", "s1")])
    assert not can_manage_user(MUNI_COORD, MUNI, [("municipality_coordinator", None)])
