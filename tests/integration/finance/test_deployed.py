"""Finance as deployed: the worker's task list, migrations matching the models, the seed job of `make run`,
the hourly round on the real worker, and who may read what."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from services.common import migrate
from services.common.contracts import CONTRACT
from services.finance.models import MESSAGING, SettingsRevision
from tests.conftest import REPO, truncate_all
from tests.integration.finance.conftest import finance_env, outbox, send_as
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration

FINANCE_TASKS = {
    "finance.sync_tenant",
    "finance.sync_plan",
    "finance.consultation_delivered",
    "finance.check_expense_document",
    "finance.register_attestation",
    "finance.recheck_claims",
    "finance.run_daily",
}


def test_the_worker_registers_every_finance_task_of_the_contract_and_no_other(finance_settings, monkeypatch):
    monkeypatch.setenv("FINANCE_DATABASE_URL", finance_settings.database_url)
    celery = importlib.import_module("services.finance.worker").celery
    ours = {name: task for name, task in celery.tasks.items() if not name.startswith("celery.")}
    assert set(ours) == FINANCE_TASKS == {n for n, spec in CONTRACT.tasks.items() if spec.service == "finance"}
    for task in ours.values():
        assert task.queue == CONTRACT.get(task.name).queue and task.acks_late and task.reject_on_worker_lost
    assert CONTRACT.schedules["finance-run-daily"] == ("finance.run_daily", 3600.0)


def test_the_migrations_match_the_models(finance_settings):
    migrate.check("finance", finance_settings.database_url)


def test_the_seed_job_records_the_example_settings_once_and_publishes_them(finance_settings, finance, fin_runtime):
    from services.finance.models import Base

    truncate_all(finance_settings.database_url, [t.name for t in Base.metadata.sorted_tables])
    env = {**os.environ, **finance_env(finance_settings)}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "services.finance.cli", "seed-settings"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "EXAMPLE" in done.stdout
    with fin_runtime.db.session() as s:
        assert [r.revision for r in s.execute(select(SettingsRevision)).scalars()] == [1]
        sent = s.execute(select(MESSAGING.outbox.c.sent_at).where(MESSAGING.outbox.c.task_name.like("%sync_%"))).all()
    assert len(sent) == 4 and all(r.sent_at is not None for r in sent)  # plans and notifications, twice


def test_the_hourly_round_runs_on_the_worker(finance, fin_runtime):
    message_id = send_as(fin_runtime, "finance.run_daily", {})

    def handled() -> bool:
        with fin_runtime.db.session() as s:
            table = MESSAGING.processed
            return s.execute(select(table).where(table.c.message_id == message_id)).first() is not None

    wait_for(handled, message="the hourly round")
    with fin_runtime.db.session() as s:
        assert s.execute(select(MESSAGING.dead_letters)).first() is None
    assert [p["revision"] for p in outbox(fin_runtime, "plans.sync_programme_settings")] == [1]  # nothing new


def test_reading_is_scoped_to_the_callers_reach(fin_world, finance):
    mine, theirs = fin_world.tenant(), fin_world.tenant(region="zemgale")
    plan = fin_world.plan(theirs)
    claim = fin_world.expense(theirs, plan)["claim"]
    accountant = fin_world.user(mine, "accountant")
    teacher = fin_world.user(mine, "teacher", school=True)
    assert finance.get(f"/claims/{claim.id}", headers=accountant["headers"]).status_code == 404
    assert finance.get("/claims", headers=accountant["headers"]).json["total"] == 0
    assert finance.get("/claims", headers=teacher["headers"]).status_code == 403
    assert finance.get("/claims").status_code == 401
    auditor = fin_world.user(theirs, "auditor")
    assert finance.get(f"/claims/{claim.id}", headers=auditor["headers"]).status_code == 200
    regional = fin_world.user(None, "regional_coordinator", region="zemgale")
    assert finance.get("/claims", headers=regional["headers"]).json["total"] == 1
