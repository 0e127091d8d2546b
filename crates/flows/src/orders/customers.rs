//! Which ERP customer an order belongs to: the linked one, else one found by e-mail,
//! then by VAT id, then by the reference Kontor gives customers it creates; else a new
//! one. Consumer orders may instead go to one "web sales" account.

use std::time::Duration;

use kontor_connector::{CustomerQuery, CustomerRef};
use kontor_engine::{EntityRecord, JobContext, JobError, Link, MatchKey, Store};
use kontor_model::{Customer, CustomerKind, Order};
use serde_json::json;

use super::OrdersFlow;
use crate::error::{connector_failure, store_failure};
use crate::kinds;

/// How the order's customer will be found, decided without writing anything.
#[derive(Debug, Clone)]
pub(crate) enum CustomerPlan {
    /// The configured web-sales account; consumers are not linked to it one by one.
    WebSales { erp_id: String },
    Existing {
        erp: CustomerRef,
        entity: String,
        matched_by: &'static str,
    },
    /// Not in the ERP yet; its entity is decided once the ERP has given it an id.
    Create { customer: Box<Customer> },
}

/// The customer to put on the sales document, and what to record about them.
pub(crate) struct ResolvedCustomer {
    pub erp_id: String,
    pub links: Vec<Link>,
    pub entity: Option<EntityRecord>,
    pub note: String,
}

fn is_consumer(order: &Order) -> bool {
    order.customer.vat_id.is_none() && order.customer.company.is_none()
}

impl OrdersFlow {
    /// The reference Kontor gives a customer it creates, and finds them by on a retry.
    fn customer_reference(&self, order: &Order) -> String {
        match &order.customer.reference {
            Some(id) => format!("{}:{id}", self.ctx.from),
            None => format!("{}:order:{}", self.ctx.from, order.number),
        }
    }

    async fn erp_customers_by(
        &self,
        query: CustomerQuery,
    ) -> Result<Option<CustomerRef>, JobError> {
        let mut found = self
            .erp_customers
            .find_customers(&query)
            .await
            .map_err(|e| {
                connector_failure(&format!("looking up a customer in `{}`", self.ctx.to), e)
            })?;
        // Several matches: take the oldest-numbered one, always the same.
        found.sort_by(|a, b| a.id.len().cmp(&b.id.len()).then_with(|| a.id.cmp(&b.id)));
        Ok(found.into_iter().next())
    }

    /// The Kontor entity for this customer: bound to the ERP record, else to the shop's
    /// customer, else carrying the e-mail; else one derived from the ERP record, so that
    /// two jobs meeting the same new customer at once agree on it.
    async fn customer_entity(
        &self,
        store: &Store,
        order: &Order,
        erp_id: &str,
    ) -> Result<String, JobError> {
        let t = &self.ctx.tenant;
        let failed = |e| store_failure("looking up customer links", e);
        if let Some(link) = store
            .link_by_external(t, kinds::CUSTOMER, &self.ctx.to, erp_id)
            .await
            .map_err(failed)?
        {
            return Ok(link.entity_id);
        }
        if let Some(reference) = &order.customer.reference
            && let Some(link) = store
                .link_by_external(t, kinds::CUSTOMER, &self.ctx.from, reference)
                .await
                .map_err(failed)?
        {
            return Ok(link.entity_id);
        }
        if let Some(email) = &order.customer.email
            && let Some(entity) = store
                .find_entities(t, kinds::CUSTOMER, &MatchKey::email(email.as_str()))
                .await
                .map_err(failed)?
                .into_iter()
                .next()
        {
            return Ok(entity);
        }
        Ok(crate::entity_id_for(
            t,
            kinds::CUSTOMER,
            &self.ctx.to,
            erp_id,
        ))
    }

    /// Finds the customer, reading only.
    pub(crate) async fn find_customer(
        &self,
        store: &Store,
        order: &Order,
    ) -> Result<CustomerPlan, JobError> {
        if let Some(web) = &self.options.b2c_customer
            && is_consumer(order)
        {
            return match self
                .erp_customers_by(CustomerQuery::Reference(web.clone()))
                .await?
            {
                Some(found) => Ok(CustomerPlan::WebSales { erp_id: found.id }),
                None => Err(JobError::needs_human(
                    "web_sales_customer_missing",
                    format!(
                        "the consumer account `{web}` (flows.{}.options.b2c_customer) does not exist in `{}`",
                        self.ctx.name, self.ctx.to
                    ),
                )),
            };
        }
        // 1. Linked before.
        let t = &self.ctx.tenant;
        if let Some(reference) = &order.customer.reference {
            let links = store
                .links_alongside(t, kinds::CUSTOMER, &self.ctx.from, reference)
                .await
                .map_err(|e| store_failure("looking up customer links", e))?;
            if let Some(erp_link) = links.into_iter().find(|l| l.system == self.ctx.to) {
                let erp = CustomerRef {
                    id: erp_link.external_id,
                    name: order.customer.name.clone(),
                    email: order.customer.email.clone(),
                    vat_id: order.customer.vat_id.clone(),
                };
                return Ok(CustomerPlan::Existing {
                    erp,
                    entity: erp_link.entity_id,
                    matched_by: "link",
                });
            }
        }
        // 2–4. By e-mail, VAT id, or the reference Kontor gave a customer it created.
        let mut queries = Vec::new();
        if let Some(email) = &order.customer.email {
            queries.push((CustomerQuery::Email(email.clone()), "e-mail"));
        }
        if let Some(vat) = &order.customer.vat_id {
            queries.push((CustomerQuery::VatId(vat.clone()), "VAT id"));
        }
        queries.push((
            CustomerQuery::Reference(self.customer_reference(order)),
            "reference",
        ));
        for (query, matched_by) in queries {
            if let Some(erp) = self.erp_customers_by(query).await? {
                let entity = self.customer_entity(store, order, &erp.id).await?;
                return Ok(CustomerPlan::Existing {
                    erp,
                    entity,
                    matched_by,
                });
            }
        }
        Ok(CustomerPlan::Create {
            customer: Box::new(self.customer_from(order)),
        })
    }

    fn customer_from(&self, order: &Order) -> Customer {
        let c = &order.customer;
        let kind = match &c.company {
            Some(company) => CustomerKind::Company {
                company_name: company.clone(),
                vat_id: c.vat_id.clone(),
            },
            None if c.vat_id.is_some() => CustomerKind::Company {
                company_name: c.name.clone(),
                vat_id: c.vat_id.clone(),
            },
            None => CustomerKind::Person,
        };
        let mut addresses: Vec<_> = order.billing_address.iter().cloned().collect();
        if let Some(shipping) = &order.shipping_address
            && !addresses.contains(shipping)
        {
            addresses.push(shipping.clone());
        }
        Customer {
            reference: self.customer_reference(order),
            kind,
            name: c.company.clone().unwrap_or_else(|| c.name.clone()),
            email: c.email.clone(),
            phone: c.phone.clone(),
            addresses,
            group: None,
            price_list: None,
            payment_terms: None,
            credit_limit: None,
            balance: None,
        }
    }

    /// Carries out `plan` (what [`Self::find_customer`] decided): creates the customer
    /// if it is new. Creation happens under a lock on the customer's e-mail (or
    /// reference), and the lookup is repeated once the lock is held, so two orders from
    /// one new customer create them once.
    pub(crate) async fn resolve_customer(
        &self,
        job: &JobContext,
        order: &Order,
        mut plan: CustomerPlan,
    ) -> Result<ResolvedCustomer, JobError> {
        let store = &job.store;
        if let CustomerPlan::Create { .. } = plan {
            let key = order
                .customer
                .email
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_else(|| self.customer_reference(order));
            let lock = format!("customer:{}:{}:{key}", self.ctx.tenant, self.ctx.to);
            // Held until this job ends: released in the transaction that records its
            // end, with the new customer's links, so a second order from them finds
            // the customer. If another job has it, try again later rather than tie up
            // a worker.
            job.lock(&lock, Duration::from_secs(2))
                .await
                .map_err(|e| store_failure("locking the customer", e))?
                .ok_or_else(|| {
                    JobError::transient(
                        "customer_locked",
                        format!("customer {key} is being created by another job"),
                    )
                })?;
            plan = self.find_customer(store, order).await?;
            if let CustomerPlan::Create { customer } = &plan {
                let erp = self
                    .erp_customers
                    .create_customer(customer)
                    .await
                    .map_err(|e| {
                        connector_failure(
                            &format!("creating customer {} in `{}`", customer.name, self.ctx.to),
                            e,
                        )
                    })?;
                let entity = self.customer_entity(store, order, &erp.id).await?;
                plan = CustomerPlan::Existing {
                    erp,
                    entity,
                    matched_by: "new",
                };
            }
        }
        match plan {
            CustomerPlan::WebSales { erp_id } => Ok(ResolvedCustomer {
                note: format!("consumer account {erp_id}"),
                erp_id,
                links: vec![],
                entity: None,
            }),
            CustomerPlan::Existing {
                erp,
                entity,
                matched_by,
            } => {
                let links = self.customer_links(store, order, &erp.id, &entity).await?;
                let mut record = EntityRecord::new(
                    &self.ctx.tenant,
                    kinds::CUSTOMER,
                    &entity,
                    json!(order.customer),
                );
                if let Some(email) = &order.customer.email {
                    record = record.key(MatchKey::email(email.as_str()));
                }
                if let Some(vat) = &order.customer.vat_id {
                    record = record.key(MatchKey::vat_id(vat.as_str()));
                }
                Ok(ResolvedCustomer {
                    note: if matched_by == "new" {
                        format!("new customer {}", erp.id)
                    } else {
                        format!("customer {} (matched by {matched_by})", erp.id)
                    },
                    erp_id: erp.id,
                    links,
                    entity: Some(record),
                })
            }
            CustomerPlan::Create { .. } => Err(JobError::transient(
                "customer_not_created",
                "the customer was not created",
            )),
        }
    }

    /// Links for the customer that do not clash with links already there (a shop
    /// customer matched by e-mail to an ERP customer already bound elsewhere keeps its
    /// own binding).
    async fn customer_links(
        &self,
        store: &Store,
        order: &Order,
        erp_id: &str,
        entity: &str,
    ) -> Result<Vec<Link>, JobError> {
        let t = &self.ctx.tenant;
        let failed = |e| store_failure("looking up customer links", e);
        let mut links = Vec::new();
        let mut candidates = vec![(self.ctx.to.as_str(), erp_id.to_owned())];
        if let Some(reference) = &order.customer.reference {
            candidates.push((self.ctx.from.as_str(), reference.clone()));
        }
        for (system, external) in candidates {
            let by_external = store
                .link_by_external(t, kinds::CUSTOMER, system, &external)
                .await
                .map_err(failed)?;
            let by_entity = store
                .link_by_entity(t, kinds::CUSTOMER, system, entity)
                .await
                .map_err(failed)?;
            let free = by_external.as_ref().is_none_or(|l| l.entity_id == entity)
                && by_entity.as_ref().is_none_or(|l| l.external_id == external);
            if free {
                links.push(Link::new(t, kinds::CUSTOMER, system, external, entity));
            }
        }
        Ok(links)
    }
}
