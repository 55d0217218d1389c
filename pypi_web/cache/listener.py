"""Which projects changed, as Postgres tells it: the page cache without a query per hit.

On Postgres every journalled write notifies on commit (LISTEN/NOTIFY, see
pypi_web.models.journal_notify) with the names of the projects it changed. A
thread in each server process listens and keeps, for the pages it filled,
what is needed to tell whether they are still current:

* ``generation``, a counter moved on by every notification heard (and by
  every (re)connection, when whatever happened unheard must be assumed);
* for each project changed lately, the generation of its last change (at
  most ``max_remembered`` of them; the oldest are forgotten into ``_floor``,
  the generation before which any project may have changed);
* the generation of the last change of any project (the index pages).

A page records the generation read *before* it was rendered: it is current
while no change to its project (or, for an index page, to any project) has
been heard since. Rendering started before a change's commit, and the page
would be stale: the change's generation is later than the page's, so it is
not served. Rendering started after the change was heard sees the change.

The price is the delay between a commit and its notification reaching the
other processes: a few milliseconds at most (bench/README.md, staleness). A
process's own writes are applied at their commit (``apply_local``), so
whoever wrote reads their write from the process that served them. While the
listener is not connected, ``token()`` is None and the cache reads serials
per request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from pypi_web.models.journal_notify import JOURNAL_CHANNEL, NOTIFY_ALL
from pypi_web.packaging.names import normalize

log = logging.getLogger(__name__)

# The first element of a dependency checked by a listener (not by a serial query).
LISTENED = "listened"


class JournalListener:
    """Hears the journal's notifications in a thread and answers whether pages are current."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_remembered: int = 10_000,
        reconnect_delay: float = 1.0,
        wake_every: float = 1.0,
        outage=None,
    ):
        # pypi_web.outage.OutageLog: a lost connection is the database away,
        # said once with the site's own 503s, not in a line of its own.
        self.outage = outage
        self.engine = create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.max_remembered = max_remembered
        self.reconnect_delay = reconnect_delay
        self.wake_every = wake_every  # how soon the thread notices stop()
        self.generation = 0
        self._changed: OrderedDict[str, int] = OrderedDict()
        self._floor = 0
        self._index_changed = 0
        self._fresh_state()
        # Threads do not survive a fork (pypi-web-serve forks its workers
        # from the process that loaded the app): each child listens anew.
        os.register_at_fork(after_in_child=_forget_thread_after_fork(weakref.ref(self)))

    def _fresh_state(self) -> None:
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live = False
        self.connected = threading.Event()  # set while listening (tests wait on it)

    # ---- what the page cache asks ------------------------------------------------

    def token(self) -> int | None:
        """The generation to record before rendering, or None while not listening."""
        if self._thread is None:
            self.start()
        return self.generation if self._live else None

    def is_current(self, dependency: tuple) -> bool:
        """Whether a page filled with ``dependency`` shows what the database holds."""
        if dependency[0] != LISTENED:
            return False  # filled while serials were read per request
        _, name, filled_at = dependency
        with self._lock:
            if not self._live:
                return False
            if name is None:  # a page about the whole index
                return self._index_changed <= filled_at
            return self._changed.get(name, self._floor) <= filled_at

    # ---- what changes it ----------------------------------------------------------

    def apply(self, payload: str) -> None:
        """A notification's payload: project names, one per line, or ``*`` for all."""
        if payload == NOTIFY_ALL:
            self._forget_everything()
        else:
            self.apply_local(payload.split("\n"))

    def apply_local(self, names: Iterable[str]) -> None:
        """Projects changed (by this process's own commit, or as notified)."""
        with self._lock:
            self.generation += 1
            generation = self.generation
            for name in names:
                key = normalize(name)
                self._changed[key] = generation
                self._changed.move_to_end(key)
            while len(self._changed) > self.max_remembered:
                _, forgotten = self._changed.popitem(last=False)
                self._floor = max(self._floor, forgotten)
            self._index_changed = generation

    def _forget_everything(self) -> None:
        with self._lock:
            self.generation += 1
            # The floor first: a name no longer remembered is then as changed.
            self._floor = self._index_changed = self.generation
            self._changed.clear()

    # ---- the thread -----------------------------------------------------------------

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="page-cache-listener", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop listening and close the connection; the next token() listens again."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.engine.dispose()
        with self._start_lock:
            self._thread = None
            self._stop = threading.Event()

    def _listen(self) -> None:
        # Said once per loss, not at every attempt to listen again (each second).
        loss_reported = False
        while not self._stop.is_set():
            connection = None
            try:
                connection = self.engine.raw_connection()
                driver_connection = connection.driver_connection
                driver_connection.execute(f"LISTEN {JOURNAL_CHANNEL}")
                # Whatever was committed before LISTEN took effect went unheard.
                self._forget_everything()
                with self._lock:
                    self._live = True
                self.connected.set()
                # Back after a loss: the outage's own line says the database is back.
                log.log(
                    logging.DEBUG if loss_reported else logging.INFO,
                    "page cache: listening to the journal",
                )
                loss_reported = False
                while not self._stop.is_set():
                    for notification in driver_connection.notifies(timeout=self.wake_every):
                        self.apply(notification.payload)
            except Exception as exc:  # a lost connection, a restarted server: listen again
                if connection is not None:
                    connection.invalidate()  # broken: not to be reset, only dropped
                    connection = None
                if not self._stop.is_set() and not loss_reported:
                    loss_reported = True
                    if self.outage is not None:
                        self.outage.failed(exc, counted=False)
                    else:
                        log.warning(
                            "page cache: not listening to the journal (%s); serials are read "
                            "per request until it is back",
                            str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc),
                        )
            finally:
                with self._lock:
                    self._live = False
                self.connected.clear()
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.close()
            self._stop.wait(self.reconnect_delay)


def _forget_thread_after_fork(listener_ref):
    def reset():
        listener = listener_ref()
        if listener is not None:
            # Locks may have been held at the fork; the thread is gone. The
            # generation goes on, so pages filled before the fork stay older.
            listener._fresh_state()

    return reset
