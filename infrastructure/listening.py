"""A thread that LISTENs on a PostgreSQL channel, from a connection of its own.

Every save NOTIFYs the events' channel at its commit, from whichever process
made it (``infrastructure/recorders.py``). Two parts of a process follow it:
the view updater, woken to read what was written, and the copies of
aggregates that the application keeps (``application/recent.py``), which are
forgotten once another process changed them. Both go on without a listener,
only slower, so the listener reconnects with backoff while the database is
away and says, when it is up again, that notifications may have been missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from psycopg.sql import SQL, Identifier

log = logging.getLogger(__name__)


class Listener:
    WAIT = 0.5  # how often the thread looks at the stop flag
    BACKOFF = (0.2, 5.0)  # first and longest wait between connection attempts

    def __init__(
        self,
        connect: Callable[[], Any],
        channel: str,
        *,
        on_connect: Callable[[], None],
        on_notify: Callable[[str], None],
        name: str,
    ) -> None:
        """``connect`` opens an autocommit psycopg connection. ``on_connect``
        is called each time the LISTEN is in place (what was written before
        may have been missed); ``on_notify`` with each notification's payload."""
        self._connect = connect
        self._channel = channel
        self._on_connect = on_connect
        self._on_notify = on_notify
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.listening = False  # a LISTEN connection is up
        self.error: str | None = None  # why the last connection failed or ended
        self.heard = 0  # notifications handed on so far

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        first, longest = self.BACKOFF
        backoff = first
        while not self._stopping.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(SQL("LISTEN {}").format(Identifier(self._channel)))
                    self.listening = True
                    self.error = None
                    backoff = first
                    self._on_connect()
                    while not self._stopping.is_set():
                        for notify in conn.notifies(timeout=self.WAIT):
                            self.heard += 1
                            self._on_notify(notify.payload)
            except Exception as error:  # the database went away: try again
                if self._stopping.is_set():
                    break
                if self.listening or self.error is None:
                    log.warning("%s lost its connection (%s)", self._thread.name, error)
                self.error = f"{type(error).__name__}: {error}"
            finally:
                self.listening = False
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, longest)
