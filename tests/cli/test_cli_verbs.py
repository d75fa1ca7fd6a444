"""Regular verbs, like gh and kubectl: every noun answers to create, ls (or list), show and
rm (or delete) where it makes sense; the older spellings still work, hidden."""

from __future__ import annotations

import json

import pytest
import typer.main

from wfe import errors
from wfe.cli.main import app

# What each noun holds has these verbs. Where one is missing, the reason is given.
REGULAR = {
    "template": {"create", "ls", "show", "rm"},
    "webhook": {"create", "ls", "show", "rm"},
    "schedule": {"create", "ls", "show", "rm"},
    "user": {"create", "ls", "show", "rm"},
    "var": {"create", "ls", "show", "rm"},
    "token": {"create", "ls", "rm"},  # no show: the API has no GET of one token
    "secret": {"create", "ls", "rm"},  # no show: a secret's value is never shown
}
# Nouns that are not collections of things one creates and removes.
NOT_COLLECTIONS = {"daemon", "auth", "audit", "db"}
SYNONYMS = {"ls": "list", "rm": "delete"}
OLD = {("webhook", "add"): "create", ("schedule", "add"): "create", ("user", "add"): "create",
       ("secret", "set"): "create", ("var", "set"): "create", ("token", "revoke"): "rm"}


def same(a, b) -> bool:
    """One function under two names (typer wraps each registration's callback anew)."""
    return (a.callback.__qualname__, a.help, [p.name for p in a.params]) == (
        b.callback.__qualname__, b.help, [p.name for p in b.params])


def groups() -> dict:
    root = typer.main.get_command(app)
    return {name: cmd for name, cmd in root.commands.items() if getattr(cmd, "commands", None)}


def test_every_noun_is_classified():
    """A new noun must say here which verbs it has (or that it is no collection)."""
    assert set(groups()) == set(REGULAR) | NOT_COLLECTIONS


@pytest.mark.parametrize("noun", sorted(REGULAR))
def test_each_noun_has_its_regular_verbs(noun):
    commands = groups()[noun].commands
    visible = {name for name, cmd in commands.items() if not cmd.hidden}
    assert REGULAR[noun] <= visible, (noun, sorted(visible))
    for verb in REGULAR[noun]:
        if verb in SYNONYMS:  # ls/list and rm/delete: the same command, one spelling shown
            other = commands[SYNONYMS[verb]]
            assert other.hidden and same(other, commands[verb]), (noun, verb)
    for (old_noun, old), verb in OLD.items():
        if old_noun == noun:  # the old spelling: still there, hidden, the same command
            assert commands[old].hidden and same(commands[old], commands[verb]), (noun, old)


def test_no_noun_shows_an_irregular_spelling_of_a_regular_verb():
    shown = {(noun, name) for noun, g in groups().items()
             for name, cmd in g.commands.items() if not cmd.hidden}
    for irregular in ("add", "list", "delete", "remove", "revoke", "new"):
        assert not [p for p in shown if p[1] == irregular], irregular
    assert ("secret", "set") not in shown and ("var", "set") not in shown


def test_top_level_runs_take_list_too(cli, offline_env):
    r = cli(offline_env, "list")
    assert r.exit_code == errors.EXIT_UNREACHABLE  # the same `ls`: it tried the daemon


@pytest.mark.slow
def test_the_regular_verbs_against_a_daemon(cli, daemon, tmp_path):
    env = dict(daemon.env)

    def ok(*args: str, input: str | None = None) -> str:
        r = cli(env, *args, input=input)
        assert r.exit_code == 0, (args, r.output)
        return r.stdout

    f = tmp_path / "t.yaml"
    f.write_text("name: tiny\nsteps:\n  - name: a\n    run: 'true'\n")
    template_id = ok("template", "create", str(f), "--publish", "-q").strip()
    assert json.loads(ok("template", "show", template_id, "--json"))["name"] == "tiny"
    hook = ok("webhook", "create", "http://127.0.0.1:9/x", "-q").strip()
    assert json.loads(ok("webhook", "show", hook, "--json"))["id"] == hook
    assert "url     http://127.0.0.1:9/x" in ok("webhook", "show", hook)
    assert ok("webhook", "list", "-q").split() == [hook]
    ok("webhook", "delete", hook)
    old = ok("webhook", "add", "http://127.0.0.1:9/y", "-q").strip()  # the old spelling
    assert ok("webhook", "ls", "-q").split() == [old]
    sched = ok("schedule", "create", "tiny", "--every", "1h", "-q").strip()
    assert json.loads(ok("schedule", "show", sched, "--json"))["id"] == sched
    ok("schedule", "rm", sched)
    user = ok("user", "create", "ann", "-q").strip()
    shown = json.loads(ok("user", "show", "ann", "--json"))
    assert shown["id"] == user and shown["role"] == "operator"
    assert "role     operator" in ok("user", "show", "ann")
    token = ok("token", "create", "--name", "ci", "-q").strip()
    tokens = {t["id"]: t for t in json.loads(ok("token", "ls", "--json"))["items"]}
    assert "wfe_" not in token and tokens[token]["name"] == "ci"
    ok("token", "rm", token)
    tokens = {t["id"]: t for t in json.loads(ok("token", "ls", "--json"))["items"]}
    assert tokens[token]["revoked_at"]
    assert ok("var", "create", "REGION", "eu", "-q") == "REGION\n"
    assert json.loads(ok("var", "show", "REGION", "--json"))["value"] == "eu"
    assert cli(env, "var", "show", "NOPE").exit_code == errors.EXIT_NOT_FOUND
    assert ok("secret", "create", "KEY", "-q", input="s3cret\n") == "KEY\n"
    assert ok("secret", "set", "KEY", input="other\n") == ""  # the old spelling
    assert ok("secret", "list", "-q").split() == ["KEY"]
