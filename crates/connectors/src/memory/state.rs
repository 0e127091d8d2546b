//! The memory system's records, changed only through [`Mutation`]s so that the same
//! sequence, replayed from the journal file, rebuilds the same state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use kontor_connector::{
    CustomerRef, FulfilmentRef, PaymentRecord, PriceUpdate, ReturnDocument, SalesDocument,
    SalesDraft, TransferRef,
};
use kontor_model::{
    Customer, Invoice, Order, Price, Product, Return, Shipment, StockLevel, StockTransfer,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProductRecord {
    pub id: String,
    pub product: Product,
    /// SKU → variant id.
    pub variant_ids: BTreeMap<String, String>,
    pub archived: bool,
}

impl ProductRecord {
    /// The product as the system shows it: archived ones with that status.
    pub(crate) fn view(&self) -> Product {
        let mut product = self.product.clone();
        if self.archived {
            product.status = kontor_model::ProductStatus::Archived;
        }
        product
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SaleRecord {
    pub document: SalesDocument,
    pub draft: SalesDraft,
    /// Stock this sale holds reserved, by (SKU, warehouse).
    #[serde(default)]
    pub reserved: Vec<(String, String, rust_decimal::Decimal)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InvoiceRecord {
    pub id: String,
    pub sale_id: String,
    pub invoice: Invoice,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FulfilmentRecord {
    pub order_id: String,
    pub fulfilment: FulfilmentRef,
    pub shipment: Shipment,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReturnDocumentRecord {
    pub sale_id: String,
    pub document: ReturnDocument,
    pub goods_return: Return,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TransferRecord {
    pub transfer: TransferRef,
    pub details: StockTransfer,
}

/// A file put on a shop order (only its size and hash are kept).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AttachedInvoice {
    pub order_id: String,
    pub number: String,
    pub pdf_bytes: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CustomerRecord {
    pub id: String,
    pub customer: Customer,
}

/// Every change to the state, as written to the journal (each replaces one record).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Mutation {
    Product(ProductRecord),
    Stock(StockLevel),
    Order(Box<Order>),
    Sale(Box<SaleRecord>),
    Customer(CustomerRecord),
    Price(Price),
    /// A price as a shop holds it (with the shop's ids).
    ShopPrice(Box<PriceUpdate>),
    Payment {
        sale_id: String,
        record: PaymentRecord,
    },
    Invoice(Box<InvoiceRecord>),
    AttachedInvoice(AttachedInvoice),
    Shipment(Box<Shipment>),
    Fulfilment(Box<FulfilmentRecord>),
    Return(Box<Return>),
    ReturnDocument(Box<ReturnDocumentRecord>),
    /// A customer account in a shop.
    Account(CustomerRecord),
    Transfer(Box<TransferRecord>),
}

impl Mutation {
    /// What the change announces to the system's watchers, for the records an ERP's or a
    /// shop's event feed would name.
    pub(crate) fn changed(&self) -> Option<super::system::Changed> {
        let (entity, key) = match self {
            Mutation::Product(record) => ("product", record.product.code.clone()),
            Mutation::Stock(level) => ("stock", format!("{}@{}", level.sku, level.warehouse)),
            Mutation::Price(price) => ("price", price.sku.clone()),
            Mutation::Order(order) => ("order", order.id.clone()),
            Mutation::Sale(sale) => ("sale", sale.document.reference.clone()),
            Mutation::Customer(record) | Mutation::Account(record) => {
                ("customer", record.customer.reference.clone())
            }
            _ => return None,
        };
        Some(super::system::Changed { entity, key })
    }
}

/// A feed of changes of one collection: change sequence → key. A key appears once, at
/// its latest change.
#[derive(Debug, Default)]
pub(crate) struct Feed<K: Ord + Clone> {
    by_seq: BTreeMap<u64, K>,
    seq_of: BTreeMap<K, u64>,
}

impl<K: Ord + Clone> Feed<K> {
    fn touch(&mut self, key: K, seq: u64) {
        if let Some(old) = self.seq_of.insert(key.clone(), seq) {
            self.by_seq.remove(&old);
        }
        self.by_seq.insert(seq, key);
    }

    /// Keys changed after `after`, up to `limit`, with the sequence of the last one.
    pub(crate) fn since(&self, after: u64, limit: usize) -> (Vec<K>, Option<u64>, bool) {
        let mut range = self.by_seq.range(after + 1..);
        let page: Vec<(u64, K)> = range
            .by_ref()
            .take(limit)
            .map(|(s, k)| (*s, k.clone()))
            .collect();
        let more = range.next().is_some();
        let last = page.last().map(|(s, _)| *s);
        (page.into_iter().map(|(_, k)| k).collect(), last, more)
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub seq: u64,
    pub next_id: u64,
    pub products: BTreeMap<String, ProductRecord>,
    pub sku_index: HashMap<String, String>,
    pub product_feed: Feed<String>,
    pub stock: BTreeMap<(String, String), StockLevel>,
    pub stock_feed: Feed<(String, String)>,
    pub orders: BTreeMap<String, Order>,
    pub order_feed: Feed<String>,
    pub sales: BTreeMap<String, SaleRecord>,
    pub sales_by_reference: HashMap<String, Vec<String>>,
    pub customers: BTreeMap<String, CustomerRecord>,
    /// Customer ids by e-mail and by reference, as an ERP indexes them: finding the
    /// customer of an order must not cost a scan of every customer.
    pub customers_by_email: HashMap<String, BTreeSet<String>>,
    pub customers_by_reference: HashMap<String, BTreeSet<String>>,
    /// Prices by SKU and scope (`base`, `price_list:wholesale`, …).
    pub prices: BTreeMap<(String, String), Price>,
    pub price_feed: Feed<(String, String)>,
    /// Shop side: prices by SKU, scope and the shop's scope id.
    pub shop_prices: BTreeMap<(String, String, String), PriceUpdate>,
    pub customer_feed: Feed<String>,
    pub sale_feed: Feed<String>,
    pub payments: BTreeMap<String, Vec<PaymentRecord>>,
    pub invoices: BTreeMap<String, InvoiceRecord>,
    pub invoice_feed: Feed<String>,
    pub attached_invoices: BTreeMap<String, Vec<AttachedInvoice>>,
    pub shipments: BTreeMap<String, Shipment>,
    pub shipment_feed: Feed<String>,
    pub fulfilments: BTreeMap<String, Vec<FulfilmentRecord>>,
    pub returns: BTreeMap<String, Return>,
    pub return_feed: Feed<String>,
    pub return_documents: BTreeMap<String, ReturnDocumentRecord>,
    pub accounts: BTreeMap<String, CustomerRecord>,
    pub transfers: BTreeMap<String, TransferRecord>,
}

/// A stable key for a price within its SKU: scope, kind and minimum quantity.
pub(crate) fn scope_key(price: &Price) -> String {
    use kontor_model::{PriceKind, PriceScope};
    let scope = match &price.scope {
        PriceScope::Base => "base".to_owned(),
        PriceScope::PriceList(id) => format!("price_list:{id}"),
        PriceScope::CustomerGroup(id) => format!("customer_group:{id}"),
        PriceScope::Customer(id) => format!("customer:{id}"),
    };
    let kind = match price.kind {
        PriceKind::Regular => "",
        PriceKind::Promotion => ":promotion",
    };
    format!("{scope}{kind}@{}", price.min_quantity.normalize())
}

fn numeric_suffix(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl State {
    /// A fresh id with `prefix`, e.g. `p-17`.
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    fn saw_id(&mut self, id: &str) {
        self.next_id = self.next_id.max(numeric_suffix(id));
    }

    pub(crate) fn apply(&mut self, mutation: Mutation) {
        self.seq += 1;
        let seq = self.seq;
        match mutation {
            Mutation::Product(record) => {
                self.saw_id(&record.id);
                for (sku, variant_id) in &record.variant_ids {
                    self.saw_id(variant_id);
                    self.sku_index.insert(sku.clone(), record.id.clone());
                }
                self.product_feed.touch(record.id.clone(), seq);
                self.products.insert(record.id.clone(), record);
            }
            Mutation::Stock(level) => {
                let key = (level.sku.clone(), level.warehouse.clone());
                self.stock_feed.touch(key.clone(), seq);
                self.stock.insert(key, level);
            }
            Mutation::Order(order) => {
                self.saw_id(&order.id);
                self.order_feed.touch(order.id.clone(), seq);
                self.orders.insert(order.id.clone(), *order);
            }
            Mutation::Sale(record) => {
                let id = record.document.id.clone();
                self.saw_id(&id);
                self.sale_feed.touch(id.clone(), seq);
                let same_ref = self
                    .sales_by_reference
                    .entry(record.document.reference.clone())
                    .or_default();
                if !same_ref.contains(&id) {
                    same_ref.push(id.clone());
                }
                self.sales.insert(id, *record);
            }
            Mutation::Customer(record) => {
                self.saw_id(&record.id);
                self.customer_feed.touch(record.id.clone(), seq);
                self.index_customer(&record);
                self.customers.insert(record.id.clone(), record);
            }
            Mutation::Price(price) => {
                let key = (price.sku.clone(), scope_key(&price));
                self.price_feed.touch(key.clone(), seq);
                self.prices.insert(key, price);
            }
            Mutation::ShopPrice(update) => {
                let key = (
                    update.price.sku.clone(),
                    scope_key(&update.price),
                    update.scope_id.clone().unwrap_or_default(),
                );
                self.shop_prices.insert(key, *update);
            }
            Mutation::Payment { sale_id, record } => {
                self.saw_id(&record.id);
                self.payments.entry(sale_id).or_default().push(record);
            }
            Mutation::Invoice(record) => {
                self.saw_id(&record.id);
                self.invoice_feed.touch(record.id.clone(), seq);
                self.invoices.insert(record.id.clone(), *record);
            }
            Mutation::AttachedInvoice(attached) => {
                // Like a shop's order notes and files: a second attach adds a second one.
                self.attached_invoices
                    .entry(attached.order_id.clone())
                    .or_default()
                    .push(attached);
            }
            Mutation::Shipment(shipment) => {
                self.shipment_feed.touch(shipment.reference.clone(), seq);
                self.shipments.insert(shipment.reference.clone(), *shipment);
            }
            Mutation::Fulfilment(record) => {
                self.saw_id(&record.fulfilment.id);
                self.fulfilments
                    .entry(record.order_id.clone())
                    .or_default()
                    .push(*record);
            }
            Mutation::Return(goods_return) => {
                self.return_feed.touch(goods_return.reference.clone(), seq);
                self.returns
                    .insert(goods_return.reference.clone(), *goods_return);
            }
            Mutation::ReturnDocument(record) => {
                self.saw_id(&record.document.id);
                self.return_documents
                    .insert(record.document.id.clone(), *record);
            }
            Mutation::Account(record) => {
                self.saw_id(&record.id);
                self.accounts.insert(record.id.clone(), record);
            }
            Mutation::Transfer(record) => {
                self.saw_id(&record.transfer.id);
                self.transfers.insert(record.transfer.id.clone(), *record);
            }
        }
    }

    /// Files `record` under its e-mail and reference, and out of those it had before.
    fn index_customer(&mut self, record: &CustomerRecord) {
        let id = &record.id;
        if let Some(previous) = self.customers.get(id) {
            if let Some(email) = &previous.customer.email
                && let Some(ids) = self.customers_by_email.get_mut(email.as_str())
            {
                ids.remove(id);
            }
            if let Some(ids) = self
                .customers_by_reference
                .get_mut(&previous.customer.reference)
            {
                ids.remove(id);
            }
        }
        if let Some(email) = &record.customer.email {
            self.customers_by_email
                .entry(email.as_str().to_owned())
                .or_default()
                .insert(id.clone());
        }
        self.customers_by_reference
            .entry(record.customer.reference.clone())
            .or_default()
            .insert(id.clone());
    }

    pub(crate) fn customer_ref(record: &CustomerRecord) -> CustomerRef {
        CustomerRef {
            id: record.id.clone(),
            name: record.customer.name.clone(),
            email: record.customer.email.clone(),
            vat_id: record.customer.vat_id().cloned(),
        }
    }
}

/// An append-only file of mutations, one JSON object per line. Each mutation is written
/// with a single `write` before the call that made it returns, so a process killed at
/// any moment keeps every change it reported as done (the page cache survives SIGKILL).
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
}

impl Journal {
    /// Opens (or creates) the journal and replays it into a fresh state. A last line cut
    /// short by a crash is cut off: its change was never reported as done, and later
    /// appends must start on a line of their own.
    pub(crate) fn open(path: &Path) -> std::io::Result<(Journal, State)> {
        let mut state = State::default();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let mut content = Vec::new();
        file.read_to_end(&mut content)?;
        let complete = content
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        if complete < content.len() {
            file.set_len(complete as u64)?;
        }
        for (number, line) in content[..complete].split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let mutation: Mutation = serde_json::from_slice(line).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} line {}: corrupt journal entry: {e}",
                        path.display(),
                        number + 1
                    ),
                )
            })?;
            state.apply(mutation);
        }
        Ok((Journal { file }, state))
    }

    /// Reads a journal another process may be writing, changing nothing: an incomplete
    /// last line is left out.
    pub(crate) fn snapshot(path: &Path) -> std::io::Result<State> {
        let content = std::fs::read(path)?;
        let complete = content
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let mut state = State::default();
        for line in content[..complete]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let mutation: Mutation = serde_json::from_slice(line)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            state.apply(mutation);
        }
        Ok(state)
    }

    pub(crate) fn append(&mut self, mutation: &Mutation) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(mutation).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }
}
