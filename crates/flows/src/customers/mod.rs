//! Customers, ERP → shop: B2B accounts with their company, VAT id, price group, payment
//! terms, credit limit and balance, so that trade customers see their terms and prices.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{AccountSink, AccountUpsert, CustomerSource, ExternalCustomer};
use kontor_engine::{
    Effects, EntityRecord, JobContext, JobError, JobHandler, Link, MatchKey, NewJob, Store,
    content_hash,
};
use kontor_model::{Customer, CustomerKind, Validate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Mappings;
use crate::error::{bad_payload, connector_failure, store_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// Options of a `customers` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomersOptions {
    /// Only companies (B2B accounts); consumers are created by the shop itself.
    pub only_business: bool,
    pub page_size: usize,
}

impl Default for CustomersOptions {
    fn default() -> Self {
        CustomersOptions {
            only_business: true,
            page_size: 100,
        }
    }
}

pub struct CustomersFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: CustomersOptions,
    pub(crate) mappings: Arc<Mappings>,
    pub(crate) erp: Arc<dyn CustomerSource>,
    pub(crate) shop: Arc<dyn AccountSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportCustomer {
    customer: ExternalCustomer,
}

step!(PollCustomers, CustomersFlow, poll);
step!(ExportCustomerStep, CustomersFlow, export_one);

struct Planned {
    entity: String,
    upsert: Option<(AccountUpsert, String)>,
}

impl CustomersFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_connector::ExternalCustomer>, JobError> {
        let source = self.erp.clone();
        self.ctx
            .next_page(store, "changed customers", |cursor| async move {
                source.customers_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    /// The customer as the shop should hold it: its group in the shop's words.
    fn for_shop(&self, customer: &Customer) -> Customer {
        let mut customer = customer.clone();
        if let Some(group) = &customer.group
            && let Some(shop_group) = self.mappings.shop_customer_group(group)
        {
            customer.group = Some(shop_group.to_owned());
        }
        customer
    }

    async fn plan_one(
        &self,
        store: &Store,
        found: &ExternalCustomer,
    ) -> Result<Option<Planned>, JobError> {
        if self.options.only_business && matches!(found.customer.kind, CustomerKind::Person) {
            return Ok(None);
        }
        if let Err(problems) = found.customer.validate() {
            return Err(JobError::permanent(
                "invalid_customer",
                format!("customer {}: {problems}", found.id),
            ));
        }
        let t = &self.ctx.tenant;
        let failed = |e| store_failure("looking up customer links", e);
        let mut entity = store
            .link_by_external(t, kinds::CUSTOMER, &self.ctx.from, &found.id)
            .await
            .map_err(failed)?
            .map(|l| l.entity_id);
        if entity.is_none()
            && let Some(email) = &found.customer.email
        {
            entity = store
                .find_entities(t, kinds::CUSTOMER, &MatchKey::email(email.as_str()))
                .await
                .map_err(failed)?
                .into_iter()
                .next();
        }
        let entity = entity
            .unwrap_or_else(|| crate::entity_id_for(t, kinds::CUSTOMER, &self.ctx.from, &found.id));
        let customer = self.for_shop(&found.customer);
        if customer.email.is_none() && self.shop.requires_email() {
            return Err(JobError::needs_human(
                "email_required",
                format!(
                    "`{}` knows accounts by e-mail, and customer {} ({}) has none in `{}`: add one there",
                    self.ctx.to, customer.name, customer.reference, self.ctx.from
                ),
            ));
        }
        let hash = content_hash(&customer);
        let account = store
            .link_by_entity(t, kinds::CUSTOMER, &self.ctx.to, &entity)
            .await
            .map_err(failed)?;
        if account
            .as_ref()
            .is_some_and(|l| l.sent_hash.as_deref() == Some(hash.as_str()))
        {
            return Ok(Some(Planned {
                entity,
                upsert: None,
            }));
        }
        let upsert = AccountUpsert {
            customer,
            account_id: account.map(|l| l.external_id),
        };
        Ok(Some(Planned {
            entity,
            upsert: Some((upsert, hash)),
        }))
    }

    async fn export(
        &self,
        store: &Store,
        customers: Vec<ExternalCustomer>,
    ) -> Result<(Effects, Vec<(ExternalCustomer, JobError)>), JobError> {
        let t = &self.ctx.tenant;
        let mut effects = Effects::none();
        let mut failed = Vec::new();
        let mut pending = Vec::new();
        let (mut skipped, mut unchanged, mut sent) = (0, 0, 0);
        for found in customers {
            match self.plan_one(store, &found).await {
                Ok(None) => skipped += 1,
                Ok(Some(Planned { upsert: None, .. })) => unchanged += 1,
                Ok(Some(Planned {
                    entity,
                    upsert: Some((upsert, hash)),
                })) => pending.push((found, entity, upsert, hash)),
                Err(e) if e.code == "store_unavailable" => return Err(e),
                Err(e) => failed.push((found, e)),
            }
        }
        for chunk in pending.chunks(self.shop.batch_size().max(1)) {
            let upserts: Vec<AccountUpsert> = chunk.iter().map(|(_, _, u, _)| u.clone()).collect();
            let results = self.shop.upsert_accounts(&upserts).await.map_err(|e| {
                connector_failure(&format!("sending customers to `{}`", self.ctx.to), e)
            })?;
            for ((found, entity, upsert, hash), result) in chunk.iter().zip(results) {
                match result {
                    Ok(written) => {
                        sent += 1;
                        let mut record =
                            EntityRecord::new(t, kinds::CUSTOMER, entity, json!(found.customer));
                        if let Some(email) = &upsert.customer.email {
                            record = record.key(MatchKey::email(email.as_str()));
                        }
                        if let Some(vat) = upsert.customer.vat_id() {
                            record = record.key(MatchKey::vat_id(vat.as_str()));
                        }
                        effects = effects
                            .link(Link::new(
                                t,
                                kinds::CUSTOMER,
                                &self.ctx.from,
                                &found.id,
                                entity,
                            ))
                            .link(
                                Link::new(
                                    t,
                                    kinds::CUSTOMER,
                                    &self.ctx.to,
                                    written.account_id,
                                    entity,
                                )
                                .with_hash(hash.clone()),
                            )
                            .entity(record);
                    }
                    Err(e) => failed.push((
                        found.clone(),
                        connector_failure(&format!("sending customer {}", found.id), e),
                    )),
                }
            }
        }
        effects.outcome = Some(format!(
            "{sent} accounts sent, {unchanged} unchanged, {skipped} consumers left out, {} failed",
            failed.len()
        ));
        Ok((effects, failed))
    }

    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.page(&ctx.store, self.options.page_size).await?;
        let (mut effects, failed) = self.export(&ctx.store, changes.items).await?;
        for (found, _) in &failed {
            effects = effects.enqueue(self.ctx.item_job(
                "export",
                &found.id,
                json!({ "customer": found }),
            ));
        }
        effects.cursors.extend(self.ctx.cursor_at(changes.cursor));
        if changes.more {
            effects = effects.enqueue(self.start_job());
        }
        Ok(effects)
    }

    pub(crate) async fn export_one(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: ExportCustomer =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let (effects, mut failed) = self.export(&ctx.store, vec![job.customer]).await?;
        match failed.pop() {
            Some((_, error)) => Err(error),
            None => Ok(effects),
        }
    }
}

#[async_trait]
impl Flow for CustomersFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(0)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::CUSTOMER {
            vec![self.start_job()]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollCustomers(self.clone()))),
            (
                self.ctx.step("export"),
                Arc::new(ExportCustomerStep(self.clone())),
            ),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.page(store, limit).await?;
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for found in changes.items {
            let entity = format!("customer {} ({})", found.id, found.customer.name);
            let (action, detail) = match self.plan_one(store, &found).await {
                Ok(None) => continue,
                Ok(Some(Planned { upsert: None, .. })) => {
                    (PlannedAction::Unchanged, "unchanged".to_owned())
                }
                Ok(Some(Planned {
                    upsert: Some((u, _)),
                    ..
                })) => match u.account_id {
                    Some(id) => (PlannedAction::Update, format!("would update account {id}")),
                    None => (PlannedAction::Create, "would create the account".to_owned()),
                },
                Err(e) if e.code == "store_unavailable" => return Err(e),
                Err(e) => (PlannedAction::Park, format!("{}: {}", e.code, e.message)),
            };
            plan.changes.push(PlannedChange {
                entity,
                action,
                detail,
            });
        }
        Ok(plan)
    }

    async fn bind(&self, store: &Store) -> Result<Option<crate::golive::BindReport>, JobError> {
        use crate::golive::{Ambiguity, BindMatch, BindReport};
        use kontor_connector::CustomerQuery;
        let t = &self.ctx.tenant;
        let mut report = BindReport {
            tenant: t.clone(),
            flow: self.ctx.name.clone(),
            ..BindReport::default()
        };
        let customers = crate::common::read_everything(|cursor| {
            let source = self.erp.clone();
            async move { source.customers_changed(cursor.as_deref(), 500).await }
        })
        .await
        .map_err(|e| {
            connector_failure(&format!("listing the customers of `{}`", self.ctx.from), e)
        })?;
        let failed = |e| store_failure("looking up customer links", e);
        for found in customers {
            if self.options.only_business && matches!(found.customer.kind, CustomerKind::Person) {
                continue;
            }
            let record = format!("customer {} ({})", found.id, found.customer.name);
            let entity = match store
                .link_by_external(t, kinds::CUSTOMER, &self.ctx.from, &found.id)
                .await
                .map_err(failed)?
            {
                Some(link) => link.entity_id,
                None => crate::entity_id_for(t, kinds::CUSTOMER, &self.ctx.from, &found.id),
            };
            if store
                .link_by_entity(t, kinds::CUSTOMER, &self.ctx.to, &entity)
                .await
                .map_err(failed)?
                .is_some()
            {
                report.already_linked += 1;
                continue;
            }
            let mut queries = Vec::new();
            if let Some(email) = &found.customer.email {
                queries.push((CustomerQuery::Email(email.clone()), "e-mail"));
            }
            if let Some(vat) = found.customer.vat_id() {
                queries.push((CustomerQuery::VatId(vat.clone()), "VAT id"));
            }
            let mut outcome = None;
            for (query, by) in queries {
                let accounts = self.shop.find_accounts(&query).await.map_err(|e| {
                    connector_failure(&format!("looking up accounts in `{}`", self.ctx.to), e)
                })?;
                if !accounts.is_empty() {
                    outcome = Some((accounts, by));
                    break;
                }
            }
            match outcome {
                None => report.only_in_source.push(record),
                Some((accounts, by)) if accounts.len() == 1 => {
                    report.links.push(Link::new(
                        t,
                        kinds::CUSTOMER,
                        &self.ctx.from,
                        &found.id,
                        &entity,
                    ));
                    report.links.push(Link::new(
                        t,
                        kinds::CUSTOMER,
                        &self.ctx.to,
                        &accounts[0].id,
                        &entity,
                    ));
                    report.matched.push(BindMatch {
                        record,
                        target: accounts[0].id.clone(),
                        note: Some(format!("by {by}")),
                    });
                }
                Some((accounts, by)) => report.ambiguous.push(Ambiguity {
                    record,
                    candidates: accounts
                        .iter()
                        .map(|a| format!("{} ({})", a.id, a.name))
                        .collect(),
                    why: format!("several accounts in `{}` share its {by}", self.ctx.to),
                }),
            }
        }
        Ok(Some(report))
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |_| None).await
    }
}
