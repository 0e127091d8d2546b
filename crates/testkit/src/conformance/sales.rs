//! Sales documents made in an ERP for shop orders, found again by reference.

use async_trait::async_trait;
use kontor_connector::{SalesDraft, SalesSink};

/// The ERP behind a sales sink.
#[async_trait]
pub trait SalesErp: Send + Sync {
    /// A draft the ERP accepts (a customer and products it has) for shop order
    /// `reference`.
    async fn draft(&self, reference: &str) -> SalesDraft;
}

/// Runs every sales-sink check against `sink`, writing into `erp`.
pub async fn sales_sink(sink: &dyn SalesSink, erp: &dyn SalesErp) {
    let run = chrono::Utc::now().timestamp_micros();
    let reference = format!("K{run}-1");
    let wildcard = format!("K{run}-_");
    let found = |reference: String| async move {
        sink.find_sale(&reference)
            .await
            .unwrap_or_else(|e| panic!("looking for the sale of {reference}: {e}"))
    };
    assert_eq!(found(reference.clone()).await, None, "nothing made yet");

    let made = sink
        .create_sale(&erp.draft(&reference).await)
        .await
        .unwrap_or_else(|e| panic!("creating the sale of {reference}: {e}"));
    assert_eq!(
        made.reference, reference,
        "the document carries its reference"
    );
    let again = found(reference.clone()).await;
    assert_eq!(
        again.as_ref().map(|d| &d.id),
        Some(&made.id),
        "the sale of {reference} is found again by its reference: {again:?}"
    );

    // Only the very reference finds it: not a part of it, nor one that extends it, nor
    // a pattern that a LIKE search would take for it.
    for other in [
        format!("K{run}-"),
        format!("K{run}-10"),
        wildcard.clone(),
        format!("k{run}-1"),
    ] {
        let wrong = found(other.clone()).await;
        assert_eq!(
            wrong, None,
            "looking for {other} must not find the sale of {reference}"
        );
    }
    let second = sink
        .create_sale(&erp.draft(&wildcard).await)
        .await
        .unwrap_or_else(|e| panic!("creating the sale of {wildcard}: {e}"));
    assert_ne!(second.id, made.id);
    assert_eq!(
        found(wildcard.clone()).await.map(|d| d.id),
        Some(second.id),
        "a reference with `_` finds its own sale"
    );
    assert_eq!(
        found(reference.clone()).await.map(|d| d.id),
        Some(made.id),
        "and the first is still found by its own"
    );
}
