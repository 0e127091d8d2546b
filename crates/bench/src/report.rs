//! The results of one run: every measurement with the floor it is compared against and
//! the target it must meet, written as JSON (for machines) and a Markdown table (for
//! people).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// A bound a measurement must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "bound", content = "value")]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
    /// On the ratio to the floor, not on the value.
    RatioAtMost(f64),
}

impl Target {
    /// Whether `value` (the ratio, for a ratio target) is within the bound.
    pub fn met_by(self, value: f64) -> bool {
        match self {
            Target::AtLeast(bound) => value >= bound,
            Target::AtMost(bound) | Target::RatioAtMost(bound) => value <= bound,
        }
    }

    /// What the target bounds: the measurement's value, or its ratio to the floor.
    fn bounded(self, m: &Measurement) -> f64 {
        match self {
            Target::RatioAtMost(_) => m.ratio.unwrap_or(f64::INFINITY),
            Target::AtLeast(_) | Target::AtMost(_) => m.value,
        }
    }

    /// How far off a missed target is, as a factor (1.25 = 25 % worse than the bound).
    pub fn shortfall(self, value: f64) -> Option<f64> {
        if self.met_by(value) {
            return None;
        }
        Some(match self {
            Target::AtLeast(bound) => bound / value.max(f64::MIN_POSITIVE),
            Target::AtMost(bound) | Target::RatioAtMost(bound) => {
                value / bound.max(f64::MIN_POSITIVE)
            }
        })
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Target::AtLeast(v) => format!("≥ {} {unit}", number(v)),
            Target::AtMost(v) => format!("≤ {} {unit}", number(v)),
            Target::RatioAtMost(v) => format!("≤ {v}× the floor"),
        }
    }
}

/// The same quantity measured, in the same run, for what Kontor cannot beat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// What the floor is, in a few words.
    pub what: String,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// `orders`, `catalogue`, `stock` or `footprint`.
    pub benchmark: String,
    /// Which variant of the benchmark: the store, the catalogue size, the trigger.
    pub case: String,
    pub metric: String,
    pub unit: String,
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// value ÷ baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

impl Measurement {
    pub fn new(benchmark: &str, case: &str, metric: &str, unit: &str, value: f64) -> Self {
        Measurement {
            benchmark: benchmark.to_owned(),
            case: case.to_owned(),
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            value,
            baseline: None,
            ratio: None,
            target: None,
            met: None,
        }
    }

    pub fn against(mut self, what: &str, value: f64) -> Self {
        self.ratio = (value != 0.0).then(|| self.value / value);
        self.baseline = Some(Baseline {
            what: what.to_owned(),
            value,
        });
        self
    }

    /// The bound this must meet; a ratio target needs [`Self::against`] first.
    pub fn target(mut self, target: Target) -> Self {
        self.met = Some(target.met_by(target.bounded(&self)));
        self.target = Some(target);
        self
    }

    /// For a missed target: what it is and how far off, in a line.
    pub fn shortfall_note(&self) -> Option<String> {
        let target = self.target?;
        let off = target.shortfall(target.bounded(self))?;
        Some(format!(
            "target missed: {} / {} / {}: {} {} against {} (off by {off:.2}×)",
            self.benchmark,
            self.case,
            self.metric,
            number(self.value),
            self.unit,
            target.describe(&self.unit)
        ))
    }
}

/// Where and how the run was made.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub quick: bool,
    pub cores: usize,
    pub kernel: String,
    pub commit: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run: RunInfo,
    pub measurements: Vec<Measurement>,
    /// What the benchmarks noticed: targets missed and why, conditions of the run.
    pub notes: Vec<String>,
}

impl Report {
    pub fn missed(&self) -> impl Iterator<Item = &Measurement> {
        self.measurements.iter().filter(|m| m.met == Some(false))
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let run = &self.run;
        let _ = writeln!(out, "# Kontor benchmarks\n");
        let _ = writeln!(
            out,
            "{} run of {} at commit `{}` on {} cores ({}), {:.0} s.\n",
            if run.quick { "Quick" } else { "Full" },
            run.started_at.format("%Y-%m-%d %H:%M UTC"),
            run.commit,
            run.cores,
            run.kernel,
            run.seconds,
        );
        let mut benchmarks: Vec<&str> = Vec::new();
        for m in &self.measurements {
            if !benchmarks.contains(&m.benchmark.as_str()) {
                benchmarks.push(&m.benchmark);
            }
        }
        for benchmark in benchmarks {
            let _ = writeln!(out, "## {benchmark}\n");
            let _ = writeln!(
                out,
                "| case | metric | Kontor | floor | ratio | target |\n|---|---|--:|--:|--:|---|"
            );
            for m in self
                .measurements
                .iter()
                .filter(|m| m.benchmark == benchmark)
            {
                let floor = m.baseline.as_ref().map_or(String::new(), |b| {
                    format!("{} ({})", number(b.value), b.what)
                });
                let ratio = m.ratio.map_or(String::new(), |r| format!("{r:.2}×"));
                let target = match (m.target, m.met) {
                    (Some(t), Some(true)) => format!("{} ✓", t.describe(&m.unit)),
                    (Some(t), _) => format!(
                        "{} ✗ (off by {:.2}×)",
                        t.describe(&m.unit),
                        t.shortfall(t.bounded(m)).unwrap_or(1.0)
                    ),
                    (None, _) => String::new(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} {} | {} | {} | {} |",
                    m.case,
                    m.metric,
                    number(m.value),
                    m.unit,
                    floor,
                    ratio,
                    target
                );
            }
            out.push('\n');
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "## Notes\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

/// A number as people read it: whole above 100, else three significant digits.
fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ratios_targets_and_shortfalls() {
        let m = Measurement::new("orders", "sqlite", "throughput", "orders/s", 1500.0)
            .against("bare HTTP client", 6000.0)
            .target(Target::AtLeast(2000.0));
        assert_eq!(m.ratio, Some(0.25));
        assert_eq!(m.met, Some(false));
        assert!((Target::AtLeast(2000.0).shortfall(1500.0).unwrap() - 1.333).abs() < 0.01);
        assert_eq!(Target::AtMost(10.0).shortfall(12.0), Some(1.2));
        assert_eq!(Target::AtMost(10.0).shortfall(8.0), None);
        let note = m.shortfall_note().unwrap();
        assert!(
            note.contains("1500 orders/s against ≥ 2000 orders/s (off by 1.33×)"),
            "{note}"
        );
    }

    #[test]
    fn a_ratio_target_bounds_the_ratio_to_the_floor_not_the_value() {
        let calls = |made: f64| {
            Measurement::new(
                "catalogue",
                "100 000 variants",
                "delta calls",
                "calls",
                made,
            )
            .against("fewest possible", 10.0)
            .target(Target::RatioAtMost(1.1))
        };
        assert_eq!(calls(11.0).met, Some(true));
        let over = calls(12.0);
        assert_eq!(over.met, Some(false));
        assert!(over.shortfall_note().unwrap().contains("off by 1.09×"));
        assert_eq!(calls(10.0).shortfall_note(), None);
    }

    #[test]
    fn markdown_has_a_table_per_benchmark_and_marks_missed_targets() {
        let report = Report {
            run: RunInfo {
                started_at: chrono::Utc::now(),
                quick: true,
                cores: 2,
                kernel: "Linux 6".into(),
                commit: "abc1234".into(),
                seconds: 61.0,
            },
            measurements: vec![
                Measurement::new("orders", "sqlite", "p99 added latency", "ms", 12.5)
                    .target(Target::AtMost(10.0)),
                Measurement::new("footprint", "binary", "size", "MiB", 21.0),
            ],
            notes: vec!["a note".into()],
        };
        let md = report.markdown();
        assert!(md.contains("## orders"), "{md}");
        assert!(md.contains("## footprint"), "{md}");
        assert!(
            md.contains(
                "| sqlite | p99 added latency | 12.5 ms |  |  | ≤ 10 ms ✗ (off by 1.25×) |"
            ),
            "{md}"
        );
        assert!(md.contains("- a note"), "{md}");
        assert_eq!(report.missed().count(), 1);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["measurements"][0]["target"]["bound"], "at_most");
    }
}
