//! `kontor bind`: go-live binding of records that already exist on both sides.

use clap::Args;
use kontor_connectors::MemoryRegistry;
use kontor_flows::golive::BindReport;

use crate::app::App;
use crate::config::ConfigFile;
use crate::output;

#[derive(Debug, Args)]
pub struct BindArgs {
    /// Only this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Write the links. Without it, only the report is shown and nothing is written.
    #[arg(long)]
    accept: bool,
    #[arg(long)]
    json: bool,
}

fn print(report: &BindReport) {
    println!(
        "{}/{}: {} matched, {} only in the source (the first sync creates them), {} only in the target (left alone), {} ambiguous, {} linked before",
        report.tenant,
        report.flow,
        report.matched.len(),
        report.only_in_source.len(),
        report.only_in_target.len(),
        report.ambiguous.len(),
        report.already_linked
    );
    for ambiguity in &report.ambiguous {
        println!(
            "  ambiguous: {} — {} ({})",
            ambiguity.record,
            ambiguity.why,
            ambiguity.candidates.join(", ")
        );
    }
    for matched in report.matched.iter().filter(|m| m.note.is_some()) {
        println!(
            "  note: {} → {}: {}",
            matched.record,
            matched.target,
            matched.note.as_deref().unwrap_or("")
        );
    }
}

pub(super) async fn bind(config: ConfigFile, args: BindArgs) -> anyhow::Result<u8> {
    let app = App::open(config, MemoryRegistry::default()).await?;
    let mut reports = Vec::new();
    for flow in app.flows() {
        if args
            .tenant
            .as_deref()
            .is_some_and(|t| t != flow.context().tenant)
        {
            continue;
        }
        if let Some(report) = flow
            .bind(&app.store)
            .await
            .map_err(crate::app::AppError::Job)?
        {
            reports.push(report);
        }
    }
    let mut written = 0;
    let mut refused = Vec::new();
    if args.accept {
        for link in reports.iter().flat_map(|r| &r.links) {
            match app.store.upsert_link(link).await {
                Ok(()) => written += 1,
                Err(e) => refused.push(e.to_string()),
            }
        }
    }
    if args.json {
        output::json(
            &serde_json::json!({ "reports": reports, "accepted": args.accept, "links_written": written, "refused": refused }),
        )?;
        return Ok(if refused.is_empty() { 0 } else { 1 });
    }
    if reports.is_empty() {
        println!("No flow has records to bind (bind works on catalogue and customers flows).");
    }
    for report in &reports {
        print(report);
    }
    if args.accept {
        println!("\n{written} links written.");
        for problem in &refused {
            println!("  refused: {problem}");
        }
    } else {
        let links: usize = reports.iter().map(|r| r.links.len()).sum();
        println!("\nNothing was written. Run again with --accept to write these {links} links.");
    }
    Ok(if refused.is_empty() { 0 } else { 1 })
}
