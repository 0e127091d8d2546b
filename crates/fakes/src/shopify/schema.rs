//! The Admin GraphQL schema of the API version the fake serves, read from Shopify's own
//! SDL, and the checks the real API makes before running a request: every field,
//! argument and input field must exist, required ones must be given, leaves take no
//! selections and objects need some. A connector that asks for something Shopify does not
//! have fails here just as it would in production.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::OnceLock;

use graphql_parser::query::{
    Definition, Document, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
    TypeCondition,
};
use graphql_parser::schema::{self, Type, TypeDefinition};
use serde_json::{Value, json};

const SDL_GZ: &[u8] = include_bytes!("../../specs/admin-graphql-2026-10.graphql.gz");

/// A type reference (`[ID!]!`), as the SDL writes it.
pub type TypeRef = Type<'static, String>;

#[derive(Debug)]
pub enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum(HashSet<String>),
    InputObject { one_of: bool },
}

#[derive(Debug)]
pub struct Argument {
    pub ty: TypeRef,
    pub has_default: bool,
}

#[derive(Debug)]
pub struct Field {
    pub args: HashMap<String, Argument>,
    pub ty: TypeRef,
}

#[derive(Debug)]
pub struct TypeDef {
    pub kind: Kind,
    /// Fields of objects and interfaces.
    pub fields: HashMap<String, Field>,
    /// Fields of input objects.
    pub inputs: HashMap<String, Argument>,
}

#[derive(Debug)]
pub struct Schema {
    pub types: HashMap<String, TypeDef>,
}

/// A GraphQL error as Shopify writes it in `errors`.
pub type GraphQlError = Value;

fn error(message: String, path: &[String], extensions: Value) -> GraphQlError {
    json!({ "message": message, "path": path, "extensions": extensions })
}

/// The named type under lists and non-nulls.
pub fn base(ty: &TypeRef) -> &str {
    match ty {
        Type::NamedType(name) => name,
        Type::ListType(inner) | Type::NonNullType(inner) => base(inner),
    }
}

fn print(ty: &TypeRef) -> String {
    match ty {
        Type::NamedType(name) => name.clone(),
        Type::ListType(inner) => format!("[{}]", print(inner)),
        Type::NonNullType(inner) => format!("{}!", print(inner)),
    }
}

fn argument(value: &schema::InputValue<'static, String>) -> (String, Argument) {
    (
        value.name.clone(),
        Argument {
            ty: value.value_type.clone(),
            has_default: value.default_value.is_some(),
        },
    )
}

fn fields(list: &[schema::Field<'static, String>]) -> HashMap<String, Field> {
    list.iter()
        .map(|f| {
            (
                f.name.clone(),
                Field {
                    args: f.arguments.iter().map(argument).collect(),
                    ty: f.field_type.clone(),
                },
            )
        })
        .collect()
}

impl Schema {
    /// The schema, parsed once per process.
    pub fn admin() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let mut sdl = String::new();
            // The file is part of the crate: failing to read it is a build defect.
            flate2::read::GzDecoder::new(SDL_GZ)
                .read_to_string(&mut sdl)
                .expect("the bundled Shopify schema is gzip-compressed UTF-8");
            let document = schema::parse_schema::<String>(&sdl)
                .expect("the bundled Shopify schema parses")
                .into_static();
            Schema::from_document(&document)
        })
    }

    fn from_document(document: &schema::Document<'static, String>) -> Schema {
        let mut types = HashMap::new();
        for definition in &document.definitions {
            let schema::Definition::TypeDefinition(definition) = definition else {
                continue;
            };
            let (name, def) = match definition {
                TypeDefinition::Scalar(t) => (&t.name, TypeDef::new(Kind::Scalar)),
                TypeDefinition::Object(t) => (
                    &t.name,
                    TypeDef {
                        fields: fields(&t.fields),
                        ..TypeDef::new(Kind::Object)
                    },
                ),
                TypeDefinition::Interface(t) => (
                    &t.name,
                    TypeDef {
                        fields: fields(&t.fields),
                        ..TypeDef::new(Kind::Interface)
                    },
                ),
                TypeDefinition::Union(t) => (&t.name, TypeDef::new(Kind::Union)),
                TypeDefinition::Enum(t) => (
                    &t.name,
                    TypeDef::new(Kind::Enum(
                        t.values.iter().map(|v| v.name.clone()).collect(),
                    )),
                ),
                TypeDefinition::InputObject(t) => (
                    &t.name,
                    TypeDef {
                        inputs: t.fields.iter().map(argument).collect(),
                        ..TypeDef::new(Kind::InputObject {
                            one_of: t.directives.iter().any(|d| d.name == "oneOf"),
                        })
                    },
                ),
            };
            types.insert(name.clone(), def);
        }
        for builtin in ["String", "Int", "Float", "Boolean", "ID"] {
            types
                .entry(builtin.to_owned())
                .or_insert_with(|| TypeDef::new(Kind::Scalar));
        }
        Schema { types }
    }

    pub fn field(&self, type_name: &str, field: &str) -> Option<&Field> {
        self.types.get(type_name)?.fields.get(field)
    }

    pub fn is_leaf(&self, type_name: &str) -> bool {
        matches!(
            self.types.get(type_name).map(|t| &t.kind),
            Some(Kind::Scalar | Kind::Enum(_))
        )
    }

    /// Checks a request before it runs: the document against the schema, the variables
    /// against their declared types. Errors come back as Shopify words them.
    pub fn check(
        &self,
        document: &Document<'static, String>,
        variables: &serde_json::Map<String, Value>,
    ) -> Vec<GraphQlError> {
        let fragments: HashMap<&str, &FragmentDefinition<'static, String>> = document
            .definitions
            .iter()
            .filter_map(|d| match d {
                Definition::Fragment(f) => Some((f.name.as_str(), f)),
                Definition::Operation(_) => None,
            })
            .collect();
        let mut checker = Checker {
            schema: self,
            fragments,
            variables,
            errors: Vec::new(),
        };
        for definition in &document.definitions {
            let Definition::Operation(operation) = definition else {
                continue;
            };
            let (root, selection, defined) = match operation {
                OperationDefinition::SelectionSet(s) => ("QueryRoot", s, &[][..]),
                OperationDefinition::Query(q) => {
                    ("QueryRoot", &q.selection_set, &q.variable_definitions[..])
                }
                OperationDefinition::Mutation(m) => {
                    ("Mutation", &m.selection_set, &m.variable_definitions[..])
                }
                OperationDefinition::Subscription(_) => {
                    checker.errors.push(error(
                        "Subscriptions are not supported by the Admin API".into(),
                        &[],
                        json!({ "code": "undefinedType" }),
                    ));
                    continue;
                }
            };
            for definition in defined {
                let given = variables.get(&definition.name).unwrap_or(&Value::Null);
                let mut problems = Vec::new();
                checker.input(given, &definition.var_type, &mut Vec::new(), &mut problems);
                if !problems.is_empty() && (definition.default_value.is_none() || !given.is_null())
                {
                    checker.errors.push(json!({
                        "message": format!(
                            "Variable ${} of type {} was provided invalid value{}",
                            definition.name,
                            print(&definition.var_type),
                            problems.iter().map(|(path, why): &(String, String)| if path.is_empty() {
                                format!(" ({why})")
                            } else {
                                format!(" for {path} ({why})")
                            }).collect::<Vec<_>>().join(",")
                        ),
                        "extensions": {
                            "value": given,
                            "problems": problems.iter().map(|(path, why)| json!({
                                "path": path.split('.').filter(|p| !p.is_empty()).collect::<Vec<_>>(),
                                "explanation": why,
                            })).collect::<Vec<_>>(),
                        },
                    }));
                }
            }
            let mut path = vec![match root {
                "Mutation" => "mutation".to_owned(),
                _ => "query".to_owned(),
            }];
            checker.selection(selection, root, &mut path);
        }
        checker.errors
    }
}

impl TypeDef {
    fn new(kind: Kind) -> TypeDef {
        TypeDef {
            kind,
            fields: HashMap::new(),
            inputs: HashMap::new(),
        }
    }
}

struct Checker<'a> {
    schema: &'a Schema,
    fragments: HashMap<&'a str, &'a FragmentDefinition<'static, String>>,
    variables: &'a serde_json::Map<String, Value>,
    errors: Vec<GraphQlError>,
}

impl Checker<'_> {
    fn selection(
        &mut self,
        set: &SelectionSet<'static, String>,
        type_name: &str,
        path: &mut Vec<String>,
    ) {
        for item in &set.items {
            match item {
                Selection::Field(field) => {
                    if field.name.starts_with("__") {
                        continue;
                    }
                    path.push(field.alias.clone().unwrap_or_else(|| field.name.clone()));
                    self.field(field, type_name, path);
                    path.pop();
                }
                Selection::InlineFragment(fragment) => {
                    let on = match &fragment.type_condition {
                        Some(TypeCondition::On(on)) => on.as_str(),
                        None => type_name,
                    };
                    if self.known_type(on, path) {
                        self.selection(&fragment.selection_set, on, path);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let Some(&fragment) = self.fragments.get(spread.fragment_name.as_str()) else {
                        self.errors.push(error(
                            format!(
                                "Fragment {} was used, but not defined",
                                spread.fragment_name
                            ),
                            path,
                            json!({ "code": "useAndDefineFragment" }),
                        ));
                        continue;
                    };
                    let TypeCondition::On(on) = &fragment.type_condition;
                    if self.known_type(on, path) {
                        self.selection(&fragment.selection_set, on, path);
                    }
                }
            }
        }
    }

    fn known_type(&mut self, name: &str, path: &[String]) -> bool {
        let known = self.schema.types.contains_key(name);
        if !known {
            self.errors.push(error(
                format!("No such type {name}, so it can't be a fragment condition"),
                path,
                json!({ "code": "undefinedType", "typeName": name }),
            ));
        }
        known
    }

    fn field(
        &mut self,
        field: &graphql_parser::query::Field<'static, String>,
        type_name: &str,
        path: &mut Vec<String>,
    ) {
        let Some(def) = self.schema.field(type_name, &field.name) else {
            self.errors.push(error(
                format!("Field '{}' doesn't exist on type '{type_name}'", field.name),
                path,
                json!({ "code": "undefinedField", "typeName": type_name, "fieldName": field.name }),
            ));
            return;
        };
        for (name, value) in &field.arguments {
            let Some(argument) = def.args.get(name) else {
                self.errors.push(error(
                    format!("Field '{}' doesn't accept argument '{name}'", field.name),
                    path,
                    json!({ "code": "argumentNotAccepted", "name": field.name, "argumentName": name }),
                ));
                continue;
            };
            // Variables were checked against their declared types already.
            if matches!(value, graphql_parser::query::Value::Variable(_)) {
                continue;
            }
            let given = literal(value, self.variables);
            let mut problems = Vec::new();
            self.input(&given, &argument.ty, &mut Vec::new(), &mut problems);
            for (at, why) in problems {
                self.errors.push(error(
                    format!(
                        "Argument '{name}' on Field '{}' has an invalid value ({given}). {why}{}",
                        field.name,
                        if at.is_empty() { String::new() } else { format!(" at {at}") }
                    ),
                    path,
                    json!({ "code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": name }),
                ));
            }
        }
        let missing: Vec<&str> = def
            .args
            .iter()
            .filter(|(name, a)| {
                matches!(a.ty, Type::NonNullType(_))
                    && !a.has_default
                    && !field.arguments.iter().any(|(given, _)| given == *name)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        if !missing.is_empty() {
            self.errors.push(error(
                format!(
                    "Field '{}' is missing required arguments: {}",
                    field.name,
                    missing.join(", ")
                ),
                path,
                json!({ "code": "missingRequiredArguments", "arguments": missing.join(", ") }),
            ));
        }
        let returns = base(&def.ty);
        let leaf = self.schema.is_leaf(returns);
        if leaf && !field.selection_set.items.is_empty() {
            self.errors.push(error(
                format!(
                    "Selections can't be made on scalars (field '{}' returns {returns} but has selections [...])",
                    field.name
                ),
                path,
                json!({ "code": "selectionMismatch", "nodeName": field.name, "typeName": returns }),
            ));
        } else if !leaf && field.selection_set.items.is_empty() {
            self.errors.push(error(
                format!(
                    "Field must have selections (field '{}' returns {} but has no selections. Did you mean '{} {{ ... }}'?)",
                    field.name,
                    print(&def.ty),
                    field.name
                ),
                path,
                json!({ "code": "selectionMismatch", "nodeName": field.name, "typeName": returns }),
            ));
        } else if !leaf {
            self.selection(&field.selection_set, returns, path);
        }
    }

    /// Collects (path, explanation) for each way `value` does not fit `ty`.
    fn input(
        &self,
        value: &Value,
        ty: &TypeRef,
        path: &mut Vec<String>,
        problems: &mut Vec<(String, String)>,
    ) {
        let here = |path: &[String]| path.join(".");
        match ty {
            Type::NonNullType(inner) => {
                if value.is_null() {
                    problems.push((here(path), "Expected value to not be null".into()));
                } else {
                    self.input(value, inner, path, problems);
                }
            }
            Type::ListType(inner) => match value {
                Value::Null => {}
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        path.push(i.to_string());
                        self.input(item, inner, path, problems);
                        path.pop();
                    }
                }
                single => self.input(single, inner, path, problems),
            },
            Type::NamedType(name) => {
                if value.is_null() {
                    return;
                }
                let Some(def) = self.schema.types.get(name) else {
                    return;
                };
                match &def.kind {
                    Kind::Enum(values) => {
                        if !value.as_str().is_some_and(|v| values.contains(v)) {
                            problems.push((
                                here(path),
                                format!(
                                    "Expected \"{}\" to be one of: {}",
                                    value.as_str().unwrap_or_default(),
                                    {
                                        let mut all: Vec<&str> =
                                            values.iter().map(String::as_str).collect();
                                        all.sort_unstable();
                                        all.join(", ")
                                    }
                                ),
                            ));
                        }
                    }
                    Kind::InputObject { one_of } => {
                        let Some(object) = value.as_object() else {
                            problems.push((
                                here(path),
                                format!("Expected \"{value}\" to be a key-value object"),
                            ));
                            return;
                        };
                        for (key, item) in object {
                            path.push(key.clone());
                            match def.inputs.get(key) {
                                Some(field) => self.input(item, &field.ty, path, problems),
                                None => problems
                                    .push((here(path), format!("Field is not defined on {name}"))),
                            }
                            path.pop();
                        }
                        for (key, field) in &def.inputs {
                            if matches!(field.ty, Type::NonNullType(_))
                                && !field.has_default
                                && !object.contains_key(key)
                            {
                                path.push(key.clone());
                                problems.push((here(path), "Expected value to not be null".into()));
                                path.pop();
                            }
                        }
                        if *one_of && object.values().filter(|v| !v.is_null()).count() != 1 {
                            problems.push((
                                here(path),
                                format!("'{name}' requires exactly one argument"),
                            ));
                        }
                    }
                    Kind::Scalar => {
                        let fits = match name.as_str() {
                            "Int" => value.is_i64() || value.is_u64(),
                            "Float" => value.is_number(),
                            "Boolean" => value.is_boolean(),
                            "String" | "ID" | "URL" | "DateTime" | "HTML" => {
                                value.is_string() || (name == "ID" && value.is_number())
                            }
                            "Money" | "Decimal" => {
                                value.is_number()
                                    || value
                                        .as_str()
                                        .is_some_and(|s| s.parse::<rust_decimal::Decimal>().is_ok())
                            }
                            _ => !value.is_object() || name == "JSON",
                        };
                        if !fits {
                            problems.push((
                                here(path),
                                format!("Could not coerce value {value} to {name}"),
                            ));
                        }
                    }
                    Kind::Object | Kind::Interface | Kind::Union => problems.push((
                        here(path),
                        format!("{name} is an output type and cannot be given"),
                    )),
                }
            }
        }
    }
}

/// An argument's value as JSON, with variables put in.
pub fn literal(
    value: &graphql_parser::query::Value<'static, String>,
    variables: &serde_json::Map<String, Value>,
) -> Value {
    use graphql_parser::query::Value as V;
    match value {
        V::Variable(name) => variables.get(name).cloned().unwrap_or(Value::Null),
        V::Int(n) => n.as_i64().map_or(Value::Null, Value::from),
        V::Float(f) => json!(f),
        V::String(s) => Value::String(s.clone()),
        V::Boolean(b) => Value::Bool(*b),
        V::Null => Value::Null,
        V::Enum(e) => Value::String(e.clone()),
        V::List(items) => Value::Array(items.iter().map(|v| literal(v, variables)).collect()),
        V::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), literal(v, variables)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, variables: Value) -> Vec<GraphQlError> {
        let document = graphql_parser::parse_query::<String>(query)
            .expect("parses")
            .into_static();
        Schema::admin().check(&document, variables.as_object().expect("object"))
    }

    #[test]
    fn the_real_schema_accepts_real_queries_and_refuses_made_up_fields() {
        assert_eq!(
            check(
                "query($q: String) { productVariants(first: 5, query: $q) { nodes { id sku inventoryItem { id } } } }",
                json!({ "q": "sku:A" })
            ),
            Vec::<Value>::new()
        );
        let errors = check(
            "{ products(first: 1) { nodes { id stockLevel } } }",
            json!({}),
        );
        assert_eq!(
            errors[0]["message"],
            "Field 'stockLevel' doesn't exist on type 'Product'"
        );
        let errors = check("{ order { id } }", json!({}));
        assert_eq!(
            errors[0]["message"],
            "Field 'order' is missing required arguments: id"
        );
    }

    #[test]
    fn input_objects_are_checked_field_by_field() {
        let errors = check(
            "mutation($input: ProductSetInput!) { productSet(input: $input) { product { id } userErrors { field message } } }",
            json!({ "input": { "title": "Mug", "variants": [{ "optionValues": [], "sku": "M", "quantity": 3 }] } }),
        );
        assert_eq!(errors.len(), 1);
        let message = errors[0]["message"].as_str().unwrap_or_default();
        assert!(
            message
                .contains("variants.0.quantity (Field is not defined on ProductVariantSetInput)"),
            "{message}"
        );
        let errors = check(
            "mutation { productSet(identifier: { handle: \"a\", id: \"b\" }, input: { title: \"x\" }) { product { id } } }",
            json!({}),
        );
        assert!(
            errors[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("requires exactly one argument"))
        );
    }
}
