"""The engine at its trust boundary: a ``--scheduler`` address that is not a Dask scheduler
ends in one line within Dask's connect timeout, and a local cluster serves no dashboard.
Every service here is started by the test on 127.0.0.1."""

import socket
import socketserver
import threading
import warnings
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from golden.distributed import run_tasks


@pytest.fixture
def short_connect_timeout():
    import dask
    import distributed  # noqa: F401  (its configuration defaults first: set() restores on exit)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        yield


def _serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"tcp://127.0.0.1:{server.server_address[1]}"


class _Answers400(socketserver.BaseRequestHandler):
    """An HTTP server's answer to bytes that are no HTTP request: 400, then close."""

    def handle(self):
        self.request.recv(65536)
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n"
                             b"Connection: close\r\n\r\nBad Request")


class _Silent(socketserver.BaseRequestHandler):
    """Accepts, reads, never answers (until the client goes away)."""

    def handle(self):
        while self.request.recv(65536):
            pass


@pytest.mark.parametrize("server", [
    lambda: socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Answers400),
    lambda: ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler),
    lambda: socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Silent),
], ids=["http-400", "http-server", "silent-tcp"])
def test_an_address_that_is_not_a_dask_scheduler_is_one_line(server, short_connect_timeout):
    srv = server()
    srv.daemon_threads = True
    address = _serve(srv)
    try:
        with pytest.raises(RuntimeError) as err:
            run_tasks(abs, {"a": (1,)}, scheduler=address, progress=False)
    finally:
        srv.shutdown()
        srv.server_close()
    message = str(err.value)
    assert address in message and "\n" not in message
    assert "not a Dask scheduler" in message or "not Dask's protocol" in message


def test_local_cluster_serves_no_dashboard_and_leaves_port_8787_alone():
    """Dask's default HTTP port held here: the local cluster neither warns about it nor
    takes another port of all interfaces for a dashboard."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:
        pass                  # someone else holds it: the cluster must leave it alone all the same
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert run_tasks(abs, {"a": (-3,)}, workers=1, progress=False) == {"a": 3}
    finally:
        holder.close()
    assert not [w for w in caught if "8787" in str(w.message)], [str(w.message) for w in caught]
