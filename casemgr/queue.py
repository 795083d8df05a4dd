"""Batch printing on a Redis queue (RQ), for several app servers behind a load balancer.

With REDIS_URL set, the app server that takes a batch request does not print it: it puts the
batch id on the BATCH_QUEUE queue and `flask --app casemgr worker` (one or more, on any host)
runs it. A job carries the batch id and nothing else, so no client data ever sits in Redis;
the worker reads the rest from the database with the same configuration as the app servers,
and writes the finished file there for any app server to hand out. Without Redis a batch runs
in a thread of the app server that took the request (printing/batch.py).

If Redis loses a job (restarted without persistence), its batch stays queued until it has been
silent for BATCH_STALE_MINUTES and is then marked failed, like one cut off by a restart. A job
delivered twice prints once: the runner claims the batch under a row lock first.
"""

from __future__ import annotations

import logging
from typing import Any

import click
from flask import Flask, current_app, has_app_context
from flask.cli import with_appcontext

log = logging.getLogger("casemgr")

# The longest one Redis call may take in a request: a dead Redis costs a page (or the load
# balancer's health check) about a second, never a hang.
REQUEST_TIMEOUT_SECONDS = 1.0
_WAITING = frozenset({"queued", "deferred", "scheduled"})  # in Redis, not yet taken
_connections: dict[str, Any] = {}  # one connection pool per URL and process


def connection(url: str) -> Any:
    import redis

    if url not in _connections:
        _connections[url] = redis.Redis.from_url(
            url,
            socket_timeout=REQUEST_TIMEOUT_SECONDS,
            socket_connect_timeout=REQUEST_TIMEOUT_SECONDS,
        )
    return _connections[url]


def _queue(app: Flask, conn: Any = None) -> Any:
    from rq import Queue

    return Queue(app.config["BATCH_QUEUE"], connection=conn or connection(app.config["REDIS_URL"]))


def job_id(app: Flask, batch_id: int) -> str:
    return f"{app.config['BATCH_QUEUE']}-batch-{batch_id}"


def enqueue(app: Flask, batch_id: int) -> None:
    """Hand the batch to a worker; raises redis.RedisError when Redis cannot be reached."""
    _queue(app).enqueue_call(
        run_job,
        args=(batch_id,),
        job_id=job_id(app, batch_id),
        description=f"report batch {batch_id}",
        timeout=int(app.config["BATCH_JOB_TIMEOUT_MINUTES"]) * 60,
        result_ttl=3600,  # the result is None; the batch row is the record
        failure_ttl=7 * 24 * 3600,
    )


def waiting(app: Flask, batch_id: int) -> bool:
    """Whether the batch's job is still in the queue, not yet taken by a worker. When Redis
    cannot be asked, the answer is yes: a batch is never failed because Redis blinked."""
    import redis
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id(app, batch_id), connection=connection(app.config["REDIS_URL"]))
    except NoSuchJobError:
        return False
    except redis.RedisError:
        return True
    return job.get_status(refresh=False) in _WAITING


def run_job(batch_id: int) -> None:
    """The queued job. Runs in the app of `flask worker` (a fork of it per job), else in one
    built from the environment like every app server's (a bare `rq worker`)."""
    from . import create_app
    from .extensions import db
    from .printing import batch

    app = current_app._get_current_object() if has_app_context() else create_app()
    batch.run_batch(app, batch_id)
    with app.app_context():
        db.engine.dispose()  # the work horse exits next: close its connections cleanly


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the batches waiting now, then exit.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run queued batch prints (needs CASEMGR_REDIS_URL). Run one or more per deployment."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException(
            "CASEMGR_REDIS_URL is not set. Without Redis, batches run inside the app server "
            "and no worker is needed; with several app servers, set it on all of them and here."
        )
    import redis
    from rq import Worker

    from .extensions import db

    # No socket timeout: the worker waits on the queue with a blocking read.
    conn = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    db.engine.dispose()  # nothing pooled may be inherited by the forked work horses
    worker = Worker([_queue(current_app, conn)], connection=conn)
    click.echo(f"Worker {worker.name} on queue {current_app.config['BATCH_QUEUE']}.")
    worker.work(burst=burst, logging_level="INFO")
