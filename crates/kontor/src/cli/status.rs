use kontor_connectors::MemoryRegistry;

use crate::app::App;
use crate::config::ConfigFile;
use crate::output;

pub(super) async fn status(config: ConfigFile, json: bool) -> anyhow::Result<u8> {
    let app = App::open(config, MemoryRegistry::default()).await?;
    let status = app.status().await?;
    if json {
        output::json(&status)?;
        return Ok(0);
    }
    println!("store: {}", status.store);
    println!(
        "queue: {} pending, {} running, {} parked, lag {:.1}s",
        status.pending, status.running, status.parked, status.lag_seconds
    );
    println!();
    let mut rows = Vec::new();
    for tenant in &status.tenants {
        if let Some(error) = &tenant.error {
            rows.push(vec![
                tenant.tenant.clone(),
                "-".into(),
                "NOT RUNNING".into(),
                output::clip(error, 80),
                String::new(),
            ]);
        }
        for flow in &tenant.flows {
            rows.push(vec![
                tenant.tenant.clone(),
                flow.name.clone(),
                format!("{} {} → {}", flow.kind, flow.from, flow.to),
                flow.schedule.clone().unwrap_or_else(|| "on demand".into()),
                match (&flow.cursor, flow.cursor_updated_at) {
                    (Some(c), Some(at)) => {
                        format!("{} ({})", output::clip(c, 24), output::time(at))
                    }
                    _ => "not run yet".into(),
                },
            ]);
        }
    }
    output::table(&["TENANT", "FLOW", "WHAT", "SCHEDULE", "CURSOR"], &rows);
    Ok(0)
}
