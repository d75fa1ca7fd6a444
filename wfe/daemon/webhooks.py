"""The outbound delivery loop: drains the durable outbox (``deliveries``) to receivers.

Rows are written in the same transaction as their event, so the loop only has to find the
due ones, POST each (signed per Standard Webhooks, the same ``webhook-id`` on every try),
and commit the outcome. A crash mid-POST leaves the row pending: it is sent again after a
restart (at-least-once; receivers deduplicate on ``webhook-id``).

Settled rows are pruned once older than ``webhook_retention``, and a run's callback_url
hook once its run has ended for that long and has nothing left to send (a housekeeping
pass at start and then every tenth of the retention, at most ten minutes apart).

A webhook may name a stored secret to send in a header (``secret_header``): its value is
read, the owner's own else the global one, at each attempt, so a rotation counts from the
next attempt; it is never stored with the delivery, and masked in the receiver's answer
kept in last_error. A secret that is not set fails the delivery at once, saying so.

Destinations are checked when registered and again at each attempt: a URL naming an IP is
checked directly, and a host name is checked by the connector's resolver, on the very
addresses it then connects to, so DNS that changes its answer cannot slip past the policy.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

import wfe
from wfe.config import Settings
from wfe.daemon.faults import fault
from wfe.daemon.secrets import Masker, Sealer, stored_secret_context
from wfe.daemon.storage import until_stored
from wfe.daemon.store import Store, ops_secrets, ops_webhooks
from wfe.daemon.store.util import loads, now_iso
from wfe.engine.webhooks import (
    ip_literal,
    refused_address,
    refused_header_value,
    refused_url,
    signed_headers,
)

log = logging.getLogger("wfe.webhooks")
MAX_SLEEP = 5.0  # a rescan at least this often, so a jump of the clock is noticed
COALESCE = 0.05  # a burst of commits costs one scan, not one per batch
CLAIM_MARGIN = 30.0  # a claimed delivery is due again this long after its timeout
ERROR_BODY = 200  # characters of a failing receiver's answer kept in last_error
SWEEP_BATCH = 500  # rows looked at per write, so housekeeping never holds the writer long
HOOK_BATCH = 50  # callback hooks removed per write, each with the deliveries it has left
SWEEP_EVERY = (0.01, 600.0)  # bounds on the pause between housekeeping passes


class RefusedDestination(OSError):
    """A host name resolved to an address webhooks may not reach."""


class GuardedResolver(AbstractResolver):
    """The default resolver, refusing a name if any of its addresses is refused: a name
    with one good and one metadata address is a trick, not a choice."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET):
        results = await self._inner.resolve(host, port, family)
        for result in results:
            ip = ip_literal(result["host"])
            reason = "not an IP address" if ip is None else refused_address(ip, self.allow_private)
            if reason:
                raise RefusedDestination(f"{host.rstrip('.')} resolves to {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def http_session(s: Settings) -> aiohttp.ClientSession:
    """Not the supervisor's shared session: this one's connector enforces the policy, and
    it ignores proxy variables (trust_env off) so the policy sees the real destination."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(s.webhook_allow_private),
                                     limit=s.webhook_concurrency)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=s.webhook_timeout),
        headers={"User-Agent": f"wfe/{wfe.__version__} (webhooks)"})


@dataclass
class Outcome:
    code: int | None = None
    error: str | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class HeaderUnavailable(Exception):
    """The stored secret a webhook's header names cannot be read now."""


async def secret_header(store: Store, sealer: Sealer | None, owner: str,
                        spec: dict) -> tuple[str, str]:
    """``(header name, value)`` from the owner's stored secret (else the global one), read
    now; HeaderUnavailable says why not."""
    name = spec["secret"]
    row = (await ops_secrets.values_for(store, "secret", owner, [name])).get(name)
    if row is None:
        raise HeaderUnavailable(f"stored_secret_missing: {name} not set (no secret of that"
                                f" name for {owner} nor global), needed for the"
                                f" {spec['name']} header")
    if sealer is None:
        raise HeaderUnavailable(f"stored_secret_unavailable: {name}: no key to open it with")
    try:
        value = sealer.unseal(row["value"], stored_secret_context(row["scope"], name))
    except ValueError:
        raise HeaderUnavailable(f"stored_secret_unavailable: {name} does not open with this"
                                " daemon's secret.key (was the key replaced?)") from None
    text = spec.get("prefix", "") + str(value)
    reason = refused_header_value(text)
    if reason:
        raise HeaderUnavailable(f"secret {name} cannot be sent in the {spec['name']}"
                                f" header: {reason}")
    return spec["name"], text


class Deliverer:
    """Finds due deliveries, attempts them (a bounded number at once), records outcomes."""

    def __init__(self, store: Store, settings: Settings, sealer: Sealer | None = None,
                 claim: Callable[..., Any] | None = None) -> None:
        self.store = store
        # Several nodes share the deliveries: each is claimed (op(conn, id, hold)) first.
        self.claim = claim
        self.settings = settings
        self.sealer = sealer
        self.session: aiohttp.ClientSession | None = None
        self.inflight: dict[str, asyncio.Task] = {}
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    def start(self) -> None:
        self.session = http_session(self.settings)
        self._tasks = [asyncio.create_task(self._watch(self._loop), name="wfe-webhooks"),
                       asyncio.create_task(self._watch(self._sweep), name="wfe-webhooks-sweep")]

    async def stop(self) -> None:
        """In-flight attempts are abandoned; their rows stay pending for the next start."""
        self._stopping = True
        tasks = [*self._tasks, *self.inflight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    async def _watch(self, loop) -> None:
        """A loop that dies is logged and started again, never lost silently."""
        while not self._stopping:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the webhook loop %s crashed; restarting it", loop.__name__)
                await asyncio.sleep(0.5)

    async def _loop(self) -> None:
        writer = self.store.write
        while not self._stopping:
            # Read the batch counter before scanning: a commit that lands during the scan
            # then skips the wait instead of being slept through.
            seen = writer.batches
            nxt = await self._scan()
            delay = MAX_SLEEP if nxt is None else min(MAX_SLEEP, max(0.0, nxt - time.time()))
            if delay > 0 and writer.batches == seen:
                await writer.wait_commit(delay)
            await asyncio.sleep(COALESCE)

    async def _sweep(self) -> None:
        """The first pass right at start, so a daemon restarted more often than the
        interval still prunes."""
        retention = self.settings.webhook_retention
        low, high = SWEEP_EVERY
        while True:
            hooks, rows = await housekeep(self.store, retention)
            if hooks or rows:
                log.info("pruned %d old deliveries and %d ended runs' callback hooks",
                         rows, hooks)
            await asyncio.sleep(min(high, max(low, retention / 10)))

    async def _scan(self) -> float | None:
        """Start the due deliveries that fit; return when the next one falls due."""
        room = self.settings.webhook_concurrency
        rows = await ops_webhooks.next_pending(self.store, 2 * room + 1)
        now, nxt = time.time(), None
        for row in rows:
            if row["id"] in self.inflight:
                continue
            if row["next_attempt_at"] > now:
                nxt = row["next_attempt_at"] if nxt is None else min(nxt, row["next_attempt_at"])
            elif len(self.inflight) < room:
                self.inflight[row["id"]] = asyncio.create_task(
                    self._deliver(row), name=f"webhook-{row['id']}")
        return nxt

    async def _deliver(self, row: dict) -> None:
        try:
            if self.claim is not None and not await self.store.write(
                    self.claim, row["id"], self.settings.webhook_timeout + CLAIM_MARGIN):
                return  # another node sends it
            outcome = await self._attempt_row(row)
            # Sent: the outcome waits out a full disk rather than the message going twice.
            await until_stored(lambda: self._record(row["id"], outcome),
                               self.settings.storage_retry_interval, f"delivery {row['id']}")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery %s could not be recorded", row["id"])
        finally:
            self.inflight.pop(row["id"], None)

    async def _attempt_row(self, row: dict) -> Outcome:
        spec = loads(row.get("secret_header"))
        if not spec:
            return await self.attempt(row["url"], row["secret"], row["id"], row["payload"])
        try:
            name, value = await secret_header(self.store, self.sealer, row["owner"], spec)
        except HeaderUnavailable as exc:  # setting it and redelivering mends it, not waiting
            return Outcome(error=str(exc), permanent=True)
        outcome = await self.attempt(row["url"], row["secret"], row["id"], row["payload"],
                                     {name: value})
        if outcome.error:  # a receiver may echo the header back in its answer
            outcome.error = Masker([value]).text(outcome.error)
        return outcome

    async def _record(self, delivery_id: str, outcome: Outcome) -> None:
        if outcome.ok:
            await self.store.write(ops_webhooks.record_success, delivery_id, outcome.code)
            return
        status = await self.store.write(
            ops_webhooks.record_failure, delivery_id, outcome.code, outcome.error,
            self.settings.webhook_retry_base, random.random(), outcome.permanent)
        if status == "failed":
            log.warning("delivery %s failed for good: %s", delivery_id, outcome.error)

    async def attempt(self, url: str, secret: str, msg_id: str, payload: str,
                      extra: dict[str, str] | None = None) -> Outcome:
        """One signed POST, with ``extra`` headers. Redirects are not followed: a 3xx is a
        failed attempt."""
        reason = refused_url(url, self.settings.webhook_allow_private)
        if reason:
            return Outcome(error=f"refused destination: {reason}", permanent=True)
        body = payload.encode()
        try:
            headers = {**(extra or {}), **signed_headers(secret, msg_id, int(time.time()), body)}
        except ValueError as exc:  # a corrupt secret: no retry mends it
            return Outcome(error=f"cannot sign: {exc}", permanent=True)
        fault("webhook_send")
        assert self.session is not None, "start() first"
        try:
            async with self.session.post(url, data=body, headers=headers,
                                         allow_redirects=False) as resp:
                if 200 <= resp.status < 300:
                    return Outcome(code=resp.status)
                return Outcome(code=resp.status, error=await _answer(resp))
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedDestination):
                return Outcome(error=f"refused destination: {exc.os_error}", permanent=True)
            return Outcome(error=f"cannot connect: {exc.os_error or exc}")
        except TimeoutError:
            return Outcome(error=f"no answer within {self.settings.webhook_timeout:g}s")
        except (aiohttp.ClientError, OSError) as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}")


async def housekeep(store: Store, retention: float) -> tuple[int, int]:
    """One pass, each batch its own write so other writes go between them. Returns how
    many callback hooks and how many deliveries went."""
    cutoff = now_iso(time.time() - retention)
    hooks = n = await store.write(ops_webhooks.remove_ended_run_hooks, cutoff, HOOK_BATCH)
    while n == HOOK_BATCH:
        n = await store.write(ops_webhooks.remove_ended_run_hooks, cutoff, HOOK_BATCH)
        hooks += n
    rows, after = 0, 0
    while after is not None:
        n, after = await store.write(ops_webhooks.prune_deliveries, cutoff, after, SWEEP_BATCH)
        rows += n
    return hooks, rows


async def _answer(resp: aiohttp.ClientResponse) -> str:
    text = f"HTTP {resp.status}"
    if 300 <= resp.status < 400:
        return text + " (redirects are not followed)"
    try:
        raw = await resp.content.read(ERROR_BODY * 4)
    except (aiohttp.ClientError, TimeoutError):
        return text
    snippet = " ".join(raw.decode("utf-8", "replace").split())[:ERROR_BODY]
    return f"{text}: {snippet}" if snippet else text
