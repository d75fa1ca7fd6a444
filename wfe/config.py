"""Where wfe keeps its files, and the daemon's settings.

Everything lives under ``WFE_HOME`` when it is set (tests, several daemons side by side);
otherwise under platformdirs' per-user directories. Settings come from, in order of
precedence: command-line flags, ``WFE_*`` environment variables, ``config.toml``, defaults.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from wfe.config_net import check_listen, host_names
from wfe.engine.inputs import parse_boolean
from wfe.engine.retention import retention_seconds
from wfe.errors import InvalidSettings

DEFAULT_PORT = 7390
APP = "wfe"


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    config_dir: Path
    state_dir: Path

    @property
    def db(self) -> Path:
        return self.data_dir / "wfe.db"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def token_file(self) -> Path:
        return self.config_dir / "token"

    @property
    def daemon_json(self) -> Path:
        return self.state_dir / "daemon.json"

    @property
    def daemon_log(self) -> Path:
        return self.state_dir / "daemon.log"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "daemon.lock"

    def all_dirs(self) -> list[Path]:
        return [self.data_dir, self.config_dir, self.state_dir, self.logs_dir]


def paths(env: Mapping[str, str] | None = None) -> Paths:
    env = os.environ if env is None else env
    home = env.get("WFE_HOME")
    if home:
        root = Path(home).expanduser().absolute()
        return Paths(root, root, root)
    import platformdirs  # only paid for when no WFE_HOME is set

    return Paths(
        Path(platformdirs.user_data_dir(APP)),
        Path(platformdirs.user_config_dir(APP)),
        Path(platformdirs.user_state_dir(APP)),
    )


DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")


@dataclass(frozen=True)
class Settings:
    """The daemon's knobs. Tests shrink the intervals instead of faking the clock."""

    port: int = DEFAULT_PORT
    # The address to listen on (config.toml's old name for it, `host`, is still read). One
    # that is not loopback needs TLS (a PEM certificate and its key) or insecure_http; Host
    # headers naming allowed_hosts are accepted besides loopback ones (see README, Security).
    listen: str = "127.0.0.1"
    tls_cert: str = ""
    tls_key: str = ""
    insecure_http: bool = False
    allowed_hosts: tuple[str, ...] = ()
    # The URL others reach this daemon at, behind a proxy or on a wildcard address: callback
    # URLs and the cluster's list of nodes give it (default: the address it listens on).
    public_url: str = ""
    # Steps that may execute at once across all runs; runs beyond it wait as `pending`.
    max_concurrent_steps: int = 256
    heartbeat_interval: float = 5.0
    # The timer loop never sleeps longer than this, so a clock jump is noticed.
    timer_max_sleep: float = 1.0
    cancel_grace: float = 5.0
    # While the disk is full, Runners try their writes again this often (seconds), and
    # refused requests are told to retry after as long (at least a second).
    storage_retry_interval: float = 1.0
    # A graceful stop (SIGTERM, `wfe daemon stop`) starts no new step and gives running
    # ones this long to finish and be committed; then the rest are interrupted.
    stop_grace: float = 30.0
    # Whether a run step's background processes (setsid, double forks, daemons) outlive
    # it; per step: `keep_background` in the template. How often the daemon looks for them.
    step_keep_background: bool = False
    proc_scan_interval: float = 0.5
    max_recoveries: int = 5
    # How deep workflow steps may nest runs (a run started by a person is at depth 0); a
    # step whose child would go deeper fails, so a template that starts itself stops.
    max_workflow_depth: int = 8
    max_body_bytes: int = 1024 * 1024
    # Steps per template: checking one takes time linear in its length (see README, Security).
    max_template_steps: int = 1000
    # A `foreach` step: items at once unless the step says (`concurrency`), and the most
    # items one may have (a longer list fails the step, naming both numbers).
    foreach_concurrency: int = 16
    max_foreach_items: int = 10_000
    # Bytes kept of one attempt's log: the first and last half, with a line between saying
    # how much was dropped from the middle.
    max_log_bytes: int = 50 * 1024 * 1024
    log_tail_bytes: int = 4096
    # The most one ${{ }} expression may render to (and about what it may build on the way);
    # over it the step fails, or the template is refused when the expression is constant.
    max_expression_bytes: int = 1024 * 1024
    synchronous: str = "NORMAL"
    # Outbound webhooks: the first retry's delay (later ones keep their ratio to it, about
    # a day in all), one attempt's timeout, attempts in flight at once, whether loopback
    # and private addresses are allowed destinations, and how long settled deliveries (and
    # the callback_url hooks of ended runs) are kept, in seconds (see README, Webhooks).
    webhook_retry_base: float = 5.0
    webhook_timeout: float = 10.0
    webhook_concurrency: int = 16
    webhook_allow_private: bool = True
    webhook_retention: float = 7 * 24 * 3600.0
    # Bad tokens from one client within the window before it gets 429 (see README, Security).
    auth_failure_limit: int = 20
    auth_failure_window: float = 60.0
    # Names of the daemon's environment variables that steps get besides the small base
    # (see README, Trust model); from WFE_STEP_ENV_PASSTHROUGH as "A,B", in config.toml a list.
    step_env_passthrough: tuple[str, ...] = ()
    # How long an Idempotency-Key of a run start is remembered, in seconds (docs/API.md).
    idempotency_window: float = 24 * 3600.0
    # Schedules (see README, Schedules): the most runs one catch-up starts (`catchup: all`),
    # and how late a fire may start and still count as on time rather than missed.
    max_catchup_runs: int = 100
    schedule_grace: float = 60.0
    # Retention (see README, Retention): ended runs are deleted this long after they
    # finished ("30d"; empty: kept until deleted by hand; a template's own `retention`
    # overrides it), looked for this often (seconds), this many top-level runs per write.
    retention: str = ""
    retention_interval: float = 60.0
    retention_batch: int = 100
    # Where the state lives (see README, Scale out): empty for the SQLite file in the data
    # folder, `sqlite:///PATH` for another file, or `postgresql://...` for a server that
    # several daemons share. With a shared server, each daemon is a node: `node_id` names it
    # (default: host:pid), a run is executed by one node under a lease of `lease_seconds`,
    # taken over by another node once it expires; all nodes must share one `secret_key_file`.
    database_url: str = ""
    node_id: str = ""
    lease_seconds: float = 15.0
    secret_key_file: str = ""
    # The web UI at /ui/ (see README, Web UI): whether it is served, how long a browser
    # session lasts (seconds) and how long a `wfe ui` sign-in code may wait to be used.
    ui: bool = True
    ui_session_ttl: float = 12 * 3600.0
    ui_code_ttl: float = 120.0

    @classmethod
    def load(cls, p: Paths, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then config.toml, then ``WFE_<NAME>`` variables, then ``overrides``.
        A key that is not a setting, or a value that is not of its type, raises
        InvalidSettings naming where it came from: a typo must not be silently ignored."""
        env = os.environ if env is None else env
        kinds = {f.name: type(f.default) for f in fields(cls)}
        values: dict = {}
        for key, value in _renamed(_read_toml(p.config_file)).items():
            if key not in kinds:
                close = difflib.get_close_matches(key, kinds, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise InvalidSettings(f"{p.config_file}: unknown setting {key!r}{hint}")
            values[key] = _checked(kinds, key, value, f"{p.config_file}: {key}")
        for name, raw in _from_env(env, kinds).items():
            values[name] = _checked(kinds, name, raw, f"WFE_{name.upper()}")
        for name, value in overrides.items():
            if value is not None:
                values[name] = _checked(kinds, name, value, name)
        for name in ("tls_cert", "tls_key"):  # relative to config.toml, not to any cwd
            if values.get(name):
                values[name] = str(p.config_dir / Path(values[name]).expanduser())
        return cls(**values)._validated()

    def _validated(self) -> Settings:
        if self.synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise InvalidSettings("synchronous must be NORMAL, FULL or EXTRA")
        if self.auth_failure_limit < 1 or self.auth_failure_window <= 0:
            raise InvalidSettings("auth_failure_limit and auth_failure_window must be positive")
        if self.max_template_steps < 1 or self.max_log_bytes < 1024:
            raise InvalidSettings("max_template_steps must be >= 1 and max_log_bytes >= 1024")
        if self.foreach_concurrency < 1 or self.max_foreach_items < 0:
            raise InvalidSettings("foreach_concurrency must be >= 1 and max_foreach_items >= 0")
        if self.idempotency_window <= 0:
            raise InvalidSettings("idempotency_window must be a positive number of seconds")
        try:
            retention_seconds(self.retention)
        except ValueError as e:
            raise InvalidSettings(f"retention: {e}") from None
        if self.retention_interval <= 0 or self.retention_batch < 1:
            raise InvalidSettings("retention_interval must be positive, retention_batch >= 1")
        if self.database_url and not self.database_url.startswith(DATABASE_SCHEMES):
            raise InvalidSettings("database_url must start with sqlite:/// or postgresql://")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise InvalidSettings("public_url must start with http:// or https://")
        if self.lease_seconds < 1:
            raise InvalidSettings("lease_seconds must be at least 1")
        if self.webhook_retention <= 0:  # "keep forever" is a large number, not a busy sweep
            raise InvalidSettings("webhook_retention must be a positive number of seconds")
        if self.ui_session_ttl <= 0 or self.ui_code_ttl < 0:
            raise InvalidSettings("ui_session_ttl must be positive and ui_code_ttl >= 0")
        check_listen(self)
        return self


# Old names of settings, still read so that a config.toml written for them keeps working;
# where a source gives both, the new name wins.
RENAMED = {"host": "listen"}


def _renamed(given: dict) -> dict:
    out = dict(given)
    for old, new in RENAMED.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    return out


def _from_env(env: Mapping[str, str], kinds: dict[str, type]) -> dict[str, str]:
    """The ``WFE_<NAME>`` variables that are set, by setting name."""
    names = [*kinds, *RENAMED]
    return _renamed({n: env[f"WFE_{n.upper()}"] for n in names if f"WFE_{n.upper()}" in env})


def _read_toml(file: Path) -> dict:
    try:
        with open(file, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as e:
        raise InvalidSettings(f"{file}: not valid TOML: {e}") from None
    except OSError as e:
        raise InvalidSettings(f"cannot read {file}: {e.strerror or e}") from None


def _checked(kinds: dict[str, type], name: str, value, where: str):
    try:
        parse = _LISTS.get(name)
        return parse(value) if parse else _coerce(kinds[name], value)
    except ValueError as e:
        raise InvalidSettings(f"{where}: {e}") from None


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_names(value) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("step_env_passthrough must be a list of variable names")
    names = tuple(str(n).strip() for n in items if str(n).strip())
    bad = [n for n in names if not ENV_NAME.fullmatch(n)]
    if bad:
        raise ValueError(f"step_env_passthrough: not a variable name: {', '.join(bad)}")
    return names


# Settings that are lists: each is parsed (and its items checked) its own way.
_LISTS = {"step_env_passthrough": _env_names, "allowed_hosts": host_names}


def _coerce(kind: type, value):
    """``value`` (from TOML, the environment or a flag) as the setting's type."""
    if kind is bool:
        return parse_boolean(value)
    if isinstance(value, bool) or (kind is str and not isinstance(value, str)):
        raise ValueError(f"expected {_NAMES[kind]}, got {value!r}")  # TOML's true is not 1
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"expected {_NAMES[kind]}, got {value!r}")
    if isinstance(value, str) and kind is not str:
        value = value.strip()
    try:
        coerced = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected {_NAMES[kind]}, got {value!r}") from None
    if kind is float and not math.isfinite(coerced):
        raise ValueError(f"expected a finite number, got {value!r}")
    return coerced


_NAMES = {int: "an integer", float: "a number", str: "a string"}


def read_daemon_json(p: Paths) -> dict | None:
    try:
        return json.loads(p.daemon_json.read_text())
    except (OSError, ValueError):
        return None


def ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, without a window where others could."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
