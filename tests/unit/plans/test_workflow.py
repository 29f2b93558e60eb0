"""The plan's rules as pure functions: what puts an application on file, and what submit needs of it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from services.plans import workflow

pytestmark = pytest.mark.unit

FITS = workflow.ApplicationFacts(
    plan_status="draft",
    plan_school_id="s-1",
    plan_student_id="st-1",
    student_is_minor=True,
    on_file_document=None,
    on_file_version=None,
    document_id="d-1",
    version=1,
    school_id="s-1",
    student_id="st-1",
    signer="parent",
)


def _code(facts: workflow.ApplicationFacts) -> str:
    with pytest.raises(workflow.RuleBroken) as err:
        workflow.application_fits(facts)
    return err.value.code


def test_an_application_fits_its_plan_or_names_the_rule_it_breaks():
    assert workflow.application_fits(FITS) is True
    assert workflow.application_fits(replace(FITS, plan_status="under_review", signer="guardian")) is True
    assert _code(replace(FITS, plan_status=None)) == "application_plan_unknown"
    assert _code(replace(FITS, plan_status="inactive")) == "application_plan_unknown"
    assert _code(replace(FITS, school_id="s-2")) == "application_plan_unknown"  # another school's upload
    assert _code(replace(FITS, student_id="st-2")) == "application_student_wrong"
    assert _code(replace(FITS, plan_status="in_approval")) == "application_plan_not_editable"
    assert _code(replace(FITS, signer="student")) == "application_signer_wrong"
    assert _code(replace(FITS, student_is_minor=False)) == "application_signer_wrong"


def test_the_application_on_file_again_or_an_older_version_of_it_changes_nothing():
    on_file = replace(FITS, on_file_document="d-1", on_file_version=2)
    assert workflow.application_fits(replace(on_file, version=2)) is False
    assert workflow.application_fits(replace(on_file, version=1, plan_status="in_progress")) is False
    assert workflow.application_fits(replace(on_file, version=3)) is True


def _submit(**changes: object) -> workflow.SubmitFacts:
    base = workflow.SubmitFacts(
        status="draft",
        has_risks=True,
        has_measures=True,
        application_on_file=True,
        application_signer="parent",
        student_is_minor=True,
        preparer_is_teacher=True,
        preparation_hours=Decimal("2"),
        preparation_cap=Decimal("6"),
        financing_known=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_submit_needs_the_application_on_file_not_only_a_signer():
    """Issue 13: a signer and a date set by hand moved a plan into approval with no application document."""
    assert workflow.submit(_submit(), "municipality") == workflow.Outcome("in_approval", "director")
    with pytest.raises(workflow.RuleBroken) as err:
        workflow.submit(_submit(application_on_file=False), "municipality")
    assert err.value.code == "application_missing"
    assert "kind=application" in err.value.en and "kind=application" in err.value.lv
    with pytest.raises(workflow.RuleBroken) as err:
        workflow.submit(_submit(application_signer="student"), "vocational_school")
    assert err.value.code == "application_signer_wrong"
