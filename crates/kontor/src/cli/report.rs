//! `kontor report sales`: sales per channel and day, per product, from synced orders.

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use kontor_flows::reports::{Breakdown, sales_report};

use crate::config::ConfigFile;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Sales per channel and day, and per product.
    Sales(SalesArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    /// Per day and channel.
    Day,
    /// Per product.
    Product,
}

impl From<By> for Breakdown {
    fn from(by: By) -> Breakdown {
        match by {
            By::Day => Breakdown::Day,
            By::Product => Breakdown::Product,
        }
    }
}

#[derive(Debug, Args)]
pub struct SalesArgs {
    #[arg(long)]
    tenant: String,
    /// First day, included (YYYY-MM-DD, UTC).
    #[arg(long)]
    from: NaiveDate,
    /// Last day, included.
    #[arg(long)]
    to: NaiveDate,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// What the table or CSV is broken down by (JSON has both).
    #[arg(long, value_enum, default_value = "day")]
    by: By,
}

pub(super) async fn report(config: ConfigFile, command: ReportCommand) -> anyhow::Result<u8> {
    let ReportCommand::Sales(args) = command;
    if args.to < args.from {
        anyhow::bail!("--to ({}) is before --from ({})", args.to, args.from);
    }
    let store = super::open_store(&config).await?;
    let report = sales_report(&store, &args.tenant, args.from, args.to).await?;
    match args.format {
        Format::Json => output::json(&report)?,
        Format::Csv => print!("{}", report.csv(args.by.into())),
        Format::Table => {
            let (headers, rows) = report.rows(args.by.into());
            let upper: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
            output::table(&upper.iter().map(String::as_str).collect::<Vec<_>>(), &rows);
            println!();
            for total in &report.totals {
                println!(
                    "{}: {} orders, {} {}",
                    total.channel, total.orders, total.gross, total.currency
                );
            }
        }
    }
    Ok(0)
}
