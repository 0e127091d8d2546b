//! The HTTP face of the fake: the versioned GraphQL endpoint, the staged-upload target
//! and bulk operation result files (on Shopify those two live on Google Cloud Storage),
//! and the request pipeline every GraphQL call goes through.

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::exec::{MAX_QUERY_COST, Request};
use super::schema::{Schema, base};
use super::store::{Store, id_of};
use super::{ACCESS_TOKEN, API_VERSION, Shared, bulk, deliver_pending};
use crate::Call;

/// Shopify's leaky bucket for the GraphQL Admin API on a standard plan.
pub const BUCKET_SIZE: f64 = 2000.0;
pub const RESTORE_RATE: f64 = 100.0;

pub struct Bucket {
    pub available: f64,
    pub at: Instant,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket::full()
    }
}

impl Bucket {
    pub fn full() -> Bucket {
        Bucket {
            available: BUCKET_SIZE,
            at: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        self.available = (self.available
            + now.duration_since(self.at).as_secs_f64() * RESTORE_RATE)
            .min(BUCKET_SIZE);
        self.at = now;
    }

    fn status(&self, requested: u64, actual: Option<u64>) -> Value {
        json!({
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": BUCKET_SIZE,
                "currentlyAvailable": self.available.floor() as u64,
                "restoreRate": RESTORE_RATE,
            },
        })
    }
}

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql))
        .route("/staged-uploads", post(upload))
        .route("/bulk-results/{file}", get(result_file))
        .fallback(not_found)
        .with_state(shared)
}

fn record(shared: &Shared, method: &Method, uri: &Uri, status: StatusCode) {
    shared.lock().calls.push(Call {
        method: method.to_string(),
        target: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.to_string()),
        status: status.as_u16(),
    });
}

async fn not_found(State(shared): State<Shared>, method: Method, uri: Uri) -> Response {
    record(&shared, &method, &uri, StatusCode::NOT_FOUND);
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "errors": "Not Found" })),
    )
        .into_response()
}

async fn graphql(
    State(shared): State<Shared>,
    Path(version): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (mut status, mut answer) = answer(&shared, &version, &headers, &body);
    {
        let mut store = shared.lock();
        if let Some((left, kind)) = store.lost_answers
            && operation_kind(&body) == kind
        {
            store.lost_answers = (left > 1).then_some((left - 1, kind));
            status = StatusCode::BAD_GATEWAY;
            answer = json!({ "errors": "Bad Gateway" });
        }
    }
    record(&shared, &method, &uri, status);
    deliver_pending(&shared);
    let mut response = (status, axum::Json(answer)).into_response();
    if let Ok(value) = API_VERSION.parse() {
        response
            .headers_mut()
            .insert("X-Shopify-API-Version", value);
    }
    response
}

/// `mutation` or `query`: what a request's document is.
fn operation_kind(body: &[u8]) -> &'static str {
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let document = request["query"].as_str().unwrap_or_default();
    let first = document
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap_or_default();
    if first.starts_with("mutation") {
        "mutation"
    } else {
        "query"
    }
}

fn answer(shared: &Shared, version: &str, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let token = headers
        .get("X-Shopify-Access-Token")
        .and_then(|v| v.to_str().ok());
    if token != Some(ACCESS_TOKEN) {
        return (
            StatusCode::UNAUTHORIZED,
            json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" }),
        );
    }
    if version != API_VERSION {
        return (StatusCode::NOT_FOUND, json!({ "errors": "Not Found" }));
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({ "errors": { "query": "Required parameter missing or invalid" } }),
        );
    };
    let query = request["query"].as_str().unwrap_or_default();
    let variables = request["variables"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut store = shared.lock();
    let (mut out, cost) = run(&mut store, query, &variables, true);
    if let Some(cost) = cost {
        out["extensions"] = json!({ "cost": cost });
    }
    (StatusCode::OK, out)
}

/// Checks, prices and runs one GraphQL request. `charge` is false inside bulk
/// operations, which do not draw on the bucket.
pub fn run(
    store: &mut Store,
    query: &str,
    variables: &Map<String, Value>,
    charge: bool,
) -> (Value, Option<Value>) {
    let document = match graphql_parser::parse_query::<String>(query) {
        Ok(document) => document.into_static(),
        Err(error) => {
            return (
                json!({ "errors": [{ "message": format!("Parse error: {error}"), "extensions": { "code": "parseError" } }] }),
                None,
            );
        }
    };
    let errors = Schema::admin().check(&document, variables);
    if !errors.is_empty() {
        return (json!({ "errors": errors }), None);
    }
    let Some(request) = Request::new(&document, variables) else {
        return (
            json!({ "errors": [{ "message": "No operation given" }] }),
            None,
        );
    };
    let pages = request.oversized_pages();
    if !pages.is_empty() {
        return (
            json!({ "errors": pages.iter().map(|m| json!({ "message": m, "extensions": { "code": "BAD_REQUEST" } })).collect::<Vec<_>>() }),
            None,
        );
    }
    let cost = request.cost();
    let mut status = None;
    if charge {
        store.bucket.refill();
        if cost > MAX_QUERY_COST {
            return (
                json!({ "errors": [{
                    "message": format!("Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"),
                    "extensions": { "code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST },
                }] }),
                Some(store.bucket.status(cost, None)),
            );
        }
        if store.bucket.available < cost as f64 {
            store.throttled += 1;
            return (
                json!({ "errors": [{
                    "message": "Throttled",
                    "extensions": { "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" },
                }] }),
                Some(store.bucket.status(cost, None)),
            );
        }
        store.bucket.available -= cost as f64;
        status = Some(cost);
    }
    let root = request.root_type();
    if charge {
        store.operations.push(operation_name(&request));
    }
    let mut data = Map::new();
    let mut errors = Vec::new();
    for field in request.fields(request.selection, root) {
        let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
        if field.name == "__typename" {
            data.insert(key, json!(root));
            continue;
        }
        let args = request.arguments(field);
        let whole = if request.mutation {
            mutate(store, &field.name, &args)
        } else {
            store.query(&field.name, &args)
        };
        let whole = match whole {
            Ok(whole) => whole,
            Err(message) => {
                errors.push(json!({ "message": message, "path": [key] }));
                data.insert(key, Value::Null);
                continue;
            }
        };
        let returns = Schema::admin()
            .field(root, &field.name)
            .map(|f| base(&f.ty).to_owned())
            .unwrap_or_default();
        let value = if returns.ends_with("Connection") {
            request.connection(&whole, &args, &field.selection_set, &returns)
        } else {
            match &whole {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|item| {
                            if item.is_null() {
                                Value::Null
                            } else {
                                request.project(item, &field.selection_set, &returns)
                            }
                        })
                        .collect(),
                ),
                Value::Null => Value::Null,
                object => request.project(object, &field.selection_set, &returns),
            }
        };
        data.insert(key, value);
    }
    let mut out = json!({ "data": data });
    if !errors.is_empty() {
        out["errors"] = json!(errors);
    }
    // Charged the requested cost up front; what the query did not use goes back.
    let status = status.map(|requested| {
        let actual = request.actual_cost(&out["data"]).min(requested);
        store.bucket.available =
            (store.bucket.available + (requested - actual) as f64).min(BUCKET_SIZE);
        store.bucket.status(requested, Some(actual))
    });
    (out, status)
}

fn operation_name(request: &Request<'_>) -> String {
    let fields: Vec<&str> = request
        .fields(request.selection, request.root_type())
        .into_iter()
        .map(|f| f.name.as_str())
        .collect();
    format!(
        "{} {}",
        if request.mutation {
            "mutation"
        } else {
            "query"
        },
        fields.join(",")
    )
}

fn mutate(store: &mut Store, field: &str, args: &Map<String, Value>) -> Result<Value, String> {
    let arg = |name: &str| args.get(name).cloned().unwrap_or(Value::Null);
    let answer = match field {
        "productSet" => {
            let answer = store.product_set(args.get("identifier"), &arg("input"));
            if let Some(id) = id_of(&answer["product"]["id"]) {
                store.event(
                    "products/update",
                    json!({ "id": id, "admin_graphql_api_id": answer["product"]["id"] }),
                );
            }
            answer
        }
        "productVariantsBulkUpdate" => {
            store.variants_bulk_update(&arg("productId"), &arg("variants"))
        }
        "inventorySetQuantities" => store.set_quantities(&arg("input")),
        "customerSet" => store.customer_set(args.get("identifier"), &arg("input")),
        "metafieldsSet" => store.metafields_set(&arg("metafields")),
        "fulfillmentCreate" => {
            let answer = store.fulfillment_create(&arg("fulfillment"));
            store.order_event_for_fulfillment(&answer);
            answer
        }
        "orderCancel" => {
            let answer = store.order_cancel(args);
            if answer["job"].is_object() {
                store.order_event("orders/cancelled", &arg("orderId"));
                store.order_event("orders/updated", &arg("orderId"));
            }
            answer
        }
        "orderClose" => store.order_close(&arg("input")),
        "tagsAdd" => store.tags_add(&arg("id"), &arg("tags")),
        "stagedUploadsCreate" => bulk::staged_uploads_create(store, &arg("input")),
        "bulkOperationRunMutation" => {
            bulk::run_mutation(store, &arg("mutation"), &arg("stagedUploadPath"))
        }
        other => {
            return Err(format!(
                "the fake does not implement the mutation `{other}`"
            ));
        }
    };
    Ok(answer)
}

/// The staged upload target: a multipart form with the parameters Shopify handed out
/// and the file last, as Google Cloud Storage takes it.
async fn upload(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    mut form: Multipart,
) -> Response {
    let mut key = None;
    let mut file = None;
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        let Ok(bytes) = field.bytes().await else {
            break;
        };
        match name.as_str() {
            "key" => key = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "file" => file = Some(bytes.to_vec()),
            _ => {}
        }
    }
    let status = {
        let mut store = shared.lock();
        match (key, file) {
            (Some(key), Some(file)) if store.uploads.contains_key(&key) => {
                store.uploads.insert(key, file);
                StatusCode::CREATED
            }
            (Some(_), Some(_)) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    };
    record(&shared, &method, &uri, status);
    (status, "<PostResponse></PostResponse>").into_response()
}

async fn result_file(
    State(shared): State<Shared>,
    Path(file): Path<String>,
    method: Method,
    uri: Uri,
) -> Response {
    let id = file.trim_end_matches(".jsonl").parse::<u64>().ok();
    let body = id.and_then(|id| shared.lock().results.get(&id).cloned());
    let status = if body.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    record(&shared, &method, &uri, status);
    match body {
        Some(body) => (status, [("Content-Type", "application/jsonl")], body).into_response(),
        None => (status, "NoSuchKey").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_charged_the_requested_cost_and_given_back_what_was_not_used() {
        let mut store = Store::new();
        let (answer, status) = run(
            &mut store,
            "{ locations(first: 250) { nodes { id name } } }",
            &Map::new(),
            true,
        );
        assert_eq!(
            answer["data"]["locations"]["nodes"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        let status = status.expect("charged");
        // Requested: 2 + 250 locations × 1; actual: 2 + the 2 that came back.
        assert_eq!(status["requestedQueryCost"], 252);
        assert_eq!(status["actualQueryCost"], 4);
        assert_eq!(status["throttleStatus"]["currentlyAvailable"], 1996);
    }
}
