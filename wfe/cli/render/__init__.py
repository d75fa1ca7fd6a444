"""Everything the CLI shows; the only package of the CLI that prints.

``base`` holds the primitives (plain lines, JSON, tables, colours, relative times); one
module per thing shown builds on it. Commands call ``render.<name>``: the names are
gathered here.
"""

# ruff: noqa: F401  (every import here is a re-export)

from wfe.cli.render.base import (
    DETAIL_WIDTH,
    STATUS_STYLES,
    _plain_table,
    ago,
    color,
    compact,
    configure,
    confirm,
    console,
    elapsed,
    error,
    fancy,
    flush,
    footer,
    is_terminal,
    json_line,
    json_out,
    kv,
    note,
    out,
    parse_time,
    say,
    span,
    status_word,
    styled,
    table,
    template_ref,
    text,
    usage_error,
    warn,
)
from wfe.cli.render.graph import progress, progress_line
from wfe.cli.render.output import emit
from wfe.cli.render.runs import (
    GRAPH_HEADERS,
    STEP_HEADERS,
    approval_context,
    approvals,
    decided,
    event_line,
    events,
    log_line,
    rollback,
    run,
    run_action,
    run_deleted,
    run_header,
    run_summary,
    runs,
    snapshots,
    step_headers,
    step_rows,
    steps,
)
from wfe.cli.render.templates import (
    daemon_status,
    schedule,
    schedules,
    secret,
    stored_value,
    stored_values,
    template,
    template_action,
    template_dot,
    template_graph,
    template_warnings,
    templates,
    user,
    user_created,
    users,
    valid,
    webhooks,
    whoami,
)
from wfe.cli.render.watch import WatchView, finished, pending_approval
