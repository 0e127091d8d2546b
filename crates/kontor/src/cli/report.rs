//! `kontor report sales`: sales per channel and day, per product, from synced orders.

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use kontor_flows::reports::{SalesReport, sales_report};

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

/// A CSV field, quoted when it needs to be.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fn rows(report: &SalesReport, by: By) -> (Vec<&'static str>, Vec<Vec<String>>) {
    match by {
        By::Day => (
            vec![
                "day", "channel", "currency", "orders", "units", "gross", "tax",
            ],
            report
                .by_day
                .iter()
                .map(|r| {
                    vec![
                        r.day.to_string(),
                        r.channel.clone(),
                        r.currency.to_string(),
                        r.orders.to_string(),
                        r.units.normalize().to_string(),
                        r.gross.to_string(),
                        r.tax.to_string(),
                    ]
                })
                .collect(),
        ),
        By::Product => (
            vec!["sku", "name", "currency", "units", "gross"],
            report
                .by_product
                .iter()
                .map(|r| {
                    vec![
                        r.sku.clone(),
                        r.name.clone(),
                        r.currency.to_string(),
                        r.units.normalize().to_string(),
                        r.gross.to_string(),
                    ]
                })
                .collect(),
        ),
    }
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
        Format::Csv => {
            let (headers, rows) = rows(&report, args.by);
            println!("{}", headers.join(","));
            for row in rows {
                println!(
                    "{}",
                    row.iter()
                        .map(|f| csv_field(f))
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
        }
        Format::Table => {
            let (headers, rows) = rows(&report, args.by);
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

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("Kubek"), "Kubek");
        assert_eq!(csv_field("Skarpety, 3-pak"), "\"Skarpety, 3-pak\"");
        assert_eq!(csv_field("Książka „Kuchnia\""), "\"Książka „Kuchnia\"\"\"");
    }
}
