//! `kontor-bench`: runs Kontor's benchmarks and writes `bench.json` and `bench.md`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use kontor_bench::cases::Case;
use kontor_bench::footprint;
use kontor_bench::harness::Backend;
use kontor_bench::report::{Measurement, Report, RunInfo};

#[derive(Debug, Parser)]
#[command(about = "Kontor's benchmarks: cost per order and per product against the floor")]
struct Args {
    /// Smaller sizes: the whole run takes under two minutes.
    #[arg(long)]
    quick: bool,
    /// Where `bench.json` and `bench.md` are written.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Run only these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<Bench>,
    /// The PostgreSQL server the order path also runs on (in a schema of its own).
    #[arg(
        long,
        env = "KONTOR_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// Leave PostgreSQL out.
    #[arg(long)]
    no_postgres: bool,
    /// The `kontor` binary measured by `footprint` (default: the one beside this).
    #[arg(long)]
    kontor: Option<PathBuf>,
    /// Write Kontor's logs to stderr at this filter (e.g. `info,sqlx=debug`) rather than
    /// formatting them at `info` and discarding them, as a measured run does.
    #[arg(long)]
    log: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Bench {
    Orders,
    Catalogue,
    Stock,
    Footprint,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The footprint's floor: a process that only serves `/ready` over HTTP.
    #[command(hide = true)]
    FloorServer { port: u16 },
    /// One case, run in a child process: the case as JSON in, what it measured as JSON out.
    #[command(hide = true)]
    Case { spec: String },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    if let Some(Command::FloorServer { port }) = args.command {
        return runtime
            .block_on(footprint::floor_server(port))
            .context("serving the floor");
    }
    // Kontor logs as `kontor run` does (JSON lines at info); formatting them is part of
    // its cost, so they are written, to nowhere.
    match &args.log {
        // To see what a run did (e.g. `sqlx=debug` counts the statements per order).
        Some(filter) => tracing_subscriber::fmt()
            .with_env_filter(filter.as_str())
            .with_writer(std::io::stderr)
            .init(),
        None => tracing_subscriber::fmt()
            .json()
            .with_env_filter("info")
            .with_writer(std::io::sink)
            .init(),
    }
    if let Some(Command::Case { spec }) = &args.command {
        let case: Case = serde_json::from_str(spec).context("reading the case")?;
        let output = runtime.block_on(case.run())?;
        println!("{}", serde_json::to_string(&output)?);
        return Ok(());
    }
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let wanted = |b: Bench| args.only.is_empty() || args.only.contains(&b);
    let mut measurements: Vec<Measurement> = Vec::new();
    let mut notes = Vec::new();
    let exe = std::env::current_exe()?;
    let log = args.log.as_deref();

    if wanted(Bench::Footprint) {
        let kontor = match &args.kontor {
            Some(path) => path.clone(),
            None => exe
                .parent()
                .context("this binary has no directory")?
                .join("kontor"),
        };
        let case = Case::Footprint {
            kontor,
            starts: if args.quick { 3 } else { 7 },
        };
        eprintln!("{}", case.describe());
        measurements.extend(case.run_isolated(&exe, log).await?.measurements);
    }

    if wanted(Bench::Orders) {
        let mut backends = vec![Backend::Sqlite];
        if !args.no_postgres {
            backends.push(Backend::Postgres(args.postgres.clone()));
        }
        let concurrency = 32;
        for backend in backends {
            let case = Case::Orders {
                backend,
                orders: if args.quick { 2_000 } else { 20_000 },
                concurrency,
                workers: 8,
                paced_for: Duration::from_secs(if args.quick { 3 } else { 10 }),
            };
            eprintln!("{}", case.describe());
            measurements.extend(case.run_isolated(&exe, log).await?.measurements);
        }
        notes.push(format!(
            "orders: {concurrency} requests in flight; the load generator runs in the measured \
             process on 1 thread whose CPU time is left out; the CPU time of the PostgreSQL \
             server is not counted; latency is measured at half the throughput reached, after \
             the throughput run, on the same store"
        ));
    }

    if wanted(Bench::Catalogue) {
        let sizes: &[usize] = if args.quick {
            &[10_000, 100_000]
        } else {
            &[10_000, 100_000, 1_000_000]
        };
        let mut smallest_peak_rss = None;
        for &variants in sizes {
            let case = Case::Catalogue {
                variants,
                smallest_peak_rss,
            };
            eprintln!("{}", case.describe());
            let output = case.run_isolated(&exe, log).await?;
            measurements.extend(output.measurements);
            smallest_peak_rss = smallest_peak_rss.or(output.peak_rss);
        }
    }

    if wanted(Bench::Stock) {
        let case = Case::Stock {
            samples: if args.quick { 5 } else { 20 },
        };
        eprintln!("{}", case.describe());
        let output = case.run_isolated(&exe, log).await?;
        measurements.extend(output.measurements);
        notes.extend(output.notes);
    }
    notes.push(
        "each case runs in a process of its own, so peak RSS is that case's alone".to_owned(),
    );

    notes.extend(measurements.iter().filter_map(Measurement::shortfall_note));
    let report = Report {
        run: RunInfo {
            started_at,
            quick: args.quick,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: kernel(),
            commit: commit(),
            seconds: started.elapsed().as_secs_f64(),
        },
        measurements,
        notes,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let json = args.out.join("bench.json");
    let markdown = args.out.join("bench.md");
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let table = report.markdown();
    std::fs::write(&markdown, &table).with_context(|| format!("writing {}", markdown.display()))?;
    println!("{table}");
    eprintln!("written: {} and {}", json.display(), markdown.display());
    Ok(())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| format!("Linux {}", r.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.to_owned())
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}
