"""Whether a student may receive support on a given day (DOMAIN.md, "Students")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.eligible


def eligible_on(student: Any, day: date, grades_1_4_from: date) -> Eligibility:
    """Grades 1–12 or vocational course 1–4; grades 1–4 only from the configured date; no further training."""
    reasons = []
    if getattr(student, "programme", None) == "further_training":
        reasons.append("further_training_not_eligible")
    grade, course = getattr(student, "grade", None), getattr(student, "course", None)
    if (grade is None) == (course is None):
        reasons.append("grade_or_course_required")
    elif grade is not None and not 1 <= grade <= 12:
        reasons.append("grade_out_of_range")
    elif course is not None and not 1 <= course <= 4:
        reasons.append("course_out_of_range")
    elif grade is not None and grade <= 4 and day < grades_1_4_from:
        reasons.append("grades_1_4_not_yet_eligible")
    if not getattr(student, "active", True):
        reasons.append("student_inactive")
    return Eligibility(not reasons, reasons)
