//! Benchmarks of pulp-rs live in `benches/` (criterion) and in the shell scripts beside it.
