//! What every flow does the same way: reading and moving its cursor, the job that polls,
//! jobs for single records, and finding an order Kontor imported earlier.

use std::future::Future;

use kontor_connector::{Changes, ConnectorError};
use kontor_engine::{Cursor, JobError, NewJob, Store};
use serde_json::json;

use crate::error::{connector_failure, store_failure};
use crate::flow::FlowContext;
use crate::kinds;

impl FlowContext {
    /// Where this flow's last run stopped reading its source.
    pub(crate) async fn cursor(&self, store: &Store) -> Result<Option<String>, JobError> {
        let cursor = store
            .cursor(&self.tenant, &self.name, &self.from)
            .await
            .map_err(|e| store_failure(&format!("reading the {} cursor", self.kind), e))?;
        Ok(cursor.map(|c| c.value))
    }

    /// The next page of this flow's source after its cursor; `what` names it for the
    /// error message (e.g. "changed prices").
    pub(crate) async fn next_page<T, F>(
        &self,
        store: &Store,
        what: &str,
        read: impl FnOnce(Option<String>) -> F,
    ) -> Result<Changes<T>, JobError>
    where
        F: Future<Output = Result<Changes<T>, ConnectorError>>,
    {
        let cursor = self.cursor(store).await?;
        read(cursor)
            .await
            .map_err(|e| connector_failure(&format!("reading {what} from `{}`", self.from), e))
    }

    /// The cursor write that goes with the work done up to `next`.
    pub(crate) fn cursor_at(&self, next: Option<String>) -> Option<Cursor> {
        next.map(|value| Cursor::new(&self.tenant, &self.name, &self.from, value))
    }

    /// The job that polls this flow's source: one waits at a time, one runs at a time.
    pub(crate) fn poll_job(&self, priority: i32) -> NewJob {
        let key = format!("{}.poll:{}", self.kind, self.name);
        NewJob::new(
            &self.tenant,
            self.step("poll"),
            json!({ "flow": self.name }),
        )
        .dedupe_key(key.clone())
        .ordering_key(key)
        .priority(priority)
    }

    /// The ordering key for this flow's work on one record. Keys are never shared
    /// between flows: a flow that depends on another's work (a payment on its order's
    /// import) waits for it by retrying, so that neither can hold the other back in the
    /// queue — a parked job blocks only its own flow's later work on that record.
    pub(crate) fn record_key(&self, record: &str) -> String {
        format!("{}:{}:{record}", self.kind, self.name)
    }

    /// A job for one record; `key` names the record (it dedupes the job).
    pub(crate) fn item_job(&self, step: &str, key: &str, mut payload: serde_json::Value) -> NewJob {
        if let Some(fields) = payload.as_object_mut() {
            fields.insert("flow".to_owned(), json!(self.name));
        }
        NewJob::new(&self.tenant, self.step(step), payload)
            .dedupe_key(format!("{}.{step}:{}:{key}", self.kind, self.name))
    }
}

/// An order Kontor imported, found by its shop number: its entity and its id in `system`.
pub(crate) async fn order_by_number(
    store: &Store,
    tenant: &str,
    number: &str,
    system: &str,
) -> Result<Option<(String, String)>, JobError> {
    let failed = |e| store_failure("looking up the order", e);
    let entities = store
        .find_entities(
            tenant,
            kinds::ORDER,
            &kontor_engine::MatchKey::number(number),
        )
        .await
        .map_err(failed)?;
    for entity in entities {
        if let Some(link) = store
            .link_by_entity(tenant, kinds::ORDER, system, &entity)
            .await
            .map_err(failed)?
        {
            return Ok(Some((entity, link.external_id)));
        }
    }
    Ok(None)
}

/// The ERP document of a shop order Kontor imported: (entity, id in `erp`).
pub(crate) async fn sale_of_shop_order(
    store: &Store,
    tenant: &str,
    shop: &str,
    shop_order_id: &str,
    erp: &str,
) -> Result<Option<(String, String)>, JobError> {
    let links = store
        .links_alongside(tenant, kinds::ORDER, shop, shop_order_id)
        .await
        .map_err(|e| store_failure("looking up the order's links", e))?;
    Ok(links
        .into_iter()
        .find(|l| l.system == erp)
        .map(|s| (s.entity_id, s.external_id)))
}

/// One page of a source's changes as one job per record, the cursor moving with them in
/// the same transaction, and another poll if more is waiting.
pub(crate) fn page_into_jobs<T>(
    ctx: &FlowContext,
    changes: kontor_connector::Changes<T>,
    what: &str,
    job: impl Fn(&T) -> NewJob,
    next_poll: NewJob,
) -> kontor_engine::Effects {
    let mut effects =
        kontor_engine::Effects::none().outcome(format!("{} {what} changed", changes.items.len()));
    effects.jobs.extend(changes.items.iter().map(job));
    effects.cursors.extend(ctx.cursor_at(changes.cursor));
    if changes.more {
        effects.jobs.push(next_poll);
    }
    effects
}

/// Everything a source has, page by page from the beginning (go-live binding).
pub(crate) async fn read_everything<T, F>(
    mut read: impl FnMut(Option<String>) -> F,
) -> Result<Vec<T>, ConnectorError>
where
    F: Future<Output = Result<Changes<T>, ConnectorError>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = read(cursor).await?;
        items.extend(page.items);
        if !page.more || page.cursor.is_none() {
            return Ok(items);
        }
        cursor = page.cursor;
    }
}
