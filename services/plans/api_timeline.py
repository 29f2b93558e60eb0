"""Plans API: each student's timeline (plans, transitions, delivery, and what other services report)."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.common.auth import current_principal
from services.common.pagination import paginate

from . import timeline
from .delivery_schemas import TimelineArgs, TimelinePage
from .web import BEARER, rt

blp = Blueprint(
    "timeline",
    __name__,
    url_prefix="/students",
    description="A student's timeline, newest first. / Izglītojamā notikumu hronoloģija.",
)


@blp.route("/<uuid:student_id>/timeline")
class StudentTimeline(MethodView):
    @blp.arguments(TimelineArgs, location="query")
    @blp.response(200, TimelinePage)
    @blp.doc(security=BEARER)
    def get(self, args: dict[str, Any], student_id: uuid.UUID) -> Any:
        """The student's events newest first, by kind, plan or source (plans, documents, finance)."""
        with rt().db.transaction() as session:
            query = timeline.student_timeline_query(session, current_principal(), student_id, args)
            return paginate(session, query, args["page"], args["page_size"])


BLUEPRINTS = (blp,)
