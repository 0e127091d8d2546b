//! One case of one benchmark, run in a process of its own: peak RSS is a process's
//! high-water mark, and what an earlier case left in the allocator would otherwise count
//! against the next. The parent sends the case as JSON in an argument; the child prints
//! what it measured as JSON on stdout.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BenchError;
use crate::catalogue::CatalogueDelta;
use crate::client::LoadGenerator;
use crate::footprint::Footprint;
use crate::harness::Backend;
use crate::orders::OrderPath;
use crate::report::Measurement;
use crate::stock::StockPropagation;

/// The hidden subcommand a child runs a case with.
pub const CASE_COMMAND: &str = "case";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "benchmark")]
pub enum Case {
    Footprint {
        kontor: PathBuf,
        starts: usize,
    },
    Orders {
        backend: Backend,
        orders: usize,
        concurrency: usize,
        workers: usize,
        paced_for: Duration,
    },
    Catalogue {
        variants: usize,
        /// Peak RSS of the smallest catalogue, to show memory staying flat.
        smallest_peak_rss: Option<u64>,
    },
    Stock {
        samples: usize,
    },
}

impl Case {
    /// A line for the progress log.
    pub fn describe(&self) -> String {
        match self {
            Case::Footprint { kontor, .. } => format!("footprint: {}", kontor.display()),
            Case::Orders {
                backend, orders, ..
            } => format!("orders: {orders} orders on {}", backend.name()),
            Case::Catalogue { variants, .. } => {
                format!("catalogue: {variants} variants, 1 % changed")
            }
            Case::Stock { samples } => format!("stock: {samples} changes, polled and on events"),
        }
    }
}

/// What one case measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaseOutput {
    pub measurements: Vec<Measurement>,
    pub notes: Vec<String>,
    /// The catalogue's peak RSS, for the next sizes to compare against.
    pub peak_rss: Option<u64>,
}

impl Case {
    /// Runs the case in this process.
    pub async fn run(&self) -> Result<CaseOutput, BenchError> {
        match self {
            Case::Footprint { kontor, starts } => {
                let client = LoadGenerator::new(1)?;
                let result = Footprint {
                    kontor: kontor.clone(),
                    starts: *starts,
                }
                .run(&client)
                .await?;
                Ok(CaseOutput {
                    measurements: result.measurements(),
                    ..CaseOutput::default()
                })
            }
            Case::Orders {
                backend,
                orders,
                concurrency,
                workers,
                paced_for,
            } => {
                let client = LoadGenerator::new(1)?;
                let path = OrderPath {
                    orders: *orders,
                    concurrency: *concurrency,
                    workers: *workers,
                    paced_for: *paced_for,
                };
                let result = path.run(backend, &client).await?;
                Ok(CaseOutput {
                    measurements: result.measurements(),
                    ..CaseOutput::default()
                })
            }
            Case::Catalogue {
                variants,
                smallest_peak_rss,
            } => {
                let result = CatalogueDelta::new(*variants).run().await?;
                Ok(CaseOutput {
                    measurements: result.measurements(*smallest_peak_rss),
                    notes: Vec::new(),
                    peak_rss: Some(result.first.peak_rss.max(result.delta.peak_rss)),
                })
            }
            Case::Stock { samples } => {
                let result = StockPropagation { samples: *samples }.run().await?;
                Ok(CaseOutput {
                    measurements: result.measurements(),
                    notes: result.notes(),
                    peak_rss: None,
                })
            }
        }
    }

    /// Runs the case in a child process of this binary (`exe case <json>`), passing
    /// `log` on; the child's stderr is this process's.
    pub async fn run_isolated(
        &self,
        exe: &std::path::Path,
        log: Option<&str>,
    ) -> Result<CaseOutput, BenchError> {
        let spec = serde_json::to_string(self)
            .map_err(|e| BenchError::Failed(format!("encoding the case: {e}")))?;
        let mut command = tokio::process::Command::new(exe);
        if let Some(filter) = log {
            command.args(["--log", filter]);
        }
        // Spawned, not `output()`: that would capture stderr too, and the child's
        // progress and logs are for the person running the benchmarks.
        let output = command
            .args([CASE_COMMAND, &spec])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::io(&format!("running {}", exe.display()), e))?
            .wait_with_output()
            .await
            .map_err(|e| BenchError::io(&format!("waiting for {}", exe.display()), e))?;
        if !output.status.success() {
            return Err(BenchError::Failed(format!(
                "{} failed ({})",
                self.describe(),
                output.status
            )));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| {
            BenchError::Failed(format!("reading what {} measured: {e}", self.describe()))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_case_survives_the_trip_to_the_child_and_back() {
        let case = Case::Orders {
            backend: Backend::Postgres("postgres://postgres@127.0.0.1:5432/postgres".into()),
            orders: 2_000,
            concurrency: 32,
            workers: 8,
            paced_for: Duration::from_secs(3),
        };
        let json = serde_json::to_string(&case).unwrap();
        assert!(json.contains(r#""benchmark":"orders""#), "{json}");
        let back: Case = serde_json::from_str(&json).unwrap();
        assert_eq!(back.describe(), "orders: 2000 orders on PostgreSQL");

        let output = CaseOutput {
            measurements: vec![
                Measurement::new("catalogue", "10 000 variants", "peak RSS", "MiB", 21.5)
                    .against("smallest", 20.0),
            ],
            notes: vec!["a note".into()],
            peak_rss: Some(22_000_000),
        };
        let back: CaseOutput =
            serde_json::from_str(&serde_json::to_string(&output).unwrap()).unwrap();
        assert_eq!(back.measurements, output.measurements);
        assert_eq!(back.peak_rss, Some(22_000_000));
    }
}
