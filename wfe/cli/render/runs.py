"""How runs look: lists, one run in full, its events, approvals and snapshots."""

from __future__ import annotations

from wfe.cli.render.base import (
    DETAIL_WIDTH,
    ago,
    compact,
    elapsed,
    fancy,
    footer,
    kv,
    note,
    out,
    say,
    status_word,
    table,
    template_ref,
    width,
)
from wfe.cli.render.fit import command_lines, cut
from wfe.cli.render.graph import layout, progress


def runs(payload: dict) -> None:
    items = payload.get("items") or []
    if not items:
        note("no runs")
        return
    rows = [_run_row(r) for r in items]
    table(["ID", "TEMPLATE", "STATUS", "STEP", "CREATED", "DURATION"], rows, 2,
          drop=("DURATION", "CREATED", "STEP", "TEMPLATE"), elide="TEMPLATE")
    footer(payload)


def _run_row(r: dict) -> list[str]:
    # Where a run is (or stopped); a completed run is past its last step.
    current = r.get("current_step")
    name = r.get("current_step_name")  # a daemon older than the field sends only the index
    step = "-" if current is None or r.get("status") == "completed" else (name or str(current))
    took = elapsed(r.get("started_at"), r.get("finished_at"))
    return [r.get("id", ""), template_ref(r.get("template")), r.get("status", ""), step,
            ago(r.get("created_at")), took]  # fmt: skip


def step_rows(run: dict) -> list[list[str]]:
    """One row per step: a chain in its order; a graph level by level, its side-by-side
    steps bracketed, with what each needs."""
    steps_ = run.get("steps") or []
    drawn = layout(steps_)
    if drawn is None:
        return [_step_row(s) for s in steps_]
    rows = []
    for glyph, step, needs in drawn:
        row = _step_row(step, glyph)
        rows.append([*row[:-1], needs, row[-1]])
    return rows


def _step_row(s: dict, glyph: str = "") -> list[str]:
    detail = progress(s, bar=fancy()) or s.get("error") or compact(s.get("output"))
    code = _code(s)
    if code and not str(detail).startswith(code):  # an HTTP step's error names it already
        detail = f"{code}: {detail}" if detail else code
    took = elapsed(s.get("started_at"), s.get("finished_at"))
    # rich wraps the last column on a terminal; plain output keeps one line per step.
    detail = compact(detail, 200 if fancy() else DETAIL_WIDTH)
    return [str(s.get("index", "")), glyph + s.get("name", ""), s.get("kind", ""),
            s.get("status", ""), str(s.get("attempt") or "-"), took, detail]  # fmt: skip


def _code(s: dict) -> str:
    """What a step's exit_code means: a process's exit status, or an HTTP step's answer."""
    code = s.get("exit_code")
    if s.get("kind") == "http":
        return "" if code is None else f"HTTP {code}"
    return "" if code in (None, 0) else f"exit {code}"


STEP_HEADERS = ["#", "STEP", "KIND", "STATUS", "ATTEMPT", "TIME", "OUTPUT / ERROR"]
GRAPH_HEADERS = [*STEP_HEADERS[:-1], "NEEDS", STEP_HEADERS[-1]]


def step_headers(run: dict) -> list[str]:
    return STEP_HEADERS if layout(run.get("steps") or []) is None else GRAPH_HEADERS


STEP_DROP = ("ATTEMPT", "KIND", "NEEDS", "TIME", "#")


def steps(run: dict) -> None:
    table(step_headers(run), step_rows(run), 3, drop=STEP_DROP, elide=STEP_HEADERS[-1])


def run_header(run: dict) -> None:
    pairs = [
        ("run", run.get("id", "")),
        ("template", template_ref(run.get("template"))),
        ("status", run.get("status", "")),
        ("trigger", run.get("trigger_type") or "-"),
        ("owner", str(run.get("owner") or "-")),
        ("created", ago(run.get("created_at"))),
        ("duration", elapsed(run.get("started_at"), run.get("finished_at"))),
    ]
    if run.get("parent_run_id"):
        pairs.append(("parent", f"{run['parent_run_id']} (step {run.get('parent_step')})"))
    if run.get("input"):
        pairs.append(("input", compact(run["input"], 100)))
    if run.get("reason"):
        pairs.append(("reason", str(run["reason"])))
    if run.get("queued_behind"):
        pairs.append(("queued", queued_text(run["queued_behind"])))
    kv(pairs)


def queued_text(q: dict) -> str:
    """Why a pending run waits: its place in its concurrency group's line."""
    key = f"key {q.get('key')!r}" if q.get("key") is not None else "no key"
    running = ", ".join(q.get("running") or []) or "-"
    return (f"#{q.get('position')} in line ({key}, limit {q.get('limit')});"
            f" running: {running}")


def run(run: dict) -> None:
    run_header(run)
    out()
    steps(run)
    pending = [a for a in run.get("approvals") or [] if a.get("status") == "pending"]
    for a in pending:
        out()
        said = f"waiting for approval at {a.get('step')}: {a.get('message') or ''}".rstrip()
        out(cut(said, width() or len(said)))
        for line in decide_lines(run.get("id", "")):
            out(line)
    children = [s for s in run.get("steps") or [] if s.get("child_run_id")]
    if children:
        out()
        for s in children:
            lead = f"step {s.get('name')} runs child {s['child_run_id']}  "
            for line in command_lines([f"wfe show {s['child_run_id']}"], width(), lead):
                out(line)
    if run.get("events"):
        out()
        events(run["events"])


def decide_lines(run_id: str) -> list[str]:
    """How to decide, whole: on a narrow terminal one command a line, never cut mid-id."""
    commands = [f"wfe approve {run_id}", f"wfe reject {run_id}"]
    return command_lines(commands, width(), "  decide with: ")


def run_action(run: dict) -> None:
    """After pause/resume/cancel/retry/start: the run's new status, in one line."""
    say(f"run {run.get('id')} is {status_word(run.get('status', '?'))}")

def run_deleted(answer: dict) -> str:
    """After rm: what went, and the head hash the audit log keeps for it."""
    children = len(answer.get("deleted") or []) - 1
    more = f" and {children} child run{'s' * (children != 1)}" if children > 0 else ""
    return (f"deleted run {answer.get('run_id')}{more}"
            f" ({answer.get('events')} events, head {answer.get('head')})")


def run_summary(run: dict) -> None:
    steps(run)
    status = run.get("status", "?")
    took = elapsed(run.get("started_at"), run.get("finished_at"))
    say(f"run {run.get('id')} {status_word(status)} in {took}")


def events(items: list[dict]) -> None:
    rows = [[str(e.get("seq", "")), ago(e.get("at")), e.get("type", ""),
             str(e.get("actor") or "-"), compact(e.get("data"))] for e in items]  # fmt: skip
    table(["SEQ", "AT", "EVENT", "ACTOR", "DATA"], rows, drop=("ACTOR", "AT"), elide="DATA")


SHORT_ID = 8  # a run id's first characters: unique enough to tell interleaved runs apart


def event_line(e: dict, all_runs: bool = False) -> None:
    """One event as it arrives (wfe events -f): time, [run,] seq, type, actor, data."""
    at = (e.get("at") or "")[11:23]
    run = f"{(e.get('run_id') or '-')[:SHORT_ID]:<{SHORT_ID}}  " if all_runs else ""
    out(f"{at:<12}  {run}{e.get('seq', ''):>4}  {e.get('type', ''):<22} "
        f"{e.get('actor') or '-':<10} {compact(e.get('data'), 100)}".rstrip())


def log_line(line: str, prefix: str = "") -> None:
    out(f"{prefix}{line}")


def approvals(payload: dict) -> None:
    items = payload.get("items") or []
    if not items:
        note("no approvals waiting for you")
        return
    rows = [[a.get("run_id", ""), template_ref(a.get("template")), a.get("step", ""),
             a.get("status", ""), ago(a.get("requested_at")),
             ago(a.get("expires_at")) if a.get("expires_at") else "-",
             compact(a.get("message"), 60)] for a in items]  # fmt: skip
    table(["RUN", "TEMPLATE", "STEP", "STATUS", "REQUESTED", "EXPIRES", "MESSAGE"], rows, 3,
          drop=("EXPIRES", "REQUESTED", "TEMPLATE", "STEP"), elide="MESSAGE")
    footer(payload)


def approval_context(run: dict, approval: dict) -> None:
    """What someone deciding needs in front of them: the question, the input, the outputs."""
    kv([("run", run.get("id", "")), ("template", template_ref(run.get("template"))),
        ("step", str(approval.get("step"))), ("message", str(approval.get("message") or "-")),
        ("input", compact(run.get("input"), 200) or "-")])
    done = [s for s in run.get("steps") or [] if s.get("output")]
    if done:
        out()
        table(["STEP", "OUTPUT"], [[s["name"], compact(s["output"], 200)] for s in done])


def decided(run: dict, verdict: str) -> None:
    say(f"{verdict} · run {run.get('id')} is {status_word(run.get('status', '?'))}")


def snapshots(payload: dict) -> None:
    items = payload.get("items") or []
    if not items:
        note("no snapshots")
        return
    rows = [[s.get("id", ""), str(s.get("after_step")), str(s.get("step") or "-"),
             ago(s.get("created_at")),
             compact(((s.get("state") or {}).get("outputs") or {}).get(s.get("step")), 50)]
            for s in items]  # fmt: skip
    table(["ID", "AFTER", "STEP", "CREATED", "OUTPUT"], rows, drop=("CREATED", "AFTER"),
          elide="OUTPUT")
    footer(payload)


def rollback(result: dict) -> None:
    run_ = result.get("run") or {}
    rerun = ", ".join(result.get("rerun_steps") or []) or "nothing"
    if result.get("dry_run"):
        out(f"dry run: rolling back run {run_.get('id')} would run again: {rerun}")
    else:
        say(f"rolled back run {run_.get('id')}; running again: {rerun}; "
            f"it is {status_word(run_.get('status', '?'))}")
