//! What follows a confirmed sale: its invoice (posted, paid through Tryton's pay wizard,
//! rendered as PDF) and its customer shipments.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_connector::{
    Changes, ConnectorError, InvoiceSource, PaymentRecord, PaymentSink, ShipmentSource,
};
use kontor_model::{
    DocumentRef, Invoice, InvoiceKind, Payment, PaymentKind, Shipment, ShipmentLine,
};
use serde_json::json;

use super::{id_of, refused};
use crate::tryton::TrytonSystem;
use crate::tryton::mappers::money;
use crate::tryton::values::{
    Record, date, decimal, get_date, get_datetime, get_decimal, get_i64, get_ids, get_ref, get_str,
    nested,
};

const INVOICE_FIELDS: &[&str] = &[
    "number",
    "state",
    "type",
    "invoice_date",
    "total_amount",
    "tax_amount",
    "currency",
    "sales.reference",
    "write_date",
    "create_date",
];
const SHIPMENT_FIELDS: &[&str] = &[
    "number",
    "state",
    "effective_date",
    "warehouse.code",
    "outgoing_moves",
    "write_date",
    "create_date",
];
const INVOICE_LOCATION: &str = "tryton://account.invoice/";

fn at_midnight(record: &Record, date_field: &str) -> Option<DateTime<Utc>> {
    get_date(record, date_field)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .or_else(|| get_datetime(record, "write_date"))
        .or_else(|| get_datetime(record, "create_date"))
}

impl TrytonSystem {
    /// Canonical invoices; those of no shop sale are left out.
    async fn invoices_from(&self, records: Vec<Record>) -> Result<Vec<Invoice>, ConnectorError> {
        let mut invoices = Vec::with_capacity(records.len());
        for record in records {
            let id = get_i64(&record, "id")?;
            let Some(order_number) = nested(&record, "sales")
                .iter()
                .find_map(|s| get_str(s, "reference"))
                .map(str::to_owned)
            else {
                tracing::debug!(message = "Invoice of no shop sale left out.", invoice = id);
                continue;
            };
            let currency = self
                .currency(
                    get_ref(&record, "currency")
                        .ok_or_else(|| ConnectorError::protocol("invoice without currency"))?,
                )
                .await?;
            let number = get_str(&record, "number")
                .map_or_else(|| format!("draft invoice {id}"), str::to_owned);
            let total = get_decimal(&record, "total_amount")?;
            invoices.push(Invoice {
                kind: if total.is_sign_negative() {
                    InvoiceKind::CreditNote
                } else {
                    InvoiceKind::Invoice
                },
                order_number,
                issued_at: at_midnight(&record, "invoice_date").unwrap_or_else(Utc::now),
                total: money(total, currency),
                tax: money(get_decimal(&record, "tax_amount")?, currency),
                pdf: Some(DocumentRef {
                    location: format!("{INVOICE_LOCATION}{id}"),
                    content_type: "application/pdf".into(),
                    file_name: Some(format!("{}.pdf", number.replace(['/', '\\'], "-"))),
                }),
                number,
            });
        }
        Ok(invoices)
    }

    /// The sale's invoices that are not cancelled, oldest first.
    async fn sale_invoices(&self, sale_id: &str) -> Result<Vec<Record>, ConnectorError> {
        let sale = id_of(sale_id, "sale")?;
        let read = self
            .client()
            .read("sale.sale", &[sale], &["invoices"], None)
            .await?;
        let ids = read
            .first()
            .map(|s| get_ids(s, "invoices"))
            .ok_or_else(|| ConnectorError::NotFound {
                what: format!("Tryton sale {sale}"),
            })??;
        let mut invoices = self
            .client()
            .read(
                "account.invoice",
                &ids,
                &[INVOICE_FIELDS, &["payment_lines", "amount_to_pay"]].concat(),
                None,
            )
            .await?;
        invoices.retain(|i| get_str(i, "state") != Some("cancelled"));
        invoices.sort_by_key(|i| get_ref(i, "id"));
        Ok(invoices)
    }

    /// Posts the sale's invoice if it is still a draft; returns it.
    async fn posted_invoice(&self, sale_id: &str) -> Result<Record, ConnectorError> {
        let invoices = self.sale_invoices(sale_id).await?;
        let invoice = invoices.into_iter().next().ok_or_else(|| {
            refused(
                "no_invoice",
                format!("Tryton sale {sale_id} has no invoice yet (is it confirmed?)"),
                None,
            )
        })?;
        if matches!(get_str(&invoice, "state"), Some("draft" | "validated")) {
            let id = get_i64(&invoice, "id")?;
            self.press("account.invoice", "post", &[id]).await?;
            return self
                .sale_invoices(sale_id)
                .await?
                .into_iter()
                .find(|i| get_ref(i, "id") == Some(id))
                .ok_or_else(|| ConnectorError::protocol("the posted invoice cannot be read back"));
        }
        Ok(invoice)
    }

    /// Payment lines of the sale's invoices, with what identifies them.
    async fn payment_records(
        &self,
        invoices: &[Record],
    ) -> Result<Vec<PaymentRecord>, ConnectorError> {
        let mut records = Vec::new();
        for invoice in invoices {
            let currency = self
                .currency(get_ref(invoice, "currency").ok_or_else(|| {
                    ConnectorError::protocol("Tryton sent an invoice without `currency`")
                })?)
                .await?;
            let lines = self
                .client()
                .read(
                    "account.move.line",
                    &get_ids(invoice, "payment_lines")?,
                    &[
                        "debit",
                        "credit",
                        "description_used",
                        "move_description_used",
                    ],
                    None,
                )
                .await?;
            for line in lines {
                let transaction = get_str(&line, "move_description_used")
                    .or_else(|| get_str(&line, "description_used"))
                    .unwrap_or_default();
                records.push(PaymentRecord {
                    id: get_i64(&line, "id")?.to_string(),
                    transaction_id: transaction.to_owned(),
                    amount: money(
                        get_decimal(&line, "credit")? - get_decimal(&line, "debit")?,
                        currency,
                    ),
                });
            }
        }
        Ok(records)
    }

    async fn shipments_from(&self, records: Vec<Record>) -> Result<Vec<Shipment>, ConnectorError> {
        let tracking = self.config().tracking_field.clone();
        let mut shipments = Vec::with_capacity(records.len());
        for record in records {
            let id = get_i64(&record, "id")?;
            let moves = self
                .client()
                .read(
                    "stock.move",
                    &get_ids(&record, "outgoing_moves")?,
                    &["product.code", "quantity", "origin", "state"],
                    None,
                )
                .await?;
            let sale_lines: Vec<i64> = moves
                .iter()
                .filter_map(|m| {
                    get_str(m, "origin")?
                        .strip_prefix("sale.line,")?
                        .parse()
                        .ok()
                })
                .collect();
            let references = self
                .client()
                .read(
                    "sale.line",
                    &sale_lines[..sale_lines.len().min(1)],
                    &["sale.reference"],
                    None,
                )
                .await?;
            let Some(order_number) = references
                .iter()
                .flat_map(|l| nested(l, "sale"))
                .find_map(|s| get_str(s, "reference"))
                .map(str::to_owned)
            else {
                tracing::debug!(
                    message = "Shipment of no shop sale left out.",
                    shipment = id
                );
                continue;
            };
            let mut lines: BTreeMap<String, rust_decimal::Decimal> = BTreeMap::new();
            for m in moves
                .iter()
                .filter(|m| get_str(m, "state") != Some("cancelled"))
            {
                if let Some(sku) = nested(m, "product")
                    .first()
                    .and_then(|p| get_str(p, "code"))
                {
                    *lines.entry(sku.to_owned()).or_default() += get_decimal(m, "quantity")?;
                }
            }
            shipments.push(Shipment {
                reference: get_str(&record, "number")
                    .map_or_else(|| format!("shipment {id}"), str::to_owned),
                order_number,
                carrier: self.config().carrier.clone(),
                tracking_number: get_str(&record, &tracking).map(str::to_owned),
                tracking_url: None,
                lines: lines
                    .into_iter()
                    .map(|(sku, quantity)| ShipmentLine {
                        sku,
                        quantity: quantity.normalize(),
                    })
                    .collect(),
                warehouse: nested(&record, "warehouse")
                    .first()
                    .and_then(|w| get_str(w, "code"))
                    .map(str::to_owned),
                shipped_at: at_midnight(&record, "effective_date").unwrap_or_else(Utc::now),
            });
        }
        Ok(shipments)
    }
}

#[async_trait]
impl PaymentSink for TrytonSystem {
    async fn payments_of(&self, sale_id: &str) -> Result<Vec<PaymentRecord>, ConnectorError> {
        let invoices = self.sale_invoices(sale_id).await?;
        self.payment_records(&invoices).await
    }

    async fn record_payment(
        &self,
        sale_id: &str,
        payment: &Payment,
    ) -> Result<PaymentRecord, ConnectorError> {
        if payment.kind == PaymentKind::Refund {
            return Err(ConnectorError::Unsupported("refunds are credited in Tryton by hand (credit the invoice); Kontor records captures only".into()));
        }
        let invoice = self.posted_invoice(sale_id).await?;
        let id = get_i64(&invoice, "id")?;
        let to_pay = get_decimal(&invoice, "amount_to_pay")?;
        if payment.amount.amount > to_pay {
            return Err(refused(
                "overpayment",
                format!(
                    "payment {} of {} is more than the {} left to pay on invoice {}",
                    payment.transaction_id,
                    payment.amount,
                    to_pay,
                    get_str(&invoice, "number").unwrap_or_default()
                ),
                Some("amount"),
            ));
        }
        let currency = self
            .client()
            .search(
                "currency.currency",
                json!([["code", "=", payment.amount.currency.code()]]),
                Some(1),
            )
            .await?;
        let currency = currency.first().copied().ok_or_else(|| {
            refused(
                "unknown_currency",
                format!("Tryton has no currency {}", payment.amount.currency.code()),
                None,
            )
        })?;
        let start = json!({
            "amount": decimal(payment.amount.amount),
            "currency": currency,
            "description": payment.transaction_id,
            "payment_method": self.payment_method().await?,
            "date": date(payment.at.date_naive()),
        });
        // A part payment makes the wizard ask how to treat the rest: keep it open.
        let ask = json!({ "start": start.clone(), "ask": { "type": "partial", "amount": decimal(payment.amount.amount), "currency": currency, "lines": [], "payment_lines": [], "amount_writeoff": decimal(rust_decimal::Decimal::ZERO) } });
        self.run_wizard(
            "account.invoice.pay",
            "account.invoice",
            &[id],
            &[("choice", json!({ "start": start })), ("pay", ask)],
        )
        .await?;
        let invoices = self.sale_invoices(sale_id).await?;
        self.payment_records(&invoices)
            .await?
            .into_iter()
            .rev()
            .find(|p| p.transaction_id == payment.transaction_id)
            .ok_or_else(|| {
                ConnectorError::protocol(format!(
                    "payment {} was not recorded on invoice {id}",
                    payment.transaction_id
                ))
            })
    }

    async fn documents_of(&self, sale_id: &str) -> Result<Vec<Invoice>, ConnectorError> {
        let mut invoices = self.sale_invoices(sale_id).await?;
        invoices.retain(|i| matches!(get_str(i, "state"), Some("posted" | "paid")));
        self.invoices_from(invoices).await
    }

    async fn issue_document(
        &self,
        sale_id: &str,
        kind: InvoiceKind,
    ) -> Result<Invoice, ConnectorError> {
        if kind == InvoiceKind::CreditNote {
            return Err(ConnectorError::Unsupported(
                "credit notes are issued in Tryton by crediting the invoice".into(),
            ));
        }
        // Tryton has no receipts: a consumer gets an invoice too.
        let invoice = self.posted_invoice(sale_id).await?;
        self.invoices_from(vec![invoice])
            .await?
            .pop()
            .ok_or_else(|| ConnectorError::protocol("the invoice has no sale reference"))
    }
}

#[async_trait]
impl InvoiceSource for TrytonSystem {
    async fn invoices_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Invoice>, ConnectorError> {
        let filter = vec![
            json!(["type", "=", "out"]),
            json!(["state", "in", ["posted", "paid"]]),
        ];
        let page = self
            .read_window(
                "account.invoice",
                filter,
                &[],
                &self.window(cursor)?,
                limit,
                INVOICE_FIELDS,
            )
            .await?;
        Ok(Changes {
            items: self.invoices_from(page.records).await?,
            cursor: Some(page.cursor),
            more: page.more,
        })
    }

    async fn invoice_pdf(&self, invoice: &Invoice) -> Result<Vec<u8>, ConnectorError> {
        let location = invoice
            .pdf
            .as_ref()
            .map(|d| d.location.as_str())
            .unwrap_or_default();
        let id = location
            .strip_prefix(INVOICE_LOCATION)
            .and_then(|id| id.parse::<i64>().ok())
            .ok_or_else(|| ConnectorError::NotFound {
                what: format!("a Tryton invoice at `{location}`"),
            })?;
        let (format, content) = self.client().report("account.invoice", &[id]).await?;
        if format != "pdf" {
            return Err(ConnectorError::Unsupported(format!(
                "Tryton renders invoice {} as {format}, not PDF: set the invoice report's output format to PDF and install LibreOffice on the Tryton server",
                invoice.number
            )));
        }
        Ok(content)
    }
}

#[async_trait]
impl ShipmentSource for TrytonSystem {
    async fn shipments_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Shipment>, ConnectorError> {
        let filter = vec![json!(["state", "in", ["shipped", "done"]])];
        let mut fields = SHIPMENT_FIELDS.to_vec();
        let tracking = self.config().tracking_field.clone();
        fields.push(&tracking);
        let page = self
            .read_window(
                "stock.shipment.out",
                filter,
                &[],
                &self.window(cursor)?,
                limit,
                &fields,
            )
            .await?;
        Ok(Changes {
            items: self.shipments_from(page.records).await?,
            cursor: Some(page.cursor),
            more: page.more,
        })
    }
}
