//! Does the ERP document cost what the customer paid?

use kontor_connector::SalesDocument;
use kontor_engine::JobError;
use kontor_model::{Money, Order, tax_breakdown};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The difference, line by line, shown to the operator when totals disagree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotalsDiff {
    pub order_total: Money,
    pub erp_total: Money,
    pub difference: Money,
    pub lines: Vec<LineDiff>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineDiff {
    pub sku: String,
    #[serde(with = "kontor_model::decimal::plain")]
    pub quantity: Decimal,
    /// Gross, as the shop priced the line.
    pub order: Option<Money>,
    /// Gross, as the ERP priced it.
    pub erp: Option<Money>,
}

fn line_gross(order: &Order, amount: Money, rate: kontor_model::TaxRate) -> Option<Money> {
    tax_breakdown(order.currency, order.prices_include_tax, [(rate, amount)])
        .ok()?
        .first()
        .map(|b| b.gross)
}

/// Checks what the ERP *would* total for a draft against the order, so that a document
/// that would certainly be wrong is never created.
pub(crate) fn reconcile_draft(
    order: &Order,
    draft: &kontor_connector::SalesDraft,
    predicted: Money,
    tolerance: Decimal,
) -> Result<(), JobError> {
    let lines = draft
        .lines
        .iter()
        .map(|l| kontor_connector::SalesLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
            total: l
                .unit_price
                .checked_mul(l.quantity)
                .and_then(|m| m.checked_sub(&l.discount))
                .ok()
                .and_then(|a| line_gross(order, a, l.tax_rate))
                .unwrap_or(Money::zero(order.currency)),
        })
        .collect();
    let would_be = SalesDocument {
        id: String::new(),
        number: "(not created)".to_owned(),
        reference: order.number.clone(),
        state: "draft".to_owned(),
        status: kontor_model::OrderStatus::Pending,
        total: predicted,
        tax: Money::zero(order.currency),
        lines,
    };
    reconcile(order, &would_be, tolerance)
}

/// Checks the ERP document's total against the order's; a difference beyond `tolerance`
/// is a job error for a person, with the line-by-line comparison in its details.
pub(crate) fn reconcile(
    order: &Order,
    document: &SalesDocument,
    tolerance: Decimal,
) -> Result<(), JobError> {
    if document.total.currency != order.currency {
        return Err(JobError::needs_human(
            "currency_mismatch",
            format!(
                "ERP document {} is in {}, but order {} is in {}",
                document.number, document.total.currency, order.number, order.currency
            ),
        ));
    }
    let difference = document.total.amount - order.totals.total.amount;
    if difference.abs() <= tolerance {
        return Ok(());
    }
    let mut lines: Vec<LineDiff> = order
        .lines
        .iter()
        .map(|l| LineDiff {
            sku: l.sku.clone(),
            quantity: l.quantity,
            order: l
                .amount()
                .ok()
                .and_then(|a| line_gross(order, a, l.tax_rate)),
            erp: None,
        })
        .collect();
    if let Some(shipping) = &order.shipping {
        lines.push(LineDiff {
            sku: format!("shipping:{}", shipping.method),
            quantity: Decimal::ONE,
            order: line_gross(order, shipping.amount, shipping.tax_rate),
            erp: None,
        });
    }
    for (i, erp_line) in document.lines.iter().enumerate() {
        match lines.get_mut(i) {
            Some(line) => line.erp = Some(erp_line.total),
            None => lines.push(LineDiff {
                sku: erp_line.sku.clone(),
                quantity: erp_line.quantity,
                order: None,
                erp: Some(erp_line.total),
            }),
        }
    }
    let diff = TotalsDiff {
        order_total: order.totals.total,
        erp_total: document.total,
        difference: Money::new(difference, order.currency),
        lines,
    };
    Err(JobError::needs_human(
        "total_mismatch",
        format!(
            "ERP document {} totals {} but order {} was paid {} (difference {}, tolerance {})",
            document.number,
            document.total,
            order.number,
            order.totals.total,
            diff.difference,
            tolerance
        ),
    )
    .with_details(serde_json::to_value(&diff).unwrap_or_default()))
}
