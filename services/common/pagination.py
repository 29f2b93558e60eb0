"""Page-number pagination with the total, in the body, for list endpoints."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PAGE = 1_000_000


class PageArgs(Schema):
    # bounded, so the row offset always fits the database's integer (a larger page is a 422, not a 500)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A schema `{items, page, page_size, total}` for a list of `item`."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(required=True),
            "total": fields.Integer(required=True),
        },
        name=name,
    )


def paginate(session: Session, query: Select[Any], page: int, page_size: int, *, rows: bool = False) -> dict[str, Any]:
    """One page of `query` and the total count; ORM objects, or plain dicts when `rows`."""
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    result = session.execute(query.limit(page_size).offset((page - 1) * page_size))
    items = [dict(r) for r in result.mappings()] if rows else list(result.scalars())
    return {"items": items, "page": page, "page_size": page_size, "total": total}
