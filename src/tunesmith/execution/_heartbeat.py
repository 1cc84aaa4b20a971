"""The trial side of liveness: a thread (or a loop) that says "still here" to the driver.

A trial process on a hung or cut-off host sends no EOF, so the driver would wait on it
forever. Every trial process therefore sends a HEARTBEAT frame on its connection when it
has sent nothing else for ``interval_s``, from a daemon thread, whatever the user's code is
doing; the controller declares a running attempt lost once it has been silent for the
heartbeat timeout. A worker waiting for the child it forked for an attempt beats for it
from its own wait loop instead (:meth:`Heartbeat.beat_if_due`), so that it has no other
thread when it forks (see :func:`tunesmith.execution._forkserver.fork`). A trial that
reports at least every ``interval_s`` sends no heartbeats (with 1,000 trials reporting
once a second, the driver reads 1,000 frames a second, not 2,000), and a connection is
never silent for more than about twice ``interval_s``.

The same thread (or loop) notices a driver that has gone away: when a heartbeat cannot be sent,
the process ends, so no trial runs on unsupervised after its driver died.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

from tunesmith import _protocol
from tunesmith.execution import _wire

__all__ = ["Heartbeat"]

# The process ends with this code when the driver is gone (EX_UNAVAILABLE in sysexits.h).
DRIVER_GONE_EXIT_CODE = 69
_HEARTBEAT = _protocol.Heartbeat()


def _driver_gone() -> None:
    os._exit(DRIVER_GONE_EXIT_CODE)


class Heartbeat:
    """Sends a heartbeat on ``sock`` whenever nothing else went out on it for ``interval_s``,
    until :meth:`stop`.

    The thread wakes every ``interval_s`` and beats if no frame went out since about the
    previous wake-up (:func:`tunesmith.execution._wire.seconds_since_send`, which counts
    the frames of this process and, once sends are shared, of its forked children).

    Frames go through :func:`tunesmith.execution._wire.send_frame`, whose lock keeps
    them whole between the main thread's frames.

    Args:
        sock: The trial process's connection to the driver.
        interval_s: Seconds between heartbeats.
        on_driver_gone: Called (from the thread) when a heartbeat cannot be sent; by
            default the process exits with code 69.

    Example:
        >>> import socket
        >>> a, b = socket.socketpair()
        >>> beat = Heartbeat(a, interval_s=0.01).start()
        >>> _wire.recv_frame(b, _protocol.TRIAL_FRAMES)
        Heartbeat()
        >>> beat.stop()
    """

    def __init__(self, sock: socket.socket, interval_s: float,
                 on_driver_gone: Callable[[], None] = _driver_gone) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.sock = sock
        self.interval_s = interval_s
        self._on_driver_gone = on_driver_gone
        self._stopped = threading.Event()
        self.paused = False  # while True, the thread sends nothing (settable from any thread)
        self._thread = threading.Thread(target=self._run, name="tunesmith-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        """Whether the thread was started (a process whose loop calls :meth:`beat_if_due` has none)."""
        return self._thread.ident is not None

    def beat_if_due(self) -> None:
        """Beat now unless paused or a frame went out in the last ``interval_s``: for a
        caller that wakes every ``interval_s`` in a loop of its own instead of the thread
        (a worker waiting for its forked child, which then forks with no other thread)."""
        if not self._beat():
            self._on_driver_gone()

    def stop(self) -> None:
        """Send no more heartbeats; call before closing the connection."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            if not self._beat():
                if not self._stopped.is_set():
                    self._on_driver_gone()
                return

    def _beat(self) -> bool:
        """Send a heartbeat if one is due; False when the driver is gone."""
        if self.paused or _wire.seconds_since_send() < self.interval_s:
            return True  # a frame that went out since the last wake-up said as much
        try:
            _wire.send_frame(self.sock, _HEARTBEAT)
        except OSError:
            return False
        return True
