"""`schedctl submit` when the master dies right after committing the task, before its answer
leaves: schedctl retries with the same Idempotency-Key and the restarted master answers with the
first answer. Exactly one task exists, the one schedctl prints.

A small TCP proxy stands between schedctl and the master: it forwards the submit, and the moment
the master's answer starts arriving (the view answers only after its transaction committed) it
kills the master with SIGKILL and drops the connection, so the answer is lost; then the test
starts the master again on the same port."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading

import pytest

from tasks.models import Task
from tests.cluster import ROOT, free_port, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


class AnswerLosingProxy:
    """Forwards 127.0.0.1:port to the master; on the first POST /api/v1/tasks, kills the master as
    its answer arrives and restarts it."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.upstream = cluster.ports["master"]
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.armed = True
        self.killed = threading.Event()
        self.restarted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.closing(client):
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=30)
            except OSError:
                return  # the master is down: the client sees the connection close
            with contextlib.closing(upstream):
                request = client.recv(65536)
                losing = self.armed and request.startswith(b"POST /api/v1/tasks")
                if losing:
                    self.armed = False
                upstream.sendall(request)
                threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
                first = upstream.recv(65536)
                if losing:
                    self.cluster.kill("master")  # the answer exists, so the transaction committed
                    self.killed.set()
                    client.shutdown(socket.SHUT_RDWR)
                    threading.Thread(target=self._restart, daemon=True).start()
                    return
                while first:
                    client.sendall(first)
                    first = upstream.recv(65536)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def _restart(self) -> None:
        self.cluster.start_master("master", port=self.upstream)
        self.restarted.set()

    def close(self) -> None:
        self.listener.close()


def test_a_submit_whose_answer_was_lost_to_a_master_crash_creates_exactly_one_task(cluster, user_env):
    proxy = AnswerLosingProxy(cluster)
    env = {**user_env, "SCHEDULER_URL": f"http://127.0.0.1:{proxy.port}"}
    try:
        done = subprocess.run([sys.executable, "-m", "schedctl", "submit", "--name", "once", "--", "echo", "once"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
    finally:
        proxy.close()

    assert proxy.killed.is_set(), "the proxy never saw the submit"
    assert done.returncode == 0, done.stderr
    assert "retrying" in done.stderr
    printed = int(done.stdout.split()[1])
    wait_for(proxy.restarted.is_set, timeout=60, what="the master to come back")
    assert list(Task.objects.values_list("pk", flat=True)) == [printed]
