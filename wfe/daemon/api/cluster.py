"""GET /api/v1/cluster (admins): the nodes sharing this database, their leases and steps."""

from __future__ import annotations

import os
import socket
import time

from aiohttp import web

from wfe import __version__
from wfe.daemon import keys
from wfe.daemon.api.common import requires, respond
from wfe.daemon.store import cluster_queries
from wfe.daemon.store.backends import node_id
from wfe.daemon.store.util import now_iso
from wfe.engine.roles import Permission
from wfe.models import Cluster


@requires(Permission.MANAGE_USERS)
async def cluster(request: web.Request) -> web.Response:
    sup, store = request.app[keys.SUPERVISOR], request.app[keys.STORE]
    seconds = sup.settings.lease_seconds
    if sup.cluster is not None:
        from wfe.daemon.store.pg import cluster_view

        return respond(Cluster, {
            "backend": "postgres", "this_node": sup.cluster.node, "lease_seconds": seconds,
            "nodes": store.read(cluster_view.cluster, seconds)})
    node = node_id(sup.settings, request.app[keys.PATHS])
    return respond(Cluster, {
        "backend": "sqlite", "this_node": node, "lease_seconds": seconds, "nodes": [{
            "id": node, "host": socket.gethostname(), "pid": os.getpid(),
            "url": sup.base_url, "version": __version__,
            "started_at": request.app[keys.STARTED_AT], "seen_at": now_iso(time.time()),
            "state": "up", "leases": [{"run_id": r, "expires_in": 0.0} for r in sup.live],
            "running_steps": store.read(cluster_queries.running_steps)}]})
