"""Following a run as it goes, over the daemon's event streams (no polling): the run after
each of its events, the log of its running step, waiting for a state. Nothing here prints;
the commands hand what it yields to render.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator

from wfe import errors, sse
from wfe.client import Client

TERMINAL = ("completed", "failed", "cancelled")
OUTCOME = {"completed": errors.EXIT_OK, "failed": errors.EXIT_FAILED,
           "cancelled": errors.EXIT_CANCELLED}
UNTIL = ("terminal", "waiting_approval")


def exit_code(run: dict) -> int:
    """The exit code of a run's outcome (0 completed, 1 failed, 6 cancelled, 7 waiting for
    an approval)."""
    if run.get("status") == "waiting_approval":
        return errors.EXIT_WAITING_APPROVAL
    return OUTCOME.get(run.get("status", ""), errors.EXIT_OK)


def _replay_from(run: dict) -> str | None:
    """Where to resume a run's stream: one event before the last one ``run`` shows.

    A run is read in several queries, so its status may be older than its last event (a
    step was committed in between). Getting that event again, at once, is the cue to read
    the run again now that the stream is open: from then on no change can slip by."""
    seqs = [e["seq"] for e in run.get("events") or []]
    return str(max(seqs) - 1) if seqs else None


def deadline_of(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def run_updates(c: Client, run: dict, deadline: float | None = None,
                wanted: Callable[[str], bool] = lambda _type: True) -> Iterator[dict]:
    """The run again after each of its events that ``wanted`` accepts, until it ends."""
    if run.get("status") in TERMINAL:
        return
    run_id, replay = run["id"], _replay_from(run)
    stream = sse.follow(lambda last: c.run_events_stream(run_id, last), replay, deadline)
    first = True
    for ev in stream:
        if first or wanted(ev.event):
            yield _read_through_restart(c, run_id)
        first = False


def _read_through_restart(c: Client, run_id: str) -> dict:
    """The run, read right after one of its events: the daemon may be stopping just then (a
    restart), so give it what a stream gets to come back rather than fail the follower."""
    given_up = time.monotonic() + sse.RECONNECT_FOR
    pause = 0.1
    while True:
        try:
            return c.get_run(run_id)
        except errors.DaemonUnreachable:
            if time.monotonic() >= given_up:
                raise
            if c.rediscover():  # it came back on another port
                continue
            time.sleep(pause)
            pause = min(1.0, pause * 2)


def events(c: Client, run_id: str | None, follow: bool,
           deadline: float | None = None) -> Iterator[dict]:
    """A run's events (all of the caller's runs when ``run_id`` is None), as dicts; with
    ``follow``, on until the run ends (or forever, for all runs)."""
    if not follow:
        assert run_id is not None, "all runs' events come only as a stream"
        run = c.get_run(run_id)
        for e in run.get("events") or []:
            yield {"run_id": run_id, **e}
        return
    opener: Callable[[str | None], sse.Stream]
    if run_id is None:
        opener = c.events_stream
        start = None
    else:
        opener = functools.partial(c.run_events_stream, run_id)
        start = "0"
    for ev in sse.follow(opener, start, deadline):
        yield ev.json()


def reached(run: dict, until: str) -> bool:
    return run.get("status") in TERMINAL or (
        until == "waiting_approval" and run.get("status") == "waiting_approval")


def wait(c: Client, run_id: str, until: str = "terminal", timeout: float | None = None) -> dict:
    """The run once it is terminal (or waits for an approval, when asked); WaitTimeout."""
    run = c.get_run(run_id)
    deadline = deadline_of(timeout)
    try:
        if not reached(run, until):
            for latest in run_updates(c, run, deadline, _status_change):
                run = latest
                if reached(run, until):
                    break
            else:
                run = c.get_run(run_id)  # the stream ended: the run is over
    except errors.WaitTimeout:
        run = c.get_run(run_id)
        raise errors.WaitTimeout(f"run {run_id} is still {run['status']} after {timeout:g}s",
                                 {"status": run["status"]}) from None
    return run


def _status_change(event_type: str) -> bool:
    return event_type.startswith("run.") or event_type == "approval.requested"


def step_logs(c: Client, run_id: str, step: str, attempt: int | None = None,
              deadline: float | None = None,
              item: int | None = None) -> Iterator[tuple[int | None, str | None]]:
    """A step's (or a foreach item's) log lines as they are written: (attempt, line), then
    (attempt, None) as each attempt ends. One attempt when ``attempt`` is given; else on
    through every retry until the step is done. Waits for the step to start; a dropped
    connection resumes exactly where it was (the stream's ids span attempts)."""
    current: int | None = attempt
    opener = functools.partial(c.log_stream, run_id, step, attempt, item=item)
    for ev in sse.follow(lambda last: opener(last_id=last), None, deadline):
        if ev.event == "attempt":
            current = ev.json().get("attempt")
        elif ev.event == "end":
            yield current, None
        else:
            yield current, ev.data


class LogTail:
    """Follows, in a thread, the log of whichever step is running, into ``sink(step,
    attempt, line)``. The log is a nicety: if it cannot be read the view goes on without."""

    def __init__(self, c: Client, run_id: str, sink: Callable[[str, int, str], None]) -> None:
        self.c, self.run_id, self.sink = c, run_id, sink
        self.following: tuple[str, int] | None = None
        self._threads: list[threading.Thread] = []

    def track(self, run: dict) -> None:
        running = next(((s["name"], s["attempt"]) for s in run.get("steps") or []
                        if s.get("status") == "running" and s.get("kind") in ("run", "http")),
                       None)
        if running is None or running == self.following:
            return
        self.following = running
        t = threading.Thread(target=self._follow, args=running, daemon=True, name="wfe-log")
        self._threads.append(t)
        t.start()

    def _follow(self, step: str, attempt: int) -> None:
        try:
            for _, line in step_logs(self.c, self.run_id, step, attempt):
                if line is not None:
                    self.sink(step, attempt, line)
        except (errors.WfeError, BrokenPipeError):
            pass  # a reader that left is the main thread's to end on (wfe.cli.pipe)

    def join(self, timeout: float = 2.0) -> None:
        """Let the last lines of a step that just ended arrive."""
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))


def watch(c: Client, run_id: str, view, deadline: float | None = None) -> dict:
    """Feed ``view`` (render.WatchView) with the run as it goes; the final run."""
    run = c.get_run(run_id)
    tail = LogTail(c, run_id, view.log)
    view.update(run)
    tail.track(run)
    while True:
        try:
            for latest in run_updates(c, run, deadline):
                tail.track(latest)
                view.update(latest)
        except errors.DaemonUnreachable:
            pass  # gone as the stream (re)opened: the read below waits for it, or gives up
        # A stream can also end because the daemon went away between two of its events
        # (a restart): the run, not the stream, says whether it is over.
        run = _read_through_restart(c, run_id)
        if run.get("status") in TERMINAL:
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise errors.WaitTimeout("timed out waiting")
    tail.join()
    view.update(run)
    return run
