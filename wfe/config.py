"""Where wfe keeps its files, and the daemon's settings.

Everything lives under ``WFE_HOME`` when it is set (tests, several daemons side by side);
otherwise under platformdirs' per-user directories. Settings come from, in order of
precedence: command-line flags, ``WFE_*`` environment variables, ``config.toml``, defaults.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

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


def paths(env: dict[str, str] | None = None) -> Paths:
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


@dataclass(frozen=True)
class Settings:
    """The daemon's knobs. Tests shrink the intervals instead of faking the clock."""

    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    # Steps that may execute at once across all runs; runs beyond it wait as `pending`.
    max_concurrent_steps: int = 256
    heartbeat_interval: float = 5.0
    # The timer loop never sleeps longer than this, so a clock jump is noticed.
    timer_max_sleep: float = 1.0
    cancel_grace: float = 5.0
    max_recoveries: int = 5
    max_body_bytes: int = 1024 * 1024
    # Steps per template: checking one takes time linear in its length (see README, Security).
    max_template_steps: int = 1000
    # Bytes kept of one attempt's log: the first and last half, with a line between saying
    # how much was dropped from the middle.
    max_log_bytes: int = 50 * 1024 * 1024
    log_tail_bytes: int = 4096
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
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, p: Paths, env: dict[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if env is None else env
        values: dict = {}
        if p.config_file.exists():
            with open(p.config_file, "rb") as f:
                values.update(tomllib.load(f))
        names = {f.name: f.type for f in fields(cls) if f.name != "extra"}
        for name in names:
            raw = env.get(f"WFE_{name.upper()}")
            if raw is not None:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {k: v for k, v in values.items() if k in names}
        s = cls(**known, extra={k: v for k, v in values.items() if k not in names})
        return s._coerced()

    def _coerced(self) -> Settings:
        changes = {}
        for f in fields(self):
            default = f.default
            value = getattr(self, f.name)
            if f.name == "extra" or value is None:
                continue
            for kind in (bool, int, float):
                if isinstance(default, kind) and not isinstance(value, kind):
                    changes[f.name] = _coerce(kind, value)
                    break
        s = replace(self, **changes)
        if s.synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError("synchronous must be NORMAL, FULL or EXTRA")
        if s.auth_failure_limit < 1 or s.auth_failure_window <= 0:
            raise ValueError("auth_failure_limit and auth_failure_window must be positive")
        if s.max_template_steps < 1 or s.max_log_bytes < 1024:
            raise ValueError("max_template_steps must be >= 1 and max_log_bytes >= 1024")
        if s.webhook_retention <= 0:  # "keep forever" is a large number, not a busy sweep
            raise ValueError("webhook_retention must be a positive number of seconds")
        return s


def _coerce(kind: type, value):
    # bool("0") is True: a flag from the environment is read as a word instead.
    if kind is bool and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return kind(value)


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
