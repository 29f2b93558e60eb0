"""Who is told: each trigger and each overdue item as a list of audiences (a user, or a role in a scope).

Pure rules, no database: `recipients.resolve` turns audiences into people from the read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.auth import (
    ACCOUNTANT,
    DIRECTOR,
    MUNICIPALITY_COORDINATOR,
    PLATFORM_ADMIN,
    REGIONAL_COORDINATOR,
    SCHOOL_COORDINATOR,
)


@dataclass(frozen=True)
class Audience:
    """One user by id, or everyone holding `role` in the scope given (a missing key matches any)."""

    user_id: str | None = None
    role: str | None = None
    tenant_id: str | None = None
    school_id: str | None = None
    region: str | None = None

    @classmethod
    def user(cls, user_id: Any) -> Audience:
        return cls(user_id=str(user_id))

    @classmethod
    def holders(cls, role: str, *, tenant_id: Any = None, school_id: Any = None, region: str | None = None) -> Audience:
        return cls(
            role=role,
            tenant_id=str(tenant_id) if tenant_id else None,
            school_id=str(school_id) if school_id else None,
            region=region,
        )

    def grant_filter(self) -> dict[str, str]:
        """The JSONB object a matching grant contains."""
        assert self.role is not None
        found = {"role": self.role}
        for key in ("tenant_id", "school_id", "region"):
            if getattr(self, key):
                found[key] = getattr(self, key)
        return found


ADMINS = Audience.holders(PLATFORM_ADMIN)


def approvers(level: str, tenant_id: Any, school_id: Any) -> Audience:
    """Who approves at a level of the chain: the school's director, the municipality, or IKVD."""
    if level == "director":
        return Audience.holders(DIRECTOR, tenant_id=tenant_id, school_id=school_id)
    if level == "municipality":
        return Audience.holders(MUNICIPALITY_COORDINATOR, tenant_id=tenant_id)
    return ADMINS


def school_coordinators(tenant_id: Any, school_id: Any) -> Audience:
    """A school's coordinators; a tenant-wide item (no school) goes to the municipality's coordinators."""
    if school_id:
        return Audience.holders(SCHOOL_COORDINATOR, tenant_id=tenant_id, school_id=school_id)
    return Audience.holders(MUNICIPALITY_COORDINATOR, tenant_id=tenant_id)


def for_message(kind: str, p: dict[str, Any]) -> list[Audience]:
    """The people a message from another service is about (DOMAIN.md: who is told what)."""
    if kind == "document_verdict":
        return [Audience.user(p["uploaded_by"]), school_coordinators(p["tenant_id"], p.get("school_id"))]
    if kind == "plan_awaiting_approval":
        return [approvers(p["level"], p["tenant_id"], p["school_id"])]
    if kind in ("plan_returned", "plan_approved"):
        return [Audience.user(p["preparer_id"])]
    if kind == "order_registered":
        # the programme requires the region's coordinator to know of every remote-work order
        return [Audience.holders(REGIONAL_COORDINATOR, region=p["region"])]
    if kind == "statement_ready":
        return [Audience.holders(ACCOUNTANT, tenant_id=p["tenant_id"])]
    if kind == "message_dead_lettered":
        return [ADMINS]
    raise ValueError(f"no audience rule for {kind}")


def school_ladder(tenant_id: Any, school_id: Any, tenant_kind: str = "municipality") -> list[Audience]:
    """An overdue item of a school (an expense package, a semester evaluation) escalates: the school's
    coordinator, its director, the municipality (a vocational school is its own tenant: its director is
    the top)."""
    ladder = [school_coordinators(tenant_id, school_id)]
    if school_id:
        ladder.append(Audience.holders(DIRECTOR, tenant_id=tenant_id, school_id=school_id))
        if tenant_kind == "municipality":
            ladder.append(Audience.holders(MUNICIPALITY_COORDINATOR, tenant_id=tenant_id))
    return ladder


def approval_ladder(level: str, tenant_id: Any, school_id: Any, tenant_kind: str) -> list[Audience]:
    """A plan waiting too long: the level's approvers, then the level above (IKVD is the top)."""
    if level == "director":
        above = "municipality" if tenant_kind == "municipality" else "ikvd"
        return [approvers("director", tenant_id, school_id), approvers(above, tenant_id, school_id)]
    if level == "municipality":
        return [approvers("municipality", tenant_id, school_id), ADMINS]
    return [ADMINS]


def escalation_step(days_overdue: int, every_days: int, ladder_length: int) -> int:
    """How far up the ladder an item overdue for `days_overdue` days (0 = the first day) has gone."""
    if days_overdue < 0:
        raise ValueError("not overdue")
    return min(ladder_length - 1, days_overdue // max(1, every_days))
