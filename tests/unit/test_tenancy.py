"""The tenant scoping helper, compiled to SQL (no servers)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql

from services.common.auth import Grant, Principal
from services.common.tenancy import tenant_scope

pytestmark = pytest.mark.unit

rows = Table("rows", MetaData(), Column("tenant_id", String), Column("school_id", String), Column("region", String))


def sql(principal: Principal, **kw: object) -> str:
    clause = tenant_scope(principal, rows.c.tenant_id, **kw)  # type: ignore[arg-type]
    stmt = select(rows).where(clause)
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_platform_admin_reads_everything():
    assert "WHERE true" in sql(Principal("u", None, None, (Grant("platform_admin"),)))


def test_a_tenant_grant_reads_its_tenant_only():
    assert "rows.tenant_id IN ('t1')" in sql(Principal("u", "t1", None, (Grant("accountant", tenant_id="t1"),)))


def test_a_school_grant_reads_its_school_where_rows_name_one():
    text = sql(
        Principal("u", "t1", None, (Grant("director", tenant_id="t1", school_id="s1"),)), school_col=rows.c.school_id
    )
    assert "rows.tenant_id = 't1' AND rows.school_id = 's1'" in text


def test_a_region_grant_reads_its_region():
    text = sql(
        Principal("u", None, "latgale", (Grant("regional_coordinator", region="latgale"),)), region_col=rows.c.region
    )
    assert "rows.region IN ('latgale')" in text


def test_no_grant_reads_nothing():
    assert "WHERE false" in sql(Principal("u", None, None, ()))


def test_a_region_grant_without_a_region_column_reads_nothing():
    assert "WHERE false" in sql(Principal("u", None, "latgale", (Grant("regional_coordinator", region="latgale"),)))
