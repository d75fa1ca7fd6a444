"""How big each scenario is: full sizes (the targets' own), ``--quick``, ``--smoke`` (tests)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    name: str
    reps: int  # repetitions of the cheap scenarios (each on a fresh daemon); medians are quoted
    runs: int  # throughput: runs x steps, all started at once
    steps: int
    latency_runs: int  # one 10-step run at a time
    shell_runs: int
    shell_steps: int
    api_runs: int  # completed runs in the database the API scenario reads
    api_clients: int
    api_requests: int  # per endpoint, spread over the clients
    parked: int
    recovery_runs: int
    cli_reps: int
    post_connections: int = 64  # connections the load client opens to start runs
    parallel_branches: int = 100  # one run of this many `needs: []` sleep steps
    parallel_sleep_s: float = 1.0
    reps_foreach: int = 5  # runs of each foreach shape (after a warm-up); medians are quoted
    foreach_burst: int = 100  # items of `sleep` at concurrency = items
    foreach_sleep_s: float = 1.0
    foreach_items: int = 1000  # items of `true` ...
    foreach_concurrency: int = 32  # ... this many at once
    chain_steps: int = 100  # the baseline: a run of this many `true` steps in a chain
    idle_schedules: int = 10_000  # schedules due in a day: memory and Runners while idle
    due_schedules: int = 100  # schedules due in the same second: how late they fire
    churn_runs: int = 100_000  # finished runs made and deleted (through the store)
    churn_keep: int = 1000  # runs that stay
    # takeover: 3 nodes on PostgreSQL, a steady load of runs of K `sleep S` steps, one node
    # killed with SIGKILL per trial (scaleout, beside it, uses reps, runs and steps)
    takeover_trials: int = 5
    takeover_lease_s: float = 5.0  # lease_seconds
    takeover_heartbeat_s: float = 1.0  # heartbeat_interval: renews the leases
    takeover_rate: float = 3.0  # runs started per second, through node 1
    takeover_steps: int = 5
    takeover_step_s: float = 1.0
    takeover_settle_s: float = 6.0  # load before the kill
    takeover_min_held: int = 3  # running runs the victim holds at least when killed


FULL = Sizes("full", reps=3, runs=1000, steps=10, latency_runs=50, shell_runs=200, shell_steps=5,
             api_runs=1000, api_clients=50, api_requests=5000, parked=10_000,
             recovery_runs=1000, cli_reps=15)
QUICK = Sizes("quick", reps=1, runs=300, steps=10, latency_runs=20, shell_runs=50, shell_steps=5,
              api_runs=300, api_clients=50, api_requests=1000, parked=1000,
              recovery_runs=300, cli_reps=5, reps_foreach=3, foreach_items=300,
              chain_steps=50, idle_schedules=2000, churn_runs=10_000,
              churn_keep=500, takeover_trials=3)
SMOKE = Sizes("smoke", reps=1, runs=5, steps=3, latency_runs=2, shell_runs=3, shell_steps=2,
              api_runs=5, api_clients=2, api_requests=10, parked=5, recovery_runs=5, cli_reps=1,
             parallel_branches=3, parallel_sleep_s=0.1, reps_foreach=1, foreach_burst=3,
             foreach_sleep_s=0.1, foreach_items=4, foreach_concurrency=2, chain_steps=3,
             idle_schedules=5, due_schedules=3, churn_runs=300, churn_keep=20,
             takeover_trials=1, takeover_lease_s=2.0, takeover_heartbeat_s=0.5,
             takeover_rate=4.0, takeover_steps=3, takeover_step_s=0.2, takeover_settle_s=1.0,
             takeover_min_held=1)
BY_NAME = {s.name: s for s in (FULL, QUICK, SMOKE)}
