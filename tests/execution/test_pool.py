"""The process pool: one template, warm workers lent per environment, one way to start them."""

import os
import subprocess
import time

import psutil
import pytest

from tunesmith.execution import _forkserver
from tunesmith.execution._pool import ProcessKind, ProcessPool

linux_only = pytest.mark.skipif(not _forkserver.available(), reason="the template needs Linux pidfds")


def _environment(cuda):
    return dict(os.environ, CUDA_VISIBLE_DEVICES=cuda)


@pytest.fixture
def pool():
    pool = ProcessPool(_environment, max_idle=2)
    lent = []
    pool.lend = lambda env_key="": lent.append(pool.take(env_key)) or lent[-1]
    yield pool
    for worker in lent:
        worker.stop()
    pool.stop_idle()
    pool.close_template()


def _parent(process, timeout=10):
    """The parent's pid, once the template has said it forked ``process``."""
    deadline = time.monotonic() + timeout
    while process.pid is None and time.monotonic() < deadline:
        process.poll()
        time.sleep(0.01)
    return psutil.Process(process.pid).ppid()


@linux_only
def test_workers_and_the_log_writer_are_forked_from_the_one_template(pool, tmp_path):
    workers = [pool.lend(), pool.lend("0")]
    writer = pool.spawn(ProcessKind.LOG_WRITER, args=[str(tmp_path), os.getpid()])
    template = pool.template()
    try:
        assert {_parent(w.process) for w in workers} | {_parent(writer)} == {template._process.pid}
    finally:
        writer.stdin.close()
        assert writer.wait(10) == 0


@linux_only
def test_a_worker_given_back_is_lent_again_for_its_environment_only(pool):
    worker = pool.take("")
    pool.give_back(worker)
    other = pool.lend("0")
    assert other is not worker and pool.idle == [worker]
    assert pool.take("") is worker and pool.idle == []
    pool.give_back(worker)


@linux_only
def test_at_most_max_idle_workers_are_kept_and_the_oldest_is_stopped(pool):
    first, second, third = (pool.take("") for _ in range(3))
    for worker in (first, second, third):
        pool.give_back(worker)
    assert pool.idle == [second, third]
    assert first.process.wait(10) == 0  # its stdin closed: it ended on its own


@linux_only
def test_a_dead_idle_worker_is_not_lent(pool):
    worker = pool.take("")
    pool.give_back(worker)
    worker.kill()
    assert pool.lend("") is not worker


@linux_only
def test_prestart_tops_up_the_idle_workers_and_stop_idle_ends_them(pool):
    pool.prestart(2)
    started = list(pool.idle)
    pool.prestart(2)
    assert pool.idle == started and len(started) == 2
    pool.stop_idle()
    assert pool.idle == [] and [w.process.wait(10) for w in started] == [0, 0]


def test_without_a_template_workers_are_new_pythons_and_a_log_writer_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(_forkserver, "available", lambda: False)
    pool = ProcessPool(_environment, max_idle=1)
    worker = pool.take("")
    try:
        assert isinstance(worker.process, subprocess.Popen) and pool.template() is None
        with pytest.raises(RuntimeError, match="log_writer is forked from the template"):
            pool.spawn(ProcessKind.LOG_WRITER, args=[str(tmp_path), os.getpid()])
    finally:
        worker.stop()
        assert worker.process.wait(30) == 0


def test_the_environment_counts_as_changed_until_a_process_is_started_with_it(monkeypatch):
    pool = ProcessPool(_environment, max_idle=1)
    assert pool.environment_changed()  # nothing started yet
    pool._env("")
    assert not pool.environment_changed()
    monkeypatch.setenv("TUNESMITH_TEST_POOL", "1")
    assert pool.environment_changed()
