"""Benchmarks of the PuMPuRS platform: `make bench` (or `python -m bench [--quick] [--json PATH]`).

Every figure is a ratio against a baseline measured in the same run, on the same bundled servers
(PostgreSQL and Redis on 127.0.0.1, started under .var/bench/ and stopped at the end), so a slow
machine or a busy neighbour moves the value and the baseline alike.

Adding a benchmark: write `bench/<name>.py` with a module-level

    BENCHMARK = Benchmark(name="<name>", title="...", servers=("postgres", "redis"), run=run)

where `run(ctx: Context) -> list[Row]` starts what it needs (helpers in `bench.core`), measures the
figure and its baseline, stops everything it started in a `finally`, and keeps every loop bounded
in count and time (`ctx.phase_deadline`, `ctx.scale`). Then list the module in `bench.runner.MODULES`.
"""
