//! Tasking figures (issue 4), on SQLite and, when `PULP_TEST_POSTGRES_URL` is set, PostgreSQL:
//! - `latency`: dispatch → completion of one no-op task, one worker in the process;
//! - `throughput`: 1,000 no-op tasks dispatched by 1 or 16 concurrent clients and drained
//!   by 2 workers (time per batch → tasks/s);
//! - `pick_with_backlog/N`: latency of an unrelated no-op task while N waiting tasks are
//!   blocked behind a running one (pulpcore rescans its whole queue; we index by resource).
//!
//! Run: `cargo bench -p pulp-benches --bench tasking`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::StreamExt;
use pulp_core::settings::SettingsSources;
use pulp_core::tasking::{
    builtin, dispatch, unfinished_count, DispatchRequest, Task, TaskState, Worker, WorkerOptions,
};
use pulp_core::testing::TestDatabase;
use pulp_core::App;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// Whether this is a real benchmark run (`cargo bench`), not a smoke run (`cargo test --benches`),
/// which only checks that the benchmarks work, on small sizes.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

struct Setup {
    name: &'static str,
    app: App,
    stop: CancellationToken,
    _db: TestDatabase,
}

async fn setup(name: &'static str, db: TestDatabase, workers: usize) -> Setup {
    let app = App::builder(SettingsSources::defaults_only())
        .build_with(db.settings())
        .await
        .expect("build app");
    app.migrate().await.expect("migrate");
    let stop = CancellationToken::new();
    for i in 0..workers {
        let options = WorkerOptions {
            name: Some(format!("bench-{i}")),
            ..WorkerOptions::default()
        };
        tokio::spawn(Worker::new(app.clone(), options).run(stop.clone()));
    }
    Setup {
        name,
        app,
        stop,
        _db: db,
    }
}

async fn setups(workers: usize) -> Vec<Setup> {
    let mut all = vec![setup("sqlite", TestDatabase::sqlite().await, workers).await];
    if std::env::var("PULP_TEST_POSTGRES_URL").is_ok() {
        if let Some(db) = TestDatabase::postgres().await {
            all.push(setup("postgres", db, workers).await);
        }
    }
    all
}

/// Waits (polling like an API client would, every 100 µs) until `task` has ended.
async fn wait(app: &App, task: &Task) {
    loop {
        let state = task.refresh(app.db()).await.expect("refresh").state;
        if state.is_final() {
            assert_eq!(state, TaskState::Completed);
            return;
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

async fn round_trip(app: &App) -> Duration {
    let started = Instant::now();
    let task = dispatch(app, DispatchRequest::new(builtin::NOOP))
        .await
        .expect("dispatch");
    wait(app, &task).await;
    started.elapsed()
}

fn latency(c: &mut Criterion) {
    let runtime = Runtime::new().expect("runtime");
    let setups = runtime.block_on(setups(1));
    let mut group = c.benchmark_group("latency");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    for s in &setups {
        group.bench_function(s.name, |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        total += round_trip(&s.app).await;
                    }
                    total
                })
            })
        });
    }
    group.finish();
    for s in &setups {
        s.stop.cancel();
    }
}

/// Dispatches `n` tasks from `clients` concurrent clients (as an API serving several users
/// would), then waits until every task has ended.
async fn run_batch(
    app: &App,
    n: u64,
    clients: usize,
    request: impl Fn(u64) -> DispatchRequest,
) -> Duration {
    let started = Instant::now();
    futures::stream::iter((0..n).map(|i| dispatch(app, request(i))))
        .buffer_unordered(clients)
        .for_each(|task| async move {
            task.expect("dispatch");
        })
        .await;
    while unfinished_count(app.db()).await.expect("count") > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    let batch: u64 = if measuring() { 1000 } else { 20 };
    let runtime = Runtime::new().expect("runtime");
    let setups = runtime.block_on(setups(2));
    let mut group = c.benchmark_group("throughput");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Elements(batch));
    for s in &setups {
        for clients in [1usize, 16] {
            group.bench_function(
                BenchmarkId::new(format!("noop_2_workers_{clients}_clients"), s.name),
                |b| {
                    b.iter_custom(|iterations| {
                        runtime.block_on(async {
                            let mut total = Duration::ZERO;
                            for _ in 0..iterations {
                                total += run_batch(&s.app, batch, clients, |_| {
                                    DispatchRequest::new(builtin::NOOP)
                                })
                                .await;
                            }
                            total
                        })
                    })
                },
            );
        }
        // Each task reserves a repository of its own, like pulpcore's PATCH-a-repository tasks.
        group.bench_function(
            BenchmarkId::new("noop_exclusive_2_workers_16_clients", s.name),
            |b| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let mut total = Duration::ZERO;
                        for round in 0..iterations {
                            total += run_batch(&s.app, batch, 16, |i| {
                                DispatchRequest::new(builtin::NOOP)
                                    .exclusive([format!("/repositories/{round}-{i}/")])
                            })
                            .await;
                        }
                        total
                    })
                })
            },
        );
    }
    group.finish();
    for s in &setups {
        s.stop.cancel();
    }
}

fn pick_with_backlog(c: &mut Criterion) {
    let runtime = Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("pick_with_backlog");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    let sizes: &[u64] = if measuring() {
        &[10, 10_000]
    } else {
        &[10, 100]
    };
    for &backlog in sizes {
        let setups = runtime.block_on(async {
            // Two workers: one stays busy with the holder, the other picks the measured task.
            let setups = setups(2).await;
            for s in &setups {
                // One long task holds "busy"; the backlog waits behind it.
                let holder = DispatchRequest::new(builtin::SLEEP)
                    .args(serde_json::json!({ "interval": 3600 }))
                    .exclusive(["busy"]);
                dispatch(&s.app, holder).await.expect("holder");
                futures::stream::iter((0..backlog).map(|_| {
                    dispatch(
                        &s.app,
                        DispatchRequest::new(builtin::NOOP).exclusive(["busy"]),
                    )
                }))
                .buffer_unordered(16)
                .for_each(|task| async move {
                    task.expect("backlog");
                })
                .await;
            }
            setups
        });
        for s in &setups {
            group.bench_function(BenchmarkId::new(s.name, backlog), |b| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iterations {
                            total += round_trip(&s.app).await;
                        }
                        total
                    })
                })
            });
            s.stop.cancel();
        }
    }
    group.finish();
}

criterion_group!(benches, latency, throughput, pick_with_backlog);
criterion_main!(benches);
