//! Go-live binding. A merchant arrives with products and customers already in both the
//! ERP and the shop; before the first sync, Kontor matches them (products by SKU,
//! customers by e-mail, then VAT id) and reports what matched, what exists on one side
//! only, and what is ambiguous. Nothing is created or overwritten: accepting the report
//! writes links, and only then do flows treat matched records as the same.

use kontor_engine::Link;
use serde::{Deserialize, Serialize};

/// One record found on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMatch {
    /// The record in the source system, e.g. `product TSH` or `customer c-12 (Hotel Wisła)`.
    pub record: String,
    /// Its id in the target system.
    pub target: String,
    /// Anything the operator should know (variants missing on one side).
    pub note: Option<String>,
}

/// A record that matched more than one candidate: a person decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ambiguity {
    pub record: String,
    pub candidates: Vec<String>,
    pub why: String,
}

/// What binding one flow's records would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindReport {
    pub tenant: String,
    pub flow: String,
    pub matched: Vec<BindMatch>,
    /// Only in the source: the first sync will create them in the target.
    pub only_in_source: Vec<String>,
    /// Only in the target: left alone.
    pub only_in_target: Vec<String>,
    pub ambiguous: Vec<Ambiguity>,
    /// Linked before; not looked at again.
    pub already_linked: usize,
    /// Written when the operator accepts.
    pub links: Vec<Link>,
}
