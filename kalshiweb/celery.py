from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init

from kalshiweb.heap import freeze_startup_heap
from kalshiweb.logs import connect_celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalshiweb.settings")

app = Celery("kalshiweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
connect_celery(app)


@worker_init.connect
@worker_process_init.connect
def _persistent_db_connections(**_: Any) -> None:
    """A worker keeps its database connections between tasks (unless DATABASE_CONN_MAX_AGE says otherwise).

    With a new connection per task (Celery's default with Django, and CONN_MAX_AGE=0), each order paid for a
    connection before its claim: on PostgreSQL a TCP connect, authentication and a new server backend (several
    ms), on SQLite an open and the WAL pragma. Worker threads are few and long-lived, so one connection each is
    the right pool. CELERY_DB_REUSE_MAX (settings) stops the fix-up from closing them; `_db_hygiene` below
    still drops a connection that is broken, left outside autocommit, or older than CONN_MAX_AGE."""
    if os.environ.get("DATABASE_CONN_MAX_AGE"):
        return
    from django.conf import settings

    for db in settings.DATABASES.values():
        db.get("OPTIONS", {}).pop("pool", None)  # a persistent connection each instead of the web's pool
        db["CONN_MAX_AGE"] = None
        db["CONN_HEALTH_CHECKS"] = True


@worker_init.connect
@worker_process_init.connect
def _freeze_startup_heap(**_: Any) -> None:
    """A worker process starts its tasks with its start-up heap frozen (kalshiweb/heap.py): a full collection in
    the middle of an order's claim and send cost ~140 ms before."""
    freeze_startup_heap()


@task_prerun.connect
@task_postrun.connect
def _db_hygiene(**_: Any) -> None:
    """What Django does around each request, around each task: close unusable or obsolete connections."""
    from django.db import close_old_connections

    close_old_connections()
