"""Secret inputs: sealed at rest, masked wherever a value leaves a step.

A template variable marked ``secret: true`` is sealed (encrypted and authenticated) before
the run's input is stored, so the database, its WAL and its backups never hold it in
clear. The Runner unseals it to run steps, and masks it, and its base64, URL-quoted and
JSON-escaped forms, in everything it records: step outputs, errors, log tails, log files,
approval messages, event data (and so webhook payloads, which are built from events).

Sealing is AES-256-GCM from the ``cryptography`` package, with a key derived by HKDF from
the daemon's ``secret.key`` (its own 0600 file, not in the database). Each value is bound by
associated data to where it belongs (a run id and a variable name), so a sealed value copied
into another run or variable does not open. Values sealed by earlier versions (``v1``, a
stream cipher built from HMAC) still open; nothing writes that format any more.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASK = "***"
# Both versions start so; the store looks for it to know a run has secrets at all.
SEALED_PREFIX = "wfe-sealed:v"
SEALED_V1 = SEALED_PREFIX + "1:"
SEALED_V2 = SEALED_PREFIX + "2:"
_GCM_NONCE = 12
# Above this many bytes of secret text, sealing and opening move off the event loop.
OFF_LOOP_BYTES = 64 * 1024
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
        self._forms: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[Any]) -> None:
        """Mask these values too (stored secrets, as a step reads them)."""
        forms = set(self._forms)
        for value in secrets:
            for text in _texts(value):
                forms |= secret_forms(text)
        if forms == self._forms and self._forms:
            return
        self._forms = forms
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
    """Authenticated encryption (AES-256-GCM) of small values, keyed outside the database."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                 info=b"wfe-seal-aes-256-gcm").derive(key))
        self._legacy = _LegacyV1(key)

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

    def seal(self, value: Any, context: bytes) -> str:
        """``value`` sealed for ``context`` (the associated data: where the value belongs)."""
        plain = json.dumps(value, separators=(",", ":")).encode()
        nonce = os.urandom(_GCM_NONCE)  # 96 random bits: safe far beyond this daemon's volume
        return SEALED_V2 + _b64(nonce + self._aead.encrypt(nonce, plain, context))

    def unseal(self, text: str, context: bytes) -> Any:
        """The sealed value; ValueError when ``text`` was not sealed with this key for
        ``context``."""
        if not isinstance(text, str) or not text.startswith(SEALED_PREFIX):
            raise ValueError("not a sealed value")
        if text.startswith(SEALED_V1):
            return json.loads(self._legacy.open(_unb64(text[len(SEALED_V1):])))
        if not text.startswith(SEALED_V2):
            raise ValueError("not a sealed value")
        raw = _unb64(text[len(SEALED_V2):])
        if len(raw) < _GCM_NONCE + 16:
            raise ValueError("not a sealed value")
        try:
            plain = self._aead.decrypt(raw[:_GCM_NONCE], raw[_GCM_NONCE:], context)
        except InvalidTag:
            raise ValueError("the sealed value does not verify") from None
        return json.loads(plain)


def input_context(run_id: str, name: str) -> bytes:
    """The associated data of a run's secret input: it opens only in that run, as that name."""
    return json.dumps(["run-input", run_id, name]).encode()


def stored_secret_context(scope: str, name: str) -> bytes:
    """The associated data of a stored secret: it opens only in its scope ('' is global),
    as that name."""
    return json.dumps(["stored-secret", scope, name]).encode()


def open_stored(sealer: Sealer, rows: dict[str, dict]) -> list[Any]:
    """The values of stored secrets ``{name: {"scope", "value"}}`` that open (for masking)."""
    out = []
    for name, row in rows.items():
        # A value this key cannot open cannot have reached a step either.
        with contextlib.suppress(ValueError):
            out.append(sealer.unseal(row["value"], stored_secret_context(row["scope"], name)))
    return out


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(body: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise ValueError("not a sealed value") from None


class _LegacyV1:
    """Opens values sealed before 0.2 (HMAC-SHA256 counter mode, encrypt-then-MAC), so runs
    waiting across the upgrade keep their secrets. Read-only: new values are AES-GCM."""

    _NONCE, _TAG = 16, 32

    def __init__(self, key: bytes) -> None:
        self._enc = hmac.digest(key, b"wfe-seal-encrypt", "sha256")
        self._mac = hmac.digest(key, b"wfe-seal-authenticate", "sha256")

    def open(self, raw: bytes) -> bytes:
        if len(raw) < self._NONCE + self._TAG:
            raise ValueError("not a sealed value")
        nonce, cipher, tag = raw[:self._NONCE], raw[self._NONCE:-self._TAG], raw[-self._TAG:]
        if not hmac.compare_digest(tag, hmac.digest(self._mac, nonce + cipher, "sha256")):
            raise ValueError("the sealed value does not verify")
        blocks = (hmac.digest(self._enc, nonce + i.to_bytes(8, "big"), "sha256")
                  for i in range((len(cipher) + 31) // 32))
        stream = b"".join(blocks)
        return bytes(a ^ b for a, b in zip(cipher, stream, strict=False))


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith((SEALED_V1, SEALED_V2))


# ---- a run's inputs ---------------------------------------------------------------------

def seal_inputs(variables: dict, inputs: dict, sealer: Sealer | None, run_id: str) -> dict:
    """The input as stored: each ``secret: true`` variable's value sealed to its run."""
    if sealer is None:
        return inputs
    return {name: sealer.seal(value, input_context(run_id, name))
            if getattr(variables.get(name), "secret", False) and value is not None else value
            for name, value in inputs.items()}


async def seal_inputs_async(variables: dict, inputs: dict, sealer: Sealer | None,
                            run_id: str) -> dict:
    """seal_inputs, on a thread when the secrets are large enough to stall the loop."""
    if _secret_bytes(variables, inputs) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(seal_inputs, variables, inputs, sealer, run_id)
    return seal_inputs(variables, inputs, sealer, run_id)


def _secret_bytes(variables: dict, inputs: dict) -> int:
    return sum(len(json.dumps(v)) for n, v in inputs.items()
               if getattr(variables.get(n), "secret", False))


class SecretUnavailable(Exception):
    """A secret input that this daemon's secret.key does not open (the key was replaced)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def open_inputs(stored: dict, sealer: Sealer | None, run_id: str,
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
                value = sealer.unseal(value, input_context(run_id, name))
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
