//! `kontor jobs`: the queue, and the operator's actions on parked jobs.

use std::path::PathBuf;

use clap::Subcommand;
use kontor_engine::{Job, JobFilter, JobState};

use crate::config::ConfigFile;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs, newest first.
    List {
        #[arg(long)]
        tenant: Option<String>,
        /// pending, running, succeeded, parked, skipped or superseded (repeatable).
        #[arg(long, value_parser = parse_state)]
        state: Vec<JobState>,
        #[arg(long)]
        kind: Option<String>,
        /// Only jobs whose last error has this reason code (e.g. unknown_sku).
        #[arg(long)]
        reason: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One job: payload, outcome and every error.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Run a parked job again.
    Retry {
        id: i64,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Give up on a parked job.
    Skip {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Replace a parked job's payload with a file's JSON, and run it again.
    Edit {
        id: i64,
        #[arg(long)]
        payload: PathBuf,
        #[arg(long)]
        tenant: Option<String>,
    },
}

fn parse_state(s: &str) -> Result<JobState, String> {
    JobState::parse(s).ok_or_else(|| {
        let known: Vec<_> = JobState::ALL.iter().map(JobState::as_str).collect();
        format!("`{s}` is not a job state ({})", known.join(", "))
    })
}

fn summary_of(job: &Job) -> String {
    match (job.state, job.last_error(), &job.outcome) {
        (JobState::Succeeded | JobState::Skipped | JobState::Superseded, _, Some(outcome)) => {
            outcome.clone()
        }
        (_, Some(error), _) => format!("{}: {}", error.code, error.message),
        (_, None, Some(outcome)) => outcome.clone(),
        _ => String::new(),
    }
}

pub(super) async fn jobs(config: ConfigFile, command: JobsCommand) -> anyhow::Result<u8> {
    let store = super::open_store(&config).await?;
    match command {
        JobsCommand::List {
            tenant,
            state,
            kind,
            reason,
            limit,
            json,
        } => {
            let jobs = store
                .list_jobs(&JobFilter {
                    tenant,
                    states: state,
                    kind,
                    error_code: reason,
                    limit,
                    ..Default::default()
                })
                .await?;
            if json {
                output::json(&jobs)?;
            } else {
                let rows: Vec<Vec<String>> = jobs
                    .iter()
                    .map(|j| {
                        vec![
                            j.id.to_string(),
                            j.tenant.clone(),
                            j.kind.clone(),
                            j.state.to_string(),
                            format!("{}/{}", j.attempts, j.max_attempts),
                            output::time(j.updated_at),
                            output::clip(&summary_of(j), 90),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "ID",
                        "TENANT",
                        "KIND",
                        "STATE",
                        "TRIES",
                        "UPDATED",
                        "OUTCOME / LAST ERROR",
                    ],
                    &rows,
                );
            }
        }
        JobsCommand::Show { id, json } => {
            let Some(job) = store.get_job(id, None).await? else {
                eprintln!("error: no job {id}");
                return Ok(1);
            };
            if json {
                output::json(&job)?;
                return Ok(0);
            }
            println!(
                "job {} — {} ({}), tenant {}",
                job.id, job.kind, job.state, job.tenant
            );
            println!("attempts:  {}/{}", job.attempts, job.max_attempts);
            println!("created:   {}", output::time(job.created_at));
            println!("run at:    {}", output::time(job.run_at));
            if let Some(key) = &job.ordering_key {
                println!("ordering:  {key}");
            }
            if let Some(key) = &job.dedupe_key {
                println!("dedupe:    {key}");
            }
            if let Some(outcome) = &job.outcome {
                println!("outcome:   {outcome}");
            }
            println!("payload:   {}", serde_json::to_string_pretty(&job.payload)?);
            if let Some(original) = &job.original_payload {
                println!("original:  {}", serde_json::to_string_pretty(original)?);
            }
            for error in &job.errors {
                println!(
                    "\nattempt {} at {} — {} ({}):\n  {}",
                    error.attempt,
                    output::time(error.at),
                    error.code,
                    error.class,
                    error.message
                );
                for cause in &error.chain {
                    println!("  caused by: {cause}");
                }
                if let Some(details) = &error.details {
                    println!(
                        "  details: {}",
                        serde_json::to_string_pretty(details)?.replace('\n', "\n  ")
                    );
                }
            }
        }
        JobsCommand::Retry { id, tenant } => {
            let job = store.retry_job(id, tenant.as_deref()).await?;
            println!("job {} is pending again ({})", job.id, job.kind);
        }
        JobsCommand::Skip { id, reason, tenant } => {
            let job = store.skip_job(id, tenant.as_deref(), &reason).await?;
            println!("job {} skipped ({})", job.id, job.kind);
        }
        JobsCommand::Edit {
            id,
            payload,
            tenant,
        } => {
            let text = std::fs::read_to_string(&payload)?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", payload.display()))?;
            let job = store
                .edit_and_retry_job(id, tenant.as_deref(), value)
                .await?;
            println!("job {} has its new payload and is pending again", job.id);
        }
    }
    Ok(0)
}
