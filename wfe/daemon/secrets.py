"""Secret inputs: sealed at rest, masked wherever a value leaves a step.

A template variable marked ``secret: true`` is sealed (encrypted and authenticated) before
the run's input is stored, so the database, its WAL and its backups never hold it in
clear. The Runner unseals it to run steps, and masks it, and its base64, URL-quoted and
JSON-escaped forms, in everything it records: step outputs, errors, log tails, log files,
approval messages, event data (and so webhook payloads, which are built from events).

The cipher is HMAC-SHA256 in counter mode with an HMAC-SHA256 tag (encrypt-then-MAC,
separate derived keys): the standard library has no AES, and a PRF in counter mode is a
sound stream cipher. The key lives in its own 0600 file, not in the database.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
SEALED_PREFIX = "wfe-sealed:v1:"
_NONCE, _TAG = 16, 32
# Shorter encoded fragments would match ordinary text by chance.
_MIN_FRAGMENT = 8


# ---- masking ----------------------------------------------------------------------------

def _b64_forms(raw: bytes) -> set[str]:
    """The base64 of ``raw`` alone, and the part that stays the same wherever ``raw`` sits
    inside a longer encoded string (base64 works in 3-byte groups: 3 alignments)."""
    out: set[str] = set()
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + raw).decode()
        if shift == 0:
            out |= {enc, enc.rstrip("=")}
        full = (shift + len(raw)) // 3 * 4  # the groups made only of known bytes
        core = enc[4 if shift else 0:full]  # a shifted first group mixes in unknown bytes
        if len(core) >= _MIN_FRAGMENT:
            out.add(core)
    return out | {s.translate(str.maketrans("+/", "-_")) for s in out}


def secret_forms(secret: str) -> set[str]:
    """The exact value and the encodings a step or a library is likely to print it in."""
    if not secret:
        return set()
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= _b64_forms(secret.encode())
    return {f for f in forms if f}


def _texts(value: Any) -> Iterable[str]:
    """Every piece of text a secret value could appear as: itself, its JSON, its strings."""
    if isinstance(value, str):
        yield value
        return
    if value is None or isinstance(value, bool):
        return  # true/false/null would mask every boolean in sight
    yield json.dumps(value, separators=(",", ":")) if isinstance(value, dict | list) else str(value)
    if isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _texts(item)


class Masker:
    """Replaces secret values (and their encoded forms) with ``***``."""

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        forms: set[str] = set()
        for value in secrets:
            for text in _texts(value):
                forms |= secret_forms(text)
        # Longest first, so a form that contains another is masked whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._text = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._bytes = (re.compile(b"|".join(re.escape(f.encode()) for f in ordered))
                       if ordered else None)

    def __bool__(self) -> bool:
        return self._text is not None

    def text(self, s: str) -> str:
        return self._text.sub(MASK, s) if self._text is not None else s

    def value(self, v: Any) -> Any:
        """A copy of a JSON value with every string (and key) masked."""
        if self._text is None:
            return v
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, dict):
            return {self.text(str(k)): self.value(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [self.value(x) for x in v]
        return v

    def file(self, path: str | Path) -> bool:
        """Mask a file in place (atomically, keeping it 0600); True when it changed."""
        if self._bytes is None:
            return False
        try:
            data = Path(path).read_bytes()
        except OSError:
            return False
        masked = self._bytes.sub(MASK.encode(), data)
        if masked == data:
            return False
        tmp = Path(f"{path}.masking")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(masked)
            os.replace(tmp, path)
        except BaseException:  # a full disk: no half-written copy left behind
            tmp.unlink(missing_ok=True)
            raise
        return True

    def directory(self, path: str | Path) -> None:
        """Mask every file of a directory (a run's logs, after a crash cut a step short)."""
        try:
            entries = list(os.scandir(path))
        except OSError:
            return
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                self.file(entry.path)


# ---- sealing ----------------------------------------------------------------------------

class Sealer:
    """Authenticated encryption of small values with a key kept outside the database."""

    def __init__(self, key: bytes) -> None:
        self._enc = hmac.digest(key, b"wfe-seal-encrypt", "sha256")
        self._mac = hmac.digest(key, b"wfe-seal-authenticate", "sha256")

    @classmethod
    def load_or_create(cls, path: Path) -> Sealer:
        try:
            return cls(bytes.fromhex(path.read_text().strip()))
        except FileNotFoundError:
            key = os.urandom(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key.hex() + "\n")
                f.flush()
                os.fsync(f.fileno())
            return cls(key)

    def _stream(self, nonce: bytes, n: int) -> bytes:
        blocks = (hmac.digest(self._enc, nonce + i.to_bytes(8, "big"), "sha256")
                  for i in range((n + 31) // 32))
        return b"".join(blocks)[:n]

    def seal(self, value: Any) -> str:
        plain = json.dumps(value, separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE)
        cipher = bytes(a ^ b for a, b in zip(plain, self._stream(nonce, len(plain))))
        tag = hmac.digest(self._mac, nonce + cipher, "sha256")
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + cipher + tag).decode().rstrip("=")

    def unseal(self, text: str) -> Any:
        """The sealed value; ValueError when ``text`` was not sealed with this key."""
        if not isinstance(text, str) or not text.startswith(SEALED_PREFIX):
            raise ValueError("not a sealed value")
        body = text[len(SEALED_PREFIX):]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            raise ValueError("not a sealed value") from None
        if len(raw) < _NONCE + _TAG:
            raise ValueError("not a sealed value")
        nonce, cipher, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        if not hmac.compare_digest(tag, hmac.digest(self._mac, nonce + cipher, "sha256")):
            raise ValueError("the sealed value does not verify")
        plain = bytes(a ^ b for a, b in zip(cipher, self._stream(nonce, len(cipher))))
        return json.loads(plain)


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


# ---- a run's inputs ---------------------------------------------------------------------

def seal_inputs(variables: dict, inputs: dict, sealer: Sealer | None) -> dict:
    """The input as stored: each ``secret: true`` variable's value sealed."""
    if sealer is None:
        return inputs
    return {name: sealer.seal(value)
            if getattr(variables.get(name), "secret", False) and value is not None else value
            for name, value in inputs.items()}


class SecretUnavailable(Exception):
    """A secret input that this daemon's secret.key does not open (the key was replaced)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def open_inputs(stored: dict, sealer: Sealer | None,
                secret_names: set[str] | None = None) -> tuple[dict, Masker]:
    """The input as steps see it, and a Masker for the values that were sealed.

    A value of a ``secret_names`` variable that does not open raises SecretUnavailable:
    handing the step the sealed text in place of the secret would fail later and less
    clearly. Any other value that merely looks sealed is the user's text, kept as given.
    """
    secret_names = secret_names or set()
    plain, secrets = {}, []
    for name, value in (stored or {}).items():
        if is_sealed(value):
            try:
                if sealer is None:
                    raise ValueError("no key to open it with")
                value = sealer.unseal(value)
                secrets.append(value)
            except ValueError:
                if name in secret_names:
                    raise SecretUnavailable(name) from None
        plain[name] = value
    return plain, Masker(secrets)


def hide_sealed(inputs: Any) -> Any:
    """The input as the API shows it: sealed values as ``***``."""
    if not isinstance(inputs, dict):
        return inputs
    return {k: MASK if is_sealed(v) else v for k, v in inputs.items()}


MASKED_FIELDS = ("output", "error", "log_tail")


async def mask_outcome(masker: Masker, outcome: dict) -> dict:
    """A step's result with secrets masked, its log file included (off the event loop)."""
    if not masker:
        return outcome
    out = dict(outcome)
    for name in MASKED_FIELDS:
        if out.get(name) is not None:
            out[name] = masker.value(out[name])
    if out.get("log_path"):
        await asyncio.to_thread(masker.file, out["log_path"])
    return out
