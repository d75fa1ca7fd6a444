"""GET /api/v1/cluster: admins see the nodes sharing the database; nobody else does."""

from __future__ import annotations

from tests.conftest import async_wait_until
from tests.support import api_client

V = "/api/v1"


async def test_admins_see_this_node_and_its_running_steps(settings, database):
    async with api_client(settings) as api:
        await api.template({"name": "slow", "steps": [{"name": "zz", "run": "sleep 30"}]})
        run = await api.start("slow")

        async def running() -> list:
            _, view = await api.get(f"{V}/cluster", expect=200)
            return [s for n in view["nodes"] for s in n["running_steps"]]

        await async_wait_until(running, timeout=20, message="the step running")
        _, view = await api.get(f"{V}/cluster", expect=200)
        assert view["backend"] == ("postgres" if database else "sqlite")
        [node] = view["nodes"]
        assert node["id"] == view["this_node"] and node["state"] == "up"
        assert [s["run_id"] for s in node["running_steps"]] == [run["id"]]
        assert [le["run_id"] for le in node["leases"]] == [run["id"]]
        _, user = await api.post(f"{V}/users", json={"name": "op", "role": "operator"},
                                 expect=201)
        status, body = await api.get(f"{V}/cluster", token=user["token"])
        assert status == 403 and body["error"]["code"] == "forbidden"
        await api.post(f"{V}/workflows/{run['id']}/cancel", expect=200)
