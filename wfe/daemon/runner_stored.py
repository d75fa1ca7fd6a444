"""Stored secrets and variables as a Runner reads them: those of the run's owner, else the
global ones, opened fresh when a step starts (so a rotated value reaches the next step and a
removed one fails it, naming it), and added to the run's Masker before anything is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfe.daemon.secrets import Masker, stored_secret_context
from wfe.daemon.store import ops_secrets
from wfe.engine.stored import step_reads, template_reads

if TYPE_CHECKING:
    from wfe.daemon.supervisor import Supervisor


class StoredMissing(Exception):
    """A secret or variable a step reads is not set (for the run's owner, nor globally)."""


class StoredReads:
    """The Runner's half that reads stored secrets and variables."""

    sup: Supervisor
    run_id: str
    spec: Any
    masker: Masker
    run_meta: dict[str, Any]

    def init_stored(self) -> None:
        # Name -> value of what steps read so far; every secret value ever read stays masked.
        self.stored_values: dict[str, dict[str, Any]] = {"secrets": {}, "vars": {}}
        self.turn_reads: dict[int, dict[str, list[str]]] = {}

    async def open_template_secrets(self) -> None:
        """The secrets the template reads that are set now: into the Masker, so a log a
        crash cut short is masked of them too."""
        names = template_reads(self.spec.steps)["secrets"]
        await self._open("secrets", sorted(names), strict=False)

    async def open_step_reads(self, idx: int) -> dict[str, list[str]]:
        """Read what step ``idx`` reads, fresh; StoredMissing names what is not set."""
        reads = step_reads(self.spec.steps[idx])
        named = {root: sorted(names) for root, names in reads.items() if names}
        for root, names in named.items():
            await self._open(root, names, strict=True)
        self.turn_reads[idx] = named
        return named

    async def _open(self, root: str, names: list[str], strict: bool) -> None:
        kind = "secret" if root == "secrets" else "var"
        found = await ops_secrets.values_for(self.sup.store, kind, self.run_meta["owner"],
                                             names)
        missing = [n for n in names if n not in found]
        if strict and missing:
            where = "secrets" if kind == "secret" else "variables"
            raise StoredMissing(f"stored_{kind}_missing: {', '.join(missing)} not set (no "
                                f"{where} of that name for {self.run_meta['owner']} nor global)")
        opened = []
        for name, row in found.items():
            try:
                self.stored_values[root][name] = self._value(kind, name, row)
                opened.append(name)
            except StoredMissing:
                if strict:
                    raise
        if kind == "secret":
            self.masker.add(self.stored_values[root][n] for n in opened)

    def _value(self, kind: str, name: str, row: dict) -> Any:
        if kind == "var":
            return row["value"]
        if self.sup.sealer is None:
            raise StoredMissing(f"stored_secret_unavailable: {name}: no key to open it with")
        try:
            return self.sup.sealer.unseal(row["value"], stored_secret_context(row["scope"], name))
        except ValueError:
            raise StoredMissing(f"stored_secret_unavailable: {name} does not open with this"
                                " daemon's secret.key (was the key replaced?)") from None

    def stored_context(self) -> dict[str, Any]:
        return {"secrets": self.stored_values["secrets"], "vars": self.stored_values["vars"]}
