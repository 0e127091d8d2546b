//! ERP-side documents: sales (which reserve stock), payments, receipts and invoices with
//! their PDFs, shipments, returns and stock transfers.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::Utc;
use kontor_connector::{
    Changes, ConnectorError, InvoiceSource, PaymentRecord, PaymentSink, ReturnDocument,
    ReturnDocumentKind, ReturnSink, SalesDocument, SalesDraft, SalesLine, SalesSink, SalesSource,
    ShipmentSource, StockTransferSink, TransferRef,
};
use kontor_model::{
    DocumentRef, Invoice, InvoiceKind, Money, OrderStatus, Payment, Return, Shipment, StockLevel,
    StockTransfer, tax_breakdown,
};
use rust_decimal::Decimal;

use super::{not_found, page};
use crate::memory::state::{
    InvoiceRecord, Mutation, ReturnDocumentRecord, SaleRecord, State, TransferRecord,
};
use crate::memory::system::{Knobs, MemorySystem, TaxRounding};

/// Stock changes that move `quantity` of SKUs in warehouses: `reserved` and `on_hand`
/// deltas, aggregated so that one SKU on several lines becomes one change.
pub(in crate::memory) fn stock_moves(
    state: &State,
    moves: &[(String, String, Decimal, Decimal)],
) -> Vec<Mutation> {
    let mut totals: BTreeMap<(String, String), (Decimal, Decimal)> = BTreeMap::new();
    for (sku, warehouse, reserved, on_hand) in moves {
        let entry = totals.entry((sku.clone(), warehouse.clone())).or_default();
        entry.0 += reserved;
        entry.1 += on_hand;
    }
    totals
        .into_iter()
        .map(|((sku, warehouse), (reserved, on_hand))| {
            let mut level = state
                .stock
                .get(&(sku.clone(), warehouse.clone()))
                .cloned()
                .unwrap_or(StockLevel {
                    sku,
                    warehouse,
                    on_hand: Decimal::ZERO,
                    reserved: Decimal::ZERO,
                    incoming: vec![],
                });
            level.reserved = (level.reserved + reserved).max(Decimal::ZERO);
            level.on_hand += on_hand;
            Mutation::Stock(level)
        })
        .collect()
}

/// Totals the way an ERP computes them from the lines it was given: tax rounded per
/// document (per rate), or per line and summed, as configured.
fn document_from(
    state: &State,
    id: String,
    draft: &SalesDraft,
    rounding: TaxRounding,
) -> Result<SalesDocument, ConnectorError> {
    let currency = draft.order.currency;
    let money_error = |e: kontor_model::MoneyError| ConnectorError::rejected(e.to_string());
    let mut amounts = Vec::new();
    let mut lines = Vec::new();
    let (mut line_total, mut line_tax) = (Money::zero(currency), Money::zero(currency));
    for line in &draft.lines {
        let amount = line
            .unit_price
            .checked_mul(line.quantity)
            .and_then(|m| m.checked_sub(&line.discount))
            .map_err(money_error)?;
        amounts.push((line.tax_rate, amount));
        let own = tax_breakdown(
            currency,
            draft.prices_include_tax,
            [(line.tax_rate, amount)],
        )
        .map_err(money_error)?;
        let (gross, tax) = own
            .first()
            .map(|b| (b.gross, b.tax))
            .unwrap_or((Money::zero(currency), Money::zero(currency)));
        line_total = line_total.checked_add(&gross).map_err(money_error)?;
        line_tax = line_tax.checked_add(&tax).map_err(money_error)?;
        lines.push(SalesLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            total: gross,
        });
    }
    let (total, tax) = match rounding {
        TaxRounding::Line => (line_total, line_tax),
        TaxRounding::Document => {
            let breakdown =
                tax_breakdown(currency, draft.prices_include_tax, amounts).map_err(money_error)?;
            (
                Money::sum(currency, breakdown.iter().map(|b| &b.gross)).map_err(money_error)?,
                Money::sum(currency, breakdown.iter().map(|b| &b.tax)).map_err(money_error)?,
            )
        }
    };
    Ok(SalesDocument {
        number: format!("SO/{:05}", state.sales.len() + 1),
        id,
        reference: draft.reference.clone(),
        state: "confirmed".to_owned(),
        status: OrderStatus::Processing,
        total,
        tax,
        lines,
    })
}

fn sale<'a>(state: &'a State, sale_id: &str) -> Result<&'a SaleRecord, ConnectorError> {
    state
        .sales
        .get(sale_id)
        .ok_or_else(|| not_found(format!("sale {sale_id}")))
}

/// Releases what a sale holds reserved; returns the changes and the sale without them.
fn release(state: &State, record: &SaleRecord) -> (Vec<Mutation>, SaleRecord) {
    let moves: Vec<_> = record
        .reserved
        .iter()
        .map(|(sku, wh, qty)| (sku.clone(), wh.clone(), -*qty, Decimal::ZERO))
        .collect();
    let mut released = record.clone();
    released.reserved.clear();
    (stock_moves(state, &moves), released)
}

#[async_trait]
impl SalesSink for MemorySystem {
    async fn find_sales(&self, reference: &str) -> Result<Vec<SalesDocument>, ConnectorError> {
        self.call("sales.find").await?;
        Ok(self.sales_for(reference))
    }

    async fn create_sale(&self, draft: &SalesDraft) -> Result<SalesDocument, ConnectorError> {
        self.call("sales.create").await?;
        let Knobs {
            default_warehouse,
            tax_rounding,
            ..
        } = self.knobs();
        self.write(|state| {
            if !state.customers.contains_key(&draft.customer_id) {
                return (
                    vec![],
                    Err(ConnectorError::rejected(format!(
                        "customer {} does not exist",
                        draft.customer_id
                    ))),
                );
            }
            for line in &draft.lines {
                if let Some(product_id) = &line.product_id
                    && !state.products.contains_key(product_id)
                {
                    return (
                        vec![],
                        Err(ConnectorError::Rejected {
                            code: Some("unknown_product".into()),
                            message: format!(
                                "product {product_id} (SKU {}) does not exist",
                                line.sku
                            ),
                            field: Some("lines".into()),
                        }),
                    );
                }
            }
            let id = state.new_id("s");
            let document = match document_from(state, id, draft, tax_rounding) {
                Ok(document) => document,
                Err(e) => return (vec![], Err(e)),
            };
            // A customer order reserves its goods in the warehouse they ship from.
            let reserved: Vec<(String, String, Decimal)> = draft
                .lines
                .iter()
                .filter(|l| l.product_id.is_some())
                .map(|l| {
                    let warehouse = l
                        .warehouse
                        .clone()
                        .or_else(|| draft.warehouse.clone())
                        .unwrap_or_else(|| default_warehouse.clone());
                    (l.sku.clone(), warehouse, l.quantity)
                })
                .filter(|(sku, warehouse, _)| {
                    state.stock.contains_key(&(sku.clone(), warehouse.clone()))
                })
                .collect();
            let moves: Vec<_> = reserved
                .iter()
                .map(|(s, w, q)| (s.clone(), w.clone(), *q, Decimal::ZERO))
                .collect();
            let mut mutations = stock_moves(state, &moves);
            mutations.push(Mutation::Sale(Box::new(SaleRecord {
                document: document.clone(),
                draft: draft.clone(),
                reserved,
            })));
            (mutations, Ok(document))
        })?
    }

    async fn cancel_sale(
        &self,
        sale_id: &str,
        reason: &str,
    ) -> Result<SalesDocument, ConnectorError> {
        self.call("sales.cancel").await?;
        self.write(|state| {
            let record = match sale(state, sale_id) {
                Ok(record) => record.clone(),
                Err(e) => return (vec![], Err(e)),
            };
            let (mut mutations, mut cancelled) = release(state, &record);
            cancelled.document.status = OrderStatus::Cancelled;
            cancelled.document.state = format!("cancelled: {reason}");
            let document = cancelled.document.clone();
            mutations.push(Mutation::Sale(Box::new(cancelled)));
            (mutations, Ok(document))
        })?
    }
}

#[async_trait]
impl SalesSource for MemorySystem {
    async fn sales_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<SalesDocument>, ConnectorError> {
        self.call("sales.list").await?;
        self.read(|s| {
            page(&s.sale_feed, cursor, limit, |id| {
                s.sales.get(id).map(|r| r.document.clone())
            })
        })
    }
}

#[async_trait]
impl PaymentSink for MemorySystem {
    async fn payments_of(&self, sale_id: &str) -> Result<Vec<PaymentRecord>, ConnectorError> {
        self.call("payments.list").await?;
        Ok(self.read(|s| s.payments.get(sale_id).cloned().unwrap_or_default()))
    }

    async fn record_payment(
        &self,
        sale_id: &str,
        payment: &Payment,
    ) -> Result<PaymentRecord, ConnectorError> {
        self.call("payments.create").await?;
        self.write(|state| {
            let record = match sale(state, sale_id) {
                Ok(record) => record,
                Err(e) => return (vec![], Err(e)),
            };
            if payment.amount.currency != record.document.total.currency {
                return (
                    vec![],
                    Err(ConnectorError::rejected(format!(
                        "payment in {} for a sale in {}",
                        payment.amount.currency, record.document.total.currency
                    ))),
                );
            }
            let paid = PaymentRecord {
                id: state.new_id("pay"),
                transaction_id: payment.transaction_id.clone(),
                amount: payment.amount,
            };
            (
                vec![Mutation::Payment {
                    sale_id: sale_id.to_owned(),
                    record: paid.clone(),
                }],
                Ok(paid),
            )
        })?
    }

    async fn documents_of(&self, sale_id: &str) -> Result<Vec<Invoice>, ConnectorError> {
        self.call("invoices.of").await?;
        Ok(self.read(|s| {
            s.invoices
                .values()
                .filter(|r| r.sale_id == sale_id)
                .map(|r| r.invoice.clone())
                .collect()
        }))
    }

    async fn issue_document(
        &self,
        sale_id: &str,
        kind: InvoiceKind,
    ) -> Result<Invoice, ConnectorError> {
        self.call("invoices.create").await?;
        self.write(|state| {
            let record = match sale(state, sale_id) {
                Ok(record) => record.clone(),
                Err(e) => return (vec![], Err(e)),
            };
            let id = state.new_id("inv");
            let prefix = match kind {
                InvoiceKind::Invoice => "FV",
                InvoiceKind::Receipt => "PAR",
                InvoiceKind::CreditNote => "KOR",
            };
            let count = state
                .invoices
                .values()
                .filter(|r| r.invoice.kind == kind)
                .count()
                + 1;
            let invoice = Invoice {
                number: format!("{prefix}/{count:05}"),
                kind,
                order_number: record.document.reference.clone(),
                issued_at: Utc::now(),
                total: record.document.total,
                tax: record.document.tax,
                pdf: Some(DocumentRef {
                    location: format!("memory://invoices/{id}"),
                    content_type: "application/pdf".to_owned(),
                    file_name: Some(format!("{prefix}-{count:05}.pdf")),
                }),
            };
            let stored = InvoiceRecord {
                id,
                sale_id: sale_id.to_owned(),
                invoice: invoice.clone(),
            };
            (vec![Mutation::Invoice(Box::new(stored))], Ok(invoice))
        })?
    }
}

/// A small, valid PDF naming the document: what a real ERP's report would render.
fn render_pdf(invoice: &Invoice) -> Vec<u8> {
    let text = format!(
        "{} {} {}",
        invoice.number, invoice.order_number, invoice.total
    );
    let stream = format!(
        "BT /F1 12 Tf 72 720 Td ({}) Tj ET",
        text.replace(['(', ')', '\\'], " ")
    );
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[async_trait]
impl InvoiceSource for MemorySystem {
    async fn invoices_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Invoice>, ConnectorError> {
        self.call("invoices.list").await?;
        self.read(|s| {
            page(&s.invoice_feed, cursor, limit, |id| {
                s.invoices.get(id).map(|r| r.invoice.clone())
            })
        })
    }

    async fn invoice_pdf(&self, invoice: &Invoice) -> Result<Vec<u8>, ConnectorError> {
        self.call("invoices.pdf").await?;
        let known = self.read(|s| {
            s.invoices
                .values()
                .any(|r| r.invoice.number == invoice.number)
        });
        if known {
            Ok(render_pdf(invoice))
        } else {
            Err(not_found(format!("invoice {}", invoice.number)))
        }
    }
}

#[async_trait]
impl ShipmentSource for MemorySystem {
    async fn shipments_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Shipment>, ConnectorError> {
        self.call("shipments.list").await?;
        self.read(|s| {
            page(&s.shipment_feed, cursor, limit, |id| {
                s.shipments.get(id).cloned()
            })
        })
    }
}

#[async_trait]
impl ReturnSink for MemorySystem {
    async fn find_return(&self, reference: &str) -> Result<Option<ReturnDocument>, ConnectorError> {
        self.call("returns.find").await?;
        Ok(self.read(|s| {
            s.return_documents
                .values()
                .find(|r| r.document.reference == reference)
                .map(|r| r.document.clone())
        }))
    }

    async fn create_return(
        &self,
        sale_id: &str,
        goods_return: &Return,
        kind: ReturnDocumentKind,
    ) -> Result<ReturnDocument, ConnectorError> {
        self.call("returns.create").await?;
        let warehouse = self.knobs().default_warehouse;
        self.write(|state| {
            let record = match sale(state, sale_id) {
                Ok(record) => record.clone(),
                Err(e) => return (vec![], Err(e)),
            };
            let currency = record.document.total.currency;
            // Without a refund amount, the returned lines at the sale's prices.
            let total = goods_return.refund.unwrap_or_else(|| {
                let mut total = Money::zero(currency);
                for line in &goods_return.lines {
                    if let Some(sold) = record
                        .document
                        .lines
                        .iter()
                        .find(|l| l.sku == line.sku && !l.quantity.is_zero())
                        && let Ok(part) = sold
                            .total
                            .checked_div(sold.quantity)
                            .and_then(|unit| unit.checked_mul(line.quantity))
                        && let Ok(sum) = total.checked_add(&part)
                    {
                        total = sum;
                    }
                }
                total.rounded()
            });
            let id = state.new_id("ret");
            let prefix = match kind {
                ReturnDocumentKind::CreditNote => "KOR",
                ReturnDocumentKind::GoodsReturn => "ZW",
            };
            let document = ReturnDocument {
                number: format!("{prefix}/{:05}", state.return_documents.len() + 1),
                id,
                reference: goods_return.reference.clone(),
                kind,
                total,
            };
            let mut mutations = Vec::new();
            if kind == ReturnDocumentKind::GoodsReturn {
                let moves: Vec<_> = goods_return
                    .lines
                    .iter()
                    .map(|l| (l.sku.clone(), warehouse.clone(), Decimal::ZERO, l.quantity))
                    .collect();
                mutations.extend(stock_moves(state, &moves));
            }
            mutations.push(Mutation::ReturnDocument(Box::new(ReturnDocumentRecord {
                sale_id: sale_id.to_owned(),
                document: document.clone(),
                goods_return: goods_return.clone(),
            })));
            (mutations, Ok(document))
        })?
    }
}

#[async_trait]
impl StockTransferSink for MemorySystem {
    async fn find_transfer(&self, reference: &str) -> Result<Option<TransferRef>, ConnectorError> {
        self.call("transfers.find").await?;
        Ok(self.read(|s| {
            s.transfers
                .values()
                .find(|t| t.transfer.reference == reference)
                .map(|t| t.transfer.clone())
        }))
    }

    async fn create_transfer(
        &self,
        transfer: &StockTransfer,
    ) -> Result<TransferRef, ConnectorError> {
        self.call("transfers.create").await?;
        self.write(|state| {
            let mut moves = Vec::new();
            for line in &transfer.lines {
                moves.push((
                    line.sku.clone(),
                    transfer.from_warehouse.clone(),
                    Decimal::ZERO,
                    -line.quantity,
                ));
                moves.push((
                    line.sku.clone(),
                    transfer.to_warehouse.clone(),
                    Decimal::ZERO,
                    line.quantity,
                ));
            }
            let reference = TransferRef {
                id: state.new_id("mm"),
                number: format!("MM/{:05}", state.transfers.len() + 1),
                reference: transfer.reference.clone(),
            };
            let mut mutations = stock_moves(state, &moves);
            mutations.push(Mutation::Transfer(Box::new(TransferRecord {
                transfer: reference.clone(),
                details: transfer.clone(),
            })));
            (mutations, Ok(reference))
        })?
    }

    async fn release_reservation(&self, sale_id: &str) -> Result<(), ConnectorError> {
        self.call("sales.release").await?;
        self.write(|state| {
            let record = match sale(state, sale_id) {
                Ok(record) => record.clone(),
                Err(e) => return (vec![], Err(e)),
            };
            let (mut mutations, released) = release(state, &record);
            mutations.push(Mutation::Sale(Box::new(released)));
            (mutations, Ok(()))
        })?
    }
}
