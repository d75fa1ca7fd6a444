"""Templates over HTTP: drafts, versions, publishing, YAML, validation errors."""

from __future__ import annotations

from tests.support import api_client

YAML = """
name: greet
description: say hi
variables:
  who: {type: string, default: world}
steps:
  - name: hi
    run: echo hi ${{ input.who }}
"""


async def test_versions_and_publish(settings):
    async with api_client(settings) as api:
        _, v1 = await api.post("/api/v1/templates", data=YAML,
                               headers={"Content-Type": "application/yaml"}, expect=201)
        assert (v1["name"], v1["version"], v1["status"]) == ("greet", 1, "draft")
        assert v1["published_at"] is None and v1["description"] == "say hi"
        assert v1["variables"]["who"]["default"] == "world"
        _, v2 = await api.post("/api/v1/templates", data=YAML,
                               headers={"Content-Type": "application/yaml"}, expect=201)
        assert v2["version"] == 2
        _, pub = await api.post(f"/api/v1/templates/{v1['id']}/publish", expect=200)
        assert pub["status"] == "published" and pub["published_at"]
        status, err = await api.post(f"/api/v1/templates/{v1['id']}/publish")
        assert status == 409 and err["error"]["code"] == "conflict"
        _, by_name = await api.get("/api/v1/templates/greet", expect=200)
        assert by_name["version"] == 2
        _, pinned = await api.get("/api/v1/templates/greet@1", expect=200)
        assert pinned["id"] == v1["id"]
        _, listed = await api.get("/api/v1/templates?status=published", expect=200)
        assert [t["id"] for t in listed["items"]] == [v1["id"]] and listed["total"] == 1
        _, named = await api.get("/api/v1/templates?name=greet", expect=200)
        assert named["total"] == 2
        # Runs use the latest *published* version, or the one asked for.
        run = await api.start("greet")
        assert run["template"] == {"id": v1["id"], "name": "greet", "version": 1}
        status, _ = await api.post("/api/v1/workflows", json={"template": "greet@2"})
        assert status == 409


async def test_validation_lists_every_error_with_paths(settings):
    bad = {
        "name": "bad",
        "variables": {"x": {"type": "colour"}},
        "steps": [
            {"name": "a", "run": "echo ${{ input.nope }}"},
            {"name": "a", "run": "echo dup"},
            {"name": "c", "teleport": "now"},
            {"name": "d", "run": "echo ${{ steps.later.output.x }}"},
            {"name": "later", "run": "echo ${{ ( }}"},
        ],
    }
    async with api_client(settings) as api:
        status, err = await api.post("/api/v1/templates", json=bad)
    assert status == 422 and err["error"]["code"] == "validation_failed"
    paths = [d["path"] for d in err["error"]["details"]]
    text = " ".join(paths)
    for expected in ("variables.x", "steps[0].run", "steps[1]", "steps[2]", "steps[3].run",
                     "steps[4].run"):
        assert expected in text, (expected, paths)


async def test_malformed_yaml_and_json(settings):
    async with api_client(settings) as api:
        status, err = await api.post("/api/v1/templates", data="name: [unclosed",
                                     headers={"Content-Type": "application/yaml"})
        assert status == 400 and err["error"]["code"] == "bad_request"
        status, err = await api.post("/api/v1/templates", data="{nope",
                                     headers={"Content-Type": "application/json"})
        assert status == 400
        status, err = await api.post("/api/v1/templates", data="[1, 2]",
                                     headers={"Content-Type": "application/json"})
        assert status == 400
        status, err = await api.post("/api/v1/templates", data="x",
                                     headers={"Content-Type": "text/plain"})
        assert status == 415 and err["error"]["code"] == "unsupported_media_type"


async def test_unknown_template_is_404(settings):
    async with api_client(settings) as api:
        for ref in ("nope", "nope@3", "00000000-0000-4000-8000-000000000000", "x@y"):
            status, err = await api.get(f"/api/v1/templates/{ref}")
            assert status == 404 and err["error"]["code"] == "not_found", ref


async def test_drafts_are_their_authors_and_a_name_is_its_first_authors(settings):
    """Published templates are a shared catalog; drafts and new versions are not."""
    async with api_client(settings) as api:
        _, bob = await api.post("/api/v1/users", json={"name": "bob", "role": "author"},
                                expect=201)
        _, carol = await api.post("/api/v1/users", json={"name": "carol", "is_admin": True},
                                  expect=201)
        shared = await api.template({"name": "shared", "steps": [{"name": "s", "set": {"a": 1}}]})
        _, draft = await api.post("/api/v1/templates", expect=201, json={
            "name": "shared", "steps": [{"name": "s", "set": {"a": 2}}]})
        assert draft["version"] == 2 and draft["status"] == "draft"
        # Bob sees and runs the published version only; the draft is not there for him.
        _, seen = await api.get("/api/v1/templates/shared", token=bob["token"], expect=200)
        assert seen["version"] == 1
        for ref in (draft["id"], "shared@2"):
            status, err = await api.get(f"/api/v1/templates/{ref}", token=bob["token"])
            assert status == 404 and err["error"]["code"] == "not_found", ref
        status, _ = await api.post(f"/api/v1/templates/{draft['id']}/publish", token=bob["token"])
        assert status == 404
        _, listed = await api.get("/api/v1/templates?name=shared", token=bob["token"], expect=200)
        assert [t["version"] for t in listed["items"]] == [1] and listed["total"] == 1
        run = await api.start("shared", token=bob["token"])
        assert run["template"]["version"] == 1
        # He cannot add a version under a name that is not his.
        status, err = await api.post("/api/v1/templates", token=bob["token"], json={
            "name": "shared", "steps": [{"name": "s", "set": {"a": 3}}]})
        assert status == 409 and "belongs to another user" in err["error"]["message"]
        status, err = await api.post("/api/v1/workflows", token=bob["token"],
                                     json={"template": "shared@2"})
        assert status == 404
        # An admin sees every draft and may publish it.
        _, listed = await api.get("/api/v1/templates?name=shared", token=carol["token"],
                                  expect=200)
        assert [t["version"] for t in listed["items"]] == [2, 1]
        await api.post(f"/api/v1/templates/{draft['id']}/publish", token=carol["token"],
                       expect=200)
        _, seen = await api.get("/api/v1/templates/shared", token=bob["token"], expect=200)
        assert seen["version"] == 2 and shared["version"] == 1


async def test_creation_warns_of_an_expression_inside_a_nested_shell(settings):
    spec = {"name": "nest", "variables": {"x": {"type": "string"}}, "steps": [
        {"name": "plain", "run": "echo ${{ input.x }}"},
        {"name": "inner", "run": "sh -c \"echo ${{ input.x }}\""},
        {"name": "argv", "run": ["echo", "${{ input.x }}"]}]}
    async with api_client(settings) as api:
        _, t = await api.post("/api/v1/templates", json=spec, expect=201)
        [w] = t["warnings"]
        assert (w["path"], w["step"], w["expression"]) == ("steps[1].run", "inner",
                                                           "${{ input.x }}")
        assert '"$WFE_INPUT_X"' in w["message"]
        _, again = await api.get(f"/api/v1/templates/{t['id']}", expect=200)
        assert "warnings" not in again
        _, clean = await api.post("/api/v1/templates", json={**spec, "steps": spec["steps"][:1]},
                                  expect=201)
        assert clean["warnings"] == []
