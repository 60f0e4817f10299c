"""Serve the explorer: a Bokeh server started in-process on the loopback interface.

Bokeh's server hands out its own JavaScript and CSS (BokehJS, its widgets and its bundled
MathJax for the formulas) from ``/static``, so the page needs no network access.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import webbrowser

from toylab.data import GaussianMixture

ADDRESS = "127.0.0.1"


def _application(world: GaussianMixture | None, max_regions: int | None):
    from bokeh.application import Application
    from bokeh.application.handlers.function import FunctionHandler

    from toylab.explore.app import Explorer

    options = {} if max_regions is None else {"max_regions": max_regions}
    return Application(FunctionHandler(lambda doc: Explorer(doc, world, **options)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind((ADDRESS, 0))
        return sock.getsockname()[1]


def make_server(port: int = 5006, world: GaussianMixture | None = None,
                max_regions: int | None = None):
    """A started ``bokeh.server.server.Server`` for the explorer on ``127.0.0.1:port``
    (``port=0``: a free port; read it back from ``server.port``), on the current thread's
    IOLoop (not yet running). ``max_regions``: the largest partition a page draws (default
    :data:`toylab.explore.views.MAX_REGIONS`)."""
    from bokeh.server.server import Server

    if int(port) != port or not 0 <= port <= 65535:
        raise ValueError(f"--port {port!r} must be a port number in 0..65535 (0: any free port)")
    port = int(port) or free_port()
    # the page is opened as 127.0.0.1 or localhost: accept websockets from both, nothing else
    server = Server({"/": _application(world, max_regions)}, port=port, address=ADDRESS,
                    allow_websocket_origin=[f"{ADDRESS}:{port}", f"localhost:{port}"],
                    check_unused_sessions_milliseconds=2000,
                    unused_session_lifetime_milliseconds=5000)
    server.start()
    return server


def serve(port: int = 5006, *, open_browser: bool = True, world: GaussianMixture | None = None,
          announce=print) -> None:
    """Run the explorer until interrupted (blocking).

    Args:
        port: TCP port on 127.0.0.1 (0: any free port).
        open_browser: open the page in the default browser.
        world: a mixture from ``--world FILE``, offered as the first world.
        announce: called with the page's address once the server listens.
    """
    server = make_server(port, world)
    url = f"http://{ADDRESS}:{server.port}/"
    announce(f"toylab explore: serving {url} (Ctrl-C to stop)")
    if open_browser:
        server.io_loop.add_callback(webbrowser.open_new_tab, url)
    try:
        server.io_loop.start()
    finally:
        server.stop()


class Background:
    """The explorer served from a daemon thread (tests, benchmarks, notebooks).

    Attributes:
        url: the page's address. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, port: int = 0, world: GaussianMixture | None = None,
                 max_regions: int | None = None):
        ready, box = threading.Event(), {}

        def run():
            asyncio.set_event_loop(asyncio.new_event_loop())
            try:
                box["server"] = make_server(port, world, max_regions)
            except BaseException as err:  # reported to the caller below
                box["error"] = err
                ready.set()
                return
            ready.set()
            box["server"].io_loop.start()

        self._thread = threading.Thread(target=run, daemon=True, name="toylab-explore")
        self._thread.start()
        ready.wait()
        if "error" in box:
            raise box["error"]
        self.server = box["server"]
        self.url = f"http://{ADDRESS}:{self.server.port}/"

    def close(self) -> None:
        loop = self.server.io_loop

        def stop():
            self.server.stop()
            loop.stop()

        loop.add_callback(stop)
        self._thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
