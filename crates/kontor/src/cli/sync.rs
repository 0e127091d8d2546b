//! `kontor sync <flow>`: one run of a flow, now, with progress and a summary.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use kontor_connectors::MemoryRegistry;
use kontor_engine::{JobFilter, JobState, Runner};
use kontor_flows::{PlannedAction, SyncStart};
use serde::Serialize;

use crate::app::App;
use crate::config::ConfigFile;
use crate::output;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The flow's name in the configuration (e.g. `orders`).
    pub flow: String,
    /// The tenant, when several have a flow by that name.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Show what would change, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Backfill: start from this date (2026-11-01 or RFC 3339), from `beginning`, or from
    /// a source-specific cursor value.
    #[arg(long)]
    pub since: Option<String>,
    /// Most records a dry run looks at.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

fn parse_since(since: &str) -> SyncStart {
    if since == "beginning" {
        return SyncStart::Beginning;
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(since) {
        return SyncStart::Since(at.with_timezone(&Utc));
    }
    if let Some(at) = NaiveDate::parse_from_str(since, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return SyncStart::Since(at.and_utc());
    }
    SyncStart::Cursor(since.to_owned())
}

#[derive(Debug, Serialize)]
struct Summary {
    tenant: String,
    flow: String,
    run_id: String,
    jobs: Vec<(JobState, i64)>,
    parked: Vec<ParkedJob>,
    interrupted: bool,
}

#[derive(Debug, Serialize)]
struct ParkedJob {
    id: i64,
    kind: String,
    code: String,
    message: String,
}

pub(super) async fn sync(config: ConfigFile, args: SyncArgs) -> anyhow::Result<u8> {
    let app = App::open(config, MemoryRegistry::default()).await?;
    let flow = app.flow(args.tenant.as_deref(), &args.flow)?;
    let ctx = flow.context().clone();

    if args.dry_run {
        let plan = flow
            .plan(&app.store, args.limit)
            .await
            .map_err(crate::app::AppError::Job)?;
        if args.json {
            output::json(&plan)?;
        } else {
            let rows: Vec<Vec<String>> = plan
                .changes
                .iter()
                .map(|c| {
                    vec![
                        format!("{:?}", c.action).to_lowercase(),
                        c.entity.clone(),
                        c.detail.clone(),
                    ]
                })
                .collect();
            output::table(&["WOULD", "WHAT", "DETAIL"], &rows);
            let count = |a: PlannedAction| plan.changes.iter().filter(|c| c.action == a).count();
            println!(
                "\n{}/{} (dry run): {} to create, {} to update, {} unchanged, {} would park, {} waiting{}",
                ctx.tenant,
                ctx.name,
                count(PlannedAction::Create),
                count(PlannedAction::Update),
                count(PlannedAction::Unchanged),
                count(PlannedAction::Park),
                count(PlannedAction::Wait),
                if plan.more {
                    "; more beyond --limit"
                } else {
                    ""
                }
            );
        }
        return Ok(0);
    }

    if let Some(since) = &args.since {
        flow.rewind(&app.store, parse_since(since))
            .await
            .map_err(crate::app::AppError::Job)?;
    }
    let run_id = uuid::Uuid::now_v7().to_string();
    let job = flow
        .start_job()
        .run_id(Some(run_id.clone()))
        .dedupe_key(format!("sync:{run_id}"));
    app.store.enqueue(job).await?;

    let shutdown = super::shutdown_on_signals();
    let runner = Runner::new(
        app.store.clone(),
        app.handlers(),
        app.config.runner_config(),
    );
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { runner.run(shutdown).await }
    });
    let bar = if args.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} jobs  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut interrupted = false;
    let mut idle_checks = 0;
    loop {
        let counts = app.store.run_counts(&run_id).await?;
        let of = |s: JobState| {
            counts
                .iter()
                .find(|(state, _)| *state == s)
                .map_or(0, |(_, n)| *n)
        };
        let total: i64 = counts.iter().map(|(_, n)| n).sum();
        let open = of(JobState::Pending) + of(JobState::Running);
        bar.set_length(u64::try_from(total).unwrap_or(0));
        bar.set_position(u64::try_from(total - open).unwrap_or(0));
        bar.set_message(format!("{} parked", of(JobState::Parked)));
        if open == 0 {
            // Settled twice in a row: nothing was about to enqueue a follow-up.
            idle_checks += 1;
            if idle_checks >= 2 {
                break;
            }
        } else {
            idle_checks = 0;
        }
        if shutdown.is_cancelled() {
            interrupted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bar.finish_and_clear();
    shutdown.cancel();
    running.await?;

    let parked = app
        .store
        .list_jobs(&JobFilter {
            states: vec![JobState::Parked],
            run_id: Some(run_id.clone()),
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let summary = Summary {
        tenant: ctx.tenant.clone(),
        flow: ctx.name.clone(),
        jobs: app.store.run_counts(&run_id).await?,
        parked: parked
            .iter()
            .map(|j| ParkedJob {
                id: j.id,
                kind: j.kind.clone(),
                code: j.last_error().map(|e| e.code.clone()).unwrap_or_default(),
                message: j
                    .last_error()
                    .map(|e| e.message.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        run_id,
        interrupted,
    };
    if args.json {
        output::json(&summary)?;
    } else {
        let jobs: Vec<String> = summary
            .jobs
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        println!(
            "{}/{}: {}{}",
            summary.tenant,
            summary.flow,
            jobs.join(", "),
            if interrupted {
                " (interrupted; the rest runs with `kontor run`)"
            } else {
                ""
            }
        );
        if !summary.parked.is_empty() {
            println!("\nParked for a person ({}):", summary.parked.len());
            let rows: Vec<Vec<String>> = summary
                .parked
                .iter()
                .map(|p| {
                    vec![
                        p.id.to_string(),
                        p.kind.clone(),
                        p.code.clone(),
                        output::clip(&p.message, 100),
                    ]
                })
                .collect();
            output::table(&["JOB", "KIND", "REASON", "MESSAGE"], &rows);
            println!("\nFix the cause, then: kontor jobs retry <JOB>");
        }
    }
    Ok(if summary.parked.is_empty() && !interrupted {
        0
    } else {
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_times_beginning_and_cursors() {
        assert_eq!(parse_since("beginning"), SyncStart::Beginning);
        assert!(
            matches!(parse_since("2026-11-01"), SyncStart::Since(t) if t.to_rfc3339() == "2026-11-01T00:00:00+00:00")
        );
        assert!(
            matches!(parse_since("2026-11-01T10:00:00+01:00"), SyncStart::Since(t) if t.to_rfc3339() == "2026-11-01T09:00:00+00:00")
        );
        assert_eq!(parse_since("12345"), SyncStart::Cursor("12345".into()));
    }
}
