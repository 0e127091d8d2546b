//! Running a checked request: root fields are answered by the store as whole objects
//! (JSON shaped like the schema's types), and this module cuts each down to what was
//! selected, under aliases, with connections paged by `first`/`after`/`last`/`before`
//! and a few argument-taking fields (`metafield`, `quantities`, `inventoryLevel`)
//! picked out. It also prices a request the way Shopify's calculated query cost does.

use std::collections::HashMap;

use base64::Engine;
use graphql_parser::query::{
    Definition, Document, Field, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
    TypeCondition,
};
use serde_json::{Map, Value, json};

use super::schema::{Kind, Schema, base, literal};

/// Most a single query may cost, and what a connection's page may hold.
pub const MAX_QUERY_COST: u64 = 1000;
pub const MAX_PAGE: u64 = 250;

/// One request, parsed: its operation, fragments and variables.
pub struct Request<'a> {
    pub schema: &'static Schema,
    pub mutation: bool,
    pub selection: &'a SelectionSet<'static, String>,
    fragments: HashMap<&'a str, &'a FragmentDefinition<'static, String>>,
    pub variables: &'a Map<String, Value>,
}

impl<'a> Request<'a> {
    pub fn new(
        document: &'a Document<'static, String>,
        variables: &'a Map<String, Value>,
    ) -> Option<Request<'a>> {
        let mut fragments = HashMap::new();
        let mut operation = None;
        for definition in &document.definitions {
            match definition {
                Definition::Fragment(f) => {
                    fragments.insert(f.name.as_str(), f);
                }
                Definition::Operation(o) if operation.is_none() => operation = Some(o),
                Definition::Operation(_) => {}
            }
        }
        let (mutation, selection) = match operation? {
            OperationDefinition::SelectionSet(s) => (false, s),
            OperationDefinition::Query(q) => (false, &q.selection_set),
            OperationDefinition::Mutation(m) => (true, &m.selection_set),
            OperationDefinition::Subscription(_) => return None,
        };
        Some(Request {
            schema: Schema::admin(),
            mutation,
            selection,
            fragments,
            variables,
        })
    }

    pub fn root_type(&self) -> &'static str {
        if self.mutation {
            "Mutation"
        } else {
            "QueryRoot"
        }
    }

    /// The fields of a selection that apply to an object of `type_name`, fragments
    /// spread in.
    pub fn fields<'s>(
        &'s self,
        set: &'s SelectionSet<'static, String>,
        type_name: &str,
    ) -> Vec<&'s Field<'static, String>> {
        let mut out = Vec::new();
        self.collect(set, type_name, &mut out);
        out
    }

    fn collect<'s>(
        &'s self,
        set: &'s SelectionSet<'static, String>,
        type_name: &str,
        out: &mut Vec<&'s Field<'static, String>>,
    ) {
        for item in &set.items {
            match item {
                Selection::Field(field) => out.push(field),
                Selection::InlineFragment(fragment) => {
                    let applies = match &fragment.type_condition {
                        Some(TypeCondition::On(on)) => self.applies(on, type_name),
                        None => true,
                    };
                    if applies {
                        self.collect(&fragment.selection_set, type_name, out);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.fragments.get(spread.fragment_name.as_str()) {
                        let TypeCondition::On(on) = &fragment.type_condition;
                        if self.applies(on, type_name) {
                            self.collect(&fragment.selection_set, type_name, out);
                        }
                    }
                }
            }
        }
    }

    /// Whether a fragment on `condition` applies to an object of `concrete` type. An
    /// interface or union condition applies when the object has the fields it asks.
    fn applies(&self, condition: &str, concrete: &str) -> bool {
        condition == concrete
            || matches!(
                self.schema.types.get(condition).map(|t| &t.kind),
                Some(Kind::Interface | Kind::Union)
            )
    }

    pub fn arguments(&self, field: &Field<'static, String>) -> Map<String, Value> {
        field
            .arguments
            .iter()
            .map(|(name, value)| (name.clone(), literal(value, self.variables)))
            .collect()
    }

    /// `value` (a whole object of `type_name`) cut down to `set`.
    pub fn project(
        &self,
        value: &Value,
        set: &SelectionSet<'static, String>,
        type_name: &str,
    ) -> Value {
        let concrete = value["__typename"].as_str().unwrap_or(type_name).to_owned();
        let mut out = Map::new();
        for field in self.fields(set, &concrete) {
            let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
            if field.name == "__typename" {
                out.insert(key, json!(concrete));
                continue;
            }
            let Some(def) = self
                .schema
                .field(&concrete, &field.name)
                .or_else(|| self.schema.field(type_name, &field.name))
            else {
                continue;
            };
            let returns = base(&def.ty);
            let args = self.arguments(field);
            let raw = pick(value, &field.name, &args);
            let projected = if returns.ends_with("Connection") && raw.is_array() {
                self.connection(&raw, &args, &field.selection_set, returns)
            } else {
                let raw = match (&raw, args.get("first").and_then(Value::as_u64)) {
                    (Value::Array(items), Some(first)) => {
                        Value::Array(items.iter().take(first as usize).cloned().collect())
                    }
                    _ => raw,
                };
                self.shape(&raw, &field.selection_set, returns)
            };
            out.insert(key, projected);
        }
        Value::Object(out)
    }

    fn shape(&self, value: &Value, set: &SelectionSet<'static, String>, type_name: &str) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.shape(item, set, type_name))
                    .collect(),
            ),
            Value::Object(_) if !set.items.is_empty() => self.project(value, set, type_name),
            other => other.clone(),
        }
    }

    /// A connection over `items`, paged by the field's arguments. Cursors name the
    /// item's id, so a page boundary holds when items before it change.
    pub fn connection(
        &self,
        items: &Value,
        args: &Map<String, Value>,
        set: &SelectionSet<'static, String>,
        connection_type: &str,
    ) -> Value {
        let mut items: Vec<&Value> = items.as_array().into_iter().flatten().collect();
        if args.get("reverse").and_then(Value::as_bool) == Some(true) {
            items.reverse();
        }
        let position = |cursor: &Value| -> Option<usize> {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(cursor.as_str()?)
                .ok()?;
            let cursor: Value = serde_json::from_slice(&decoded).ok()?;
            items
                .iter()
                .position(|item| item["id"] == cursor["id"])
                .or_else(|| cursor["index"].as_u64().map(|i| i as usize))
        };
        let mut start = args.get("after").and_then(position).map_or(0, |i| i + 1);
        let mut end = args
            .get("before")
            .and_then(position)
            .unwrap_or(items.len())
            .min(items.len());
        start = start.min(end);
        if let Some(first) = args.get("first").and_then(Value::as_u64) {
            end = end.min(start + first as usize);
        }
        if let Some(last) = args.get("last").and_then(Value::as_u64) {
            start = start.max(end.saturating_sub(last as usize));
        }
        let cursor = |index: usize| {
            let item = items[index];
            base64::engine::general_purpose::STANDARD
                .encode(json!({ "id": item["id"], "index": index }).to_string())
        };
        let node_type = connection_type.trim_end_matches("Connection");
        let page: Vec<usize> = (start..end).collect();
        let mut out = Map::new();
        for field in self.fields(set, connection_type) {
            let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
            let value = match field.name.as_str() {
                "__typename" => json!(connection_type),
                "nodes" => Value::Array(
                    page.iter()
                        .map(|&i| self.shape(items[i], &field.selection_set, node_type))
                        .collect(),
                ),
                "edges" => Value::Array(
                    page.iter()
                        .map(|&i| {
                            let mut edge = Map::new();
                            for part in self.fields(&field.selection_set, "Edge") {
                                let key = part.alias.clone().unwrap_or_else(|| part.name.clone());
                                let value = match part.name.as_str() {
                                    "cursor" => json!(cursor(i)),
                                    "node" => self.shape(items[i], &part.selection_set, node_type),
                                    _ => Value::Null,
                                };
                                edge.insert(key, value);
                            }
                            Value::Object(edge)
                        })
                        .collect(),
                ),
                "pageInfo" => {
                    let info = json!({
                        "hasNextPage": end < items.len(),
                        "hasPreviousPage": start > 0,
                        "startCursor": page.first().map(|&i| cursor(i)),
                        "endCursor": page.last().map(|&i| cursor(i)),
                    });
                    self.project(&info, &field.selection_set, "PageInfo")
                }
                _ => Value::Null,
            };
            out.insert(key, value);
        }
        Value::Object(out)
    }

    /// The requested cost of the operation, as Shopify calculates it before running a
    /// query: objects 1, scalars and enums 0, a connection 2 plus its page size times the
    /// cost of one node; a mutation's root field 10.
    pub fn cost(&self) -> u64 {
        let root = self.root_type();
        self.fields(self.selection, root)
            .into_iter()
            .map(|field| {
                if self.mutation {
                    10
                } else {
                    self.field_cost(field, root)
                }
            })
            .sum()
    }

    fn field_cost(&self, field: &Field<'static, String>, type_name: &str) -> u64 {
        let Some(def) = self.schema.field(type_name, &field.name) else {
            return 0;
        };
        let returns = base(&def.ty);
        if self.schema.is_leaf(returns) {
            return 0;
        }
        let args = self.arguments(field);
        let children = |set: &SelectionSet<'static, String>, on: &str| -> u64 {
            self.fields(set, on)
                .into_iter()
                .map(|f| self.field_cost(f, on))
                .sum()
        };
        if returns.ends_with("Connection") {
            let size = args
                .get("first")
                .or_else(|| args.get("last"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let node_type = returns.trim_end_matches("Connection");
            let per_node: u64 = self
                .fields(&field.selection_set, returns)
                .into_iter()
                .map(|part| match part.name.as_str() {
                    "nodes" => 1 + children(&part.selection_set, node_type),
                    "edges" => self
                        .fields(&part.selection_set, "Edge")
                        .into_iter()
                        .filter(|f| f.name == "node")
                        .map(|node| 1 + children(&node.selection_set, node_type))
                        .sum(),
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            2 + size * per_node
        } else {
            1 + children(&field.selection_set, returns)
        }
    }

    /// What the operation really cost, priced the same way over what it returned: a
    /// connection's nodes as many as came back. Shopify charges the requested cost up
    /// front and gives the difference back once the query has run.
    pub fn actual_cost(&self, data: &Value) -> u64 {
        let root = self.root_type();
        self.fields(self.selection, root)
            .into_iter()
            .map(|field| {
                if self.mutation {
                    10
                } else {
                    self.actual_field_cost(field, root, &data[response_key(field)])
                }
            })
            .sum()
    }

    fn actual_field_cost(
        &self,
        field: &Field<'static, String>,
        type_name: &str,
        value: &Value,
    ) -> u64 {
        let Some(def) = self.schema.field(type_name, &field.name) else {
            return 0;
        };
        let returns = base(&def.ty);
        if self.schema.is_leaf(returns) {
            return 0;
        }
        let children = |set: &SelectionSet<'static, String>, on: &str, value: &Value| -> u64 {
            self.fields(set, on)
                .into_iter()
                .map(|f| self.actual_field_cost(f, on, &value[response_key(f)]))
                .sum()
        };
        if returns.ends_with("Connection") {
            let node_type = returns.trim_end_matches("Connection");
            let nodes: u64 = self
                .fields(&field.selection_set, returns)
                .into_iter()
                .map(|part| {
                    let items = value[response_key(part)]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    match part.name.as_str() {
                        "nodes" => items
                            .iter()
                            .map(|node| 1 + children(&part.selection_set, node_type, node))
                            .sum(),
                        "edges" => self
                            .fields(&part.selection_set, "Edge")
                            .into_iter()
                            .filter(|f| f.name == "node")
                            .map(|node| {
                                items
                                    .iter()
                                    .map(|edge| {
                                        1 + children(
                                            &node.selection_set,
                                            node_type,
                                            &edge[response_key(node)],
                                        )
                                    })
                                    .sum::<u64>()
                            })
                            .sum(),
                        _ => 0,
                    }
                })
                .max()
                .unwrap_or(0);
            2 + nodes
        } else {
            match value {
                Value::Array(items) => {
                    1 + items
                        .iter()
                        .map(|item| children(&field.selection_set, returns, item))
                        .max()
                        .unwrap_or(0)
                }
                Value::Null => 1,
                object => 1 + children(&field.selection_set, returns, object),
            }
        }
    }

    /// Page sizes above the API's maximum, as errors.
    pub fn oversized_pages(&self) -> Vec<String> {
        let mut found = Vec::new();
        self.pages(self.selection, self.root_type(), &mut found);
        found
    }

    fn pages(&self, set: &SelectionSet<'static, String>, type_name: &str, found: &mut Vec<String>) {
        for field in self.fields(set, type_name) {
            let Some(def) = self.schema.field(type_name, &field.name) else {
                continue;
            };
            let returns = base(&def.ty);
            let args = self.arguments(field);
            if returns.ends_with("Connection")
                && args.get("first").or_else(|| args.get("last")).is_none()
            {
                found.push(format!(
                    "you must provide one of first or last (field '{}')",
                    field.name
                ));
            }
            for key in ["first", "last"] {
                if let Some(n) = args.get(key).and_then(Value::as_u64)
                    && n > MAX_PAGE
                {
                    found.push(format!(
                        "The `{key}` argument of field '{}' is {n}; the maximum is {MAX_PAGE}",
                        field.name
                    ));
                }
            }
            if returns.ends_with("Connection") {
                let node = returns.trim_end_matches("Connection");
                for part in self.fields(&field.selection_set, returns) {
                    match part.name.as_str() {
                        "nodes" => self.pages(&part.selection_set, node, found),
                        "edges" => {
                            for inner in self.fields(&part.selection_set, "Edge") {
                                if inner.name == "node" {
                                    self.pages(&inner.selection_set, node, found);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            } else {
                self.pages(&field.selection_set, returns, found);
            }
        }
    }
}

/// A field of a whole object, with the arguments that pick from it applied.
fn pick(value: &Value, name: &str, args: &Map<String, Value>) -> Value {
    match name {
        "metafield" => value["metafields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| {
                m["key"] == args.get("key").cloned().unwrap_or_default()
                    && args
                        .get("namespace")
                        .is_none_or(|ns| ns.is_null() || m["namespace"] == *ns)
            })
            .cloned()
            .unwrap_or(Value::Null),
        "quantities" => {
            let names: Vec<&str> = args
                .get("names")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            Value::Array(
                value["quantities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|q| q["name"].as_str().is_some_and(|n| names.contains(&n)))
                    .cloned()
                    .collect(),
            )
        }
        "inventoryLevel" => value["inventoryLevels"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|level| Some(&level["location"]["id"]) == args.get("locationId"))
            .cloned()
            .unwrap_or(Value::Null),
        _ => value.get(name).cloned().unwrap_or(Value::Null),
    }
}

/// The key a field's value has in the response: its alias, else its name.
fn response_key<'f>(field: &'f Field<'static, String>) -> &'f str {
    field.alias.as_deref().unwrap_or(&field.name)
}
