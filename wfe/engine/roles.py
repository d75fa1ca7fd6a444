"""Roles and what each may do: one table, checked by the API layer.

A template's `run` steps are code executed as the daemon's OS user, so writing templates is
a privilege of its own: an `operator` runs the published catalog but cannot add to it.
"""

from __future__ import annotations

from enum import StrEnum

from wfe.errors import Forbidden


class Role(StrEnum):
    # Stored in the database and shown on the wire: keep the values stable.
    ADMIN = "admin"
    AUTHOR = "author"
    OPERATOR = "operator"


class Permission(StrEnum):
    READ_TEMPLATES = "templates.read"  # the published catalog (and one's own drafts)
    WRITE_TEMPLATES = "templates.write"  # create, publish, delete one's own
    ANY_TEMPLATE = "templates.any"  # others' drafts and names too
    START_RUNS = "runs.start"
    CONTROL_RUNS = "runs.control"  # one's own: pause, resume, cancel, retry, roll back
    DECIDE_APPROVALS = "approvals.decide"  # gates on one's own runs or naming one
    MANAGE_USERS = "users.manage"
    GLOBAL_SECRETS = "secrets.global"  # set and remove the global secrets and variables
    ANY_RUN = "runs.any"  # delete another user's run


_RUN = frozenset({Permission.READ_TEMPLATES, Permission.START_RUNS, Permission.CONTROL_RUNS,
                  Permission.DECIDE_APPROVALS})

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: _RUN,
    Role.AUTHOR: _RUN | {Permission.WRITE_TEMPLATES},
    Role.ADMIN: frozenset(Permission),
}

# A user made without a role may run the catalog but not add code to it.
DEFAULT_ROLE = Role.OPERATOR


def allows(role: str, permission: Permission) -> bool:
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:  # an unknown role (a newer database?) may do nothing
        return False


def require(role: str, permission: Permission) -> None:
    """Raise Forbidden (403) unless ``role`` has ``permission``."""
    if not allows(role, permission):
        raise Forbidden(f"the {role} role may not do this ({permission})",
                        {"role": role, "permission": str(permission)})
