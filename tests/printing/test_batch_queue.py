"""Batch printing on the Redis queue (RQ): with CASEMGR_REDIS_URL set, the app server queues
the batch id, `flask worker` prints it and stores the file in the database; a job delivered
twice prints once; a job lost with Redis fails its batch once it is stale; without Redis the
worker refuses to start. Runs against the local Redis, each test on a queue of its own."""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine
from rq import Queue, SimpleWorker
from rq.job import Job

from casemgr import queue
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.printing import batch, record
from casemgr.printing.models import PrintedReport, ReportBatch, ReportBatchFile
from tests.clients_helpers import NOW
from tests.conftest import make_app
from tests.printing.batch_helpers import (
    batch_id_of,
    clients,
    fake_progress,
    reports_of,
    submit,
    wait_until_idle,
)
from tests.redis_helpers import require_redis


@pytest.fixture
def redis_url():
    return require_redis()


@pytest.fixture
def app(app_factory, redis_url):
    name = f"casemgr-test-{uuid.uuid4().hex[:12]}"
    app = app_factory(REDIS_URL=redis_url, BATCH_QUEUE=name, BATCH_SQLITE_PAUSE_MS=0)
    jobs = rq_queue(app)
    with app.app_context():
        yield app
        db.session.rollback()
    jobs.delete(delete_jobs=True)


@pytest.fixture(autouse=True)
def renderer(monkeypatch):
    monkeypatch.setitem(record.RENDERERS, "progress", fake_progress)


@pytest.fixture
def clinic(make):
    with time_machine.travel(NOW, tick=False):
        manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
        yield SimpleNamespace(manager=manager, counselor=counselor)


def rq_queue(app) -> Queue:
    return Queue(app.config["BATCH_QUEUE"], connection=queue.connection(app.config["REDIS_URL"]))


def work(app) -> None:
    """What `flask worker --burst` does, in this process: run every waiting job, then stop."""
    db.session.rollback()  # the test's session must not hold SQLite's write lock
    conn = queue.connection(app.config["REDIS_URL"])
    SimpleWorker([rq_queue(app)], connection=conn).work(burst=True, logging_level="WARNING")
    db.session.expire_all()


def stale_batch(clinic, status: str) -> ReportBatch:
    job = ReportBatch(
        request_key=uuid.uuid4().hex,
        requested_by_id=clinic.manager.id,
        output="zip",
        status=status,
        total=3,
        updated_at=NOW - timedelta(minutes=30),
    )
    db.session.add(job)
    db.session.commit()
    return job


def test_with_redis_the_batch_is_queued_run_by_the_worker_and_served_from_the_database(
    app, client, auth, clinic
):
    assert batch.runner(app) == "queue"
    clients(clinic.manager, clinic.counselor, 3)
    auth.login(clinic.manager)
    job_id = batch_id_of(submit(client, output="combined"))
    job = db.session.get(ReportBatch, job_id)
    assert job.status == "queued" and not batch.is_running_here(job_id)
    waiting = Job.fetch(
        queue.job_id(app, job_id), connection=queue.connection(app.config["REDIS_URL"])
    )
    assert waiting.func_name == "casemgr.queue.run_job" and waiting.args == (job_id,)
    assert waiting.timeout == 60 * 60  # a 200-client batch takes minutes, not an hour
    assert "Waiting to start" in client.get(f"/print/batches/{job_id}").text

    work(app)
    job = db.session.get(ReportBatch, job_id)
    assert (job.status, job.done, len(reports_of(job_id))) == ("done", 3, 3)
    resp = client.get(f"/print/batches/{job_id}/download")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert hashlib.sha256(resp.data).hexdigest() == job.sha256
    assert db.session.get(ReportBatchFile, job_id).size == len(resp.data)


def test_a_job_delivered_twice_prints_once(app, clinic):
    clients(clinic.manager, clinic.counselor, 2)
    job, _ = batch.request_batch(
        db.session, "d" * 32, batch.BatchFilter(), "zip", "Audit", "", by=clinic.manager, now=NOW
    )
    job_id = job.id
    db.session.commit()
    queue.enqueue(app, job_id)
    queue.enqueue(app, job_id)  # the same job again: a retry, a second delivery
    assert rq_queue(app).count == 2
    work(app)
    assert db.session.get(ReportBatch, job_id).status == "done"
    printed = sa.select(sa.func.count()).where(PrintedReport.batch_id == job_id)
    assert db.session.scalar(printed) == 2  # one report per client, not two
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportBatchFile)) == 1


def test_a_batch_waiting_in_the_queue_is_left_alone_but_a_lost_job_fails_it(app, clinic):
    job = stale_batch(clinic, "queued")
    queue.enqueue(app, job.id)  # the worker is busy with a long batch: this one waits
    with time_machine.travel(NOW, tick=False):
        assert batch.expire_stale(db.session, now=NOW) == 0
        rq_queue(app).empty()  # Redis restarted without persistence: the job is gone
        assert batch.expire_stale(db.session, now=NOW) == 1
    db.session.commit()
    assert job.status == "failed" and job.error.startswith("Interrupted")


def test_a_batch_stuck_running_after_its_worker_died_is_failed(app, clinic):
    job = stale_batch(clinic, "running")
    assert batch.expire_stale(db.session, now=NOW) == 1
    db.session.commit()
    assert job.status == "failed"


def test_when_redis_cannot_be_reached_the_batch_runs_in_this_server(
    app, clinic, caplog, monkeypatch
):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens
    clients(clinic.manager, clinic.counselor, 1)
    job, _ = batch.request_batch(
        db.session, "u" * 32, batch.BatchFilter(), "zip", "Audit", "", by=clinic.manager, now=NOW
    )
    job_id = job.id
    db.session.commit()
    with caplog.at_level(logging.WARNING, logger="casemgr"):
        assert batch.start(app, job_id) is True
    wait_until_idle(job_id)
    db.session.expire_all()
    assert db.session.get(ReportBatch, job_id).status == "done"
    assert "queue unreachable (ConnectionError); running it here" in caplog.text


def test_the_worker_command_runs_the_waiting_batches(app, clinic):
    clients(clinic.manager, clinic.counselor, 2)
    job, _ = batch.request_batch(
        db.session, "w" * 32, batch.BatchFilter(), "zip", "Audit", "", by=clinic.manager, now=NOW
    )
    job_id = job.id
    db.session.commit()
    queue.enqueue(app, job_id)
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert f"on queue {app.config['BATCH_QUEUE']}" in result.output
    db.session.expire_all()
    assert db.session.get(ReportBatch, job_id).status == "done"
    assert len(reports_of(job_id)) == 2


def test_the_worker_refuses_to_start_without_redis(app_factory):
    app = app_factory()
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 1
    assert "CASEMGR_REDIS_URL is not set" in result.output


def test_without_redis_batches_run_in_a_thread_and_a_forced_queue_needs_redis(tmp_path):
    assert batch.runner(make_app("sqlite://", tmp_path / "a")) == "thread"
    with pytest.raises(RuntimeError, match="needs CASEMGR_REDIS_URL"):
        make_app("sqlite://", tmp_path / "b", BATCH_RUNNER="queue")


def test_two_workers_taking_the_same_job_at_once_print_it_once(app, clinic):
    """Two deliveries of one job in two workers at the same moment: the row-locked claim lets
    one run the batch; the other finds it no longer queued and does nothing."""
    clients(clinic.manager, clinic.counselor, 2)
    job, _ = batch.request_batch(
        db.session, "t" * 32, batch.BatchFilter(), "zip", "Audit", "", by=clinic.manager, now=NOW
    )
    job_id = job.id
    db.session.commit()
    db.session.rollback()
    go = threading.Barrier(2, timeout=10)

    def deliver():
        with app.app_context():
            go.wait()
            queue.run_job(job_id)

    workers = [threading.Thread(target=deliver) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(w.is_alive() for w in workers)
    db.session.expire_all()
    assert db.session.get(ReportBatch, job_id).status == "done"
    assert len(reports_of(job_id)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportBatchFile)) == 1
