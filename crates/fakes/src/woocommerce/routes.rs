//! The `/wp-json/wc/v3` routes, with WooCommerce's authentication, pagination, batch
//! limits and error bodies.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use super::store::{Store, WcError, gmt, now, parse_date};
use super::{CONSUMER_KEY, CONSUMER_SECRET, Shared};
use crate::Call;

type Params = Query<HashMap<String, String>>;

/// Most items one `/batch` request may carry (`woocommerce_rest_batch_items_limit`).
const BATCH_LIMIT: usize = 100;

pub(crate) fn router(shared: Shared) -> Router {
    let api = Router::new()
        .route("/settings/{group}/{id}", get(setting))
        .route("/taxes", get(taxes))
        .route("/products", get(list_products).post(create_product))
        .route("/products/batch", post(batch_products))
        .route(
            "/products/categories",
            get(list_categories).post(create_category),
        )
        .route(
            "/products/{id}",
            get(get_product)
                .put(update_product)
                .post(update_product)
                .delete(delete_product),
        )
        .route(
            "/products/{id}/variations",
            get(list_variations).post(create_variation),
        )
        .route("/products/{id}/variations/batch", post(batch_variations))
        .route(
            "/products/{id}/variations/{variation}",
            get(get_variation)
                .put(update_variation)
                .post(update_variation),
        )
        .route("/customers", get(list_customers).post(create_customer))
        .route(
            "/customers/{id}",
            get(get_customer).put(update_customer).post(update_customer),
        )
        .route("/orders", get(list_orders))
        .route(
            "/orders/{id}",
            get(get_order).put(update_order).post(update_order),
        )
        .route("/orders/{id}/notes", get(list_notes).post(create_note))
        .route("/orders/{id}/refunds", get(list_refunds))
        .route("/webhooks", post(create_webhook));
    Router::new()
        .nest("/wp-json/wc/v3", api)
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

impl IntoResponse for WcError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.json())).into_response()
    }
}

type Answer = Result<Response, WcError>;

fn ok(value: Value) -> Answer {
    Ok(axum::Json(value).into_response())
}

fn created(value: Value) -> Answer {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

fn body_json(body: &Bytes) -> Result<Value, WcError> {
    serde_json::from_slice(body)
        .map_err(|_| WcError::new(400, "rest_invalid_json", "Invalid JSON body passed."))
}

/// Throttling (when told to), authentication, and a record of every call.
async fn guard(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_owned(), |pq| pq.to_string());
    let throttled = {
        let mut store = shared.lock();
        match store.throttle {
            Some((left, secs)) if left > 0 => {
                store.throttle = (left > 1).then_some((left - 1, secs));
                Some(secs)
            }
            _ => None,
        }
    };
    let response = match throttled {
        Some(secs) => {
            let mut response =
                WcError::new(429, "too_many_requests", "Too Many Requests").into_response();
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        None => match authenticate(request.headers(), request.uri().query()) {
            Ok(()) => {
                let write = request.method() != axum::http::Method::GET;
                let response = next.run(request).await;
                let mut store = shared.lock();
                if write && store.lost_answers > 0 {
                    store.lost_answers -= 1;
                    WcError::new(503, "service_unavailable", "Service Unavailable").into_response()
                } else {
                    response
                }
            }
            Err(error) => error.into_response(),
        },
    };
    shared.lock().calls.push(Call {
        method,
        target,
        status: response.status().as_u16(),
    });
    response
}

/// Over HTTPS WooCommerce takes the key and secret as HTTP Basic credentials or as the
/// `consumer_key`/`consumer_secret` query parameters.
fn authenticate(headers: &HeaderMap, query: Option<&str>) -> Result<(), WcError> {
    let from_basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.split_once(':').map(|(k, s)| (k.to_owned(), s.to_owned())));
    let from_query = query.and_then(|q| {
        let params: HashMap<String, String> = serde_urlencoded(q);
        Some((
            params.get("consumer_key")?.clone(),
            params.get("consumer_secret")?.clone(),
        ))
    });
    match from_basic.or(from_query) {
        None => Err(WcError::new(
            401,
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        )),
        Some((key, _)) if key != CONSUMER_KEY => Err(WcError::new(
            401,
            "woocommerce_rest_authentication_error",
            "Consumer key is invalid.",
        )),
        Some((_, secret)) if secret != CONSUMER_SECRET => Err(WcError::new(
            401,
            "woocommerce_rest_authentication_error",
            "Consumer secret is invalid.",
        )),
        Some(_) => Ok(()),
    }
}

fn serde_urlencoded(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&value[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One page of `items`, with WordPress' paging headers.
fn paged(items: Vec<Value>, params: &HashMap<String, String>, path: &str, site: &str) -> Answer {
    let per_page = match params.get("per_page").map(|p| p.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        _ => {
            return Err(WcError::new(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page (per_page must be between 1 (inclusive) and 100 (inclusive))",
            ));
        }
    };
    let page = match params.get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        _ => {
            return Err(WcError::new(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): page (page must be greater than or equal to 1)",
            ));
        }
    };
    let total = items.len();
    let pages = total.div_ceil(per_page);
    let page_items: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut response = axum::Json(json!(page_items)).into_response();
    let headers = response.headers_mut();
    let mut links = Vec::new();
    let link = |n: usize, rel: &str| {
        format!("<{site}/wp-json/wc/v3{path}?page={n}&per_page={per_page}>; rel=\"{rel}\"")
    };
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < pages {
        links.push(link(page + 1, "next"));
    }
    for (name, value) in [
        ("x-wp-total", total.to_string()),
        ("x-wp-totalpages", pages.to_string()),
        ("link", links.join(", ")),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

fn id_of(raw: &str) -> Result<u64, WcError> {
    raw.parse().map_err(|_| {
        WcError::new(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        )
    })
}

fn csv_ids(value: Option<&String>) -> Option<Vec<u64>> {
    value.map(|v| {
        v.split(',')
            .filter_map(|id| id.trim().parse().ok())
            .collect()
    })
}

// ---- settings and taxes ----

async fn setting(
    State(shared): State<Shared>,
    Path((group, id)): Path<(String, String)>,
) -> Answer {
    let store = shared.lock();
    let value = match (group.as_str(), id.as_str()) {
        ("general", "woocommerce_currency") => store.currency.clone(),
        ("tax", "woocommerce_prices_include_tax") => if store.prices_include_tax {
            "yes"
        } else {
            "no"
        }
        .to_owned(),
        _ => {
            return Err(WcError::new(
                404,
                "rest_setting_setting_invalid",
                "Invalid setting.",
            ));
        }
    };
    ok(json!({"id": id, "group_id": group, "value": value}))
}

async fn taxes(State(shared): State<Shared>, Query(params): Params) -> Answer {
    let store = shared.lock();
    let items = store
        .taxes
        .iter()
        .map(|(id, class, rate)| {
            json!({"id": id, "country": "PL", "rate": format!("{:.4}", rate),
                   "name": format!("VAT {rate}%"), "priority": 1, "compound": false,
                   "shipping": true, "class": class})
        })
        .collect();
    paged(items, &params, "/taxes", &store.site_url)
}

// ---- products ----

async fn list_products(State(shared): State<Shared>, Query(params): Params) -> Answer {
    let store = shared.lock();
    let include = csv_ids(params.get("include"));
    // Searching by SKU goes through the SKU index and includes variations; a plain
    // list does not.
    let mut ids: Vec<u64> = match params.get("sku") {
        Some(skus) => {
            let mut ids: Vec<u64> = skus
                .split(',')
                .filter_map(|sku| store.find_sku(sku))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        }
        None => store
            .products
            .iter()
            .filter(|(_, p)| p["type"] != "variation")
            .map(|(id, _)| *id)
            .collect(),
    };
    ids.retain(|id| include.as_ref().is_none_or(|ids| ids.contains(id)));
    ids.retain(|id| {
        params.get("type").is_none_or(|t| {
            store
                .products
                .get(id)
                .is_some_and(|p| p["type"] == t.as_str())
        })
    });
    // Newest first, as `orderby=date&order=desc` (the default).
    if params.get("order").map(String::as_str) != Some("asc") {
        ids.reverse();
    }
    let items = ids.into_iter().map(|id| store.product_json(id)).collect();
    paged(items, &params, "/products", &store.site_url)
}

async fn create_product(State(shared): State<Shared>, body: Bytes) -> Answer {
    let input = body_json(&body)?;
    created(shared.lock().create_product(&input, None)?)
}

async fn get_product(State(shared): State<Shared>, Path(id): Path<String>) -> Answer {
    let store = shared.lock();
    let id = id_of(&id)?;
    match store.products.get(&id) {
        Some(_) => ok(store.product_json(id)),
        None => Err(WcError::new(
            404,
            "woocommerce_rest_product_invalid_id",
            "Invalid ID.",
        )),
    }
}

async fn update_product(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let input = body_json(&body)?;
    ok(shared.lock().update_product(id_of(&id)?, &input, None)?)
}

async fn delete_product(State(shared): State<Shared>, Path(id): Path<String>) -> Answer {
    ok(shared.lock().delete_product(id_of(&id)?)?)
}

/// `create`, `update` and `delete` lists answered item by item, as
/// `WC_REST_Controller::batch_items` does.
fn batch(store: &mut Store, input: &Value, parent: Option<u64>) -> Answer {
    let list = |key: &str| input[key].as_array().cloned().unwrap_or_default();
    let (create, update, delete) = (list("create"), list("update"), list("delete"));
    if create.len() + update.len() + delete.len() > BATCH_LIMIT {
        return Err(WcError::new(
            413,
            "woocommerce_rest_request_entity_too_large",
            format!("Unable to accept more than {BATCH_LIMIT} items for this request."),
        ));
    }
    let item_error = |id: u64, e: WcError| json!({"id": id, "error": {"code": e.code, "message": e.message, "data": {"status": e.status}}});
    let mut answer = json!({});
    if !create.is_empty() {
        answer["create"] = json!(
            create
                .iter()
                .map(|item| store
                    .create_product(item, parent)
                    .unwrap_or_else(|e| item_error(0, e)))
                .collect::<Vec<_>>()
        );
    }
    if !update.is_empty() {
        answer["update"] = json!(
            update
                .iter()
                .map(|item| {
                    let id = item["id"].as_u64().unwrap_or_default();
                    store
                        .update_product(id, item, parent)
                        .unwrap_or_else(|e| item_error(id, e))
                })
                .collect::<Vec<_>>()
        );
    }
    if !delete.is_empty() {
        answer["delete"] = json!(
            delete
                .iter()
                .map(|id| {
                    let id = id.as_u64().unwrap_or_default();
                    store
                        .delete_product(id)
                        .unwrap_or_else(|e| item_error(id, e))
                })
                .collect::<Vec<_>>()
        );
    }
    ok(answer)
}

async fn batch_products(State(shared): State<Shared>, body: Bytes) -> Answer {
    let input = body_json(&body)?;
    batch(&mut shared.lock(), &input, None)
}

async fn batch_variations(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let input = body_json(&body)?;
    let parent = id_of(&id)?;
    let mut store = shared.lock();
    if store
        .products
        .get(&parent)
        .is_none_or(|p| p["type"] != "variable")
    {
        return Err(WcError::new(
            404,
            "woocommerce_rest_product_invalid_id",
            "Invalid ID.",
        ));
    }
    batch(&mut store, &input, Some(parent))
}

async fn list_variations(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let parent = id_of(&id)?;
    let store = shared.lock();
    let skus: Option<Vec<&str>> = params.get("sku").map(|s| s.split(',').collect());
    let items = store
        .products
        .iter()
        .filter(|(_, p)| p["parent_id"].as_u64() == Some(parent) && p["type"] == "variation")
        .filter(|(_, p)| {
            skus.as_ref()
                .is_none_or(|skus| skus.contains(&p["sku"].as_str().unwrap_or("\u{0}")))
        })
        .map(|(id, _)| store.product_json(*id))
        .collect();
    paged(
        items,
        &params,
        &format!("/products/{parent}/variations"),
        &store.site_url,
    )
}

async fn create_variation(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let input = body_json(&body)?;
    created(shared.lock().create_product(&input, Some(id_of(&id)?))?)
}

async fn get_variation(
    State(shared): State<Shared>,
    Path((id, variation)): Path<(String, String)>,
) -> Answer {
    let (parent, id) = (id_of(&id)?, id_of(&variation)?);
    let store = shared.lock();
    match store.products.get(&id) {
        Some(p) if p["parent_id"].as_u64() == Some(parent) => ok(store.product_json(id)),
        _ => Err(WcError::new(
            404,
            "woocommerce_rest_product_variation_invalid_id",
            "Invalid ID.",
        )),
    }
}

async fn update_variation(
    State(shared): State<Shared>,
    Path((id, variation)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let input = body_json(&body)?;
    ok(shared
        .lock()
        .update_product(id_of(&variation)?, &input, Some(id_of(&id)?))?)
}

// ---- categories ----

async fn list_categories(State(shared): State<Shared>, Query(params): Params) -> Answer {
    let store = shared.lock();
    let items = store
        .categories
        .values()
        .filter(|c| {
            params.get("search").is_none_or(|s| {
                c["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(&s.to_lowercase())
            })
        })
        .filter(|c| {
            params
                .get("parent")
                .is_none_or(|p| p.parse::<u64>().ok() == c["parent"].as_u64())
        })
        .cloned()
        .collect();
    paged(items, &params, "/products/categories", &store.site_url)
}

async fn create_category(State(shared): State<Shared>, body: Bytes) -> Answer {
    let input = body_json(&body)?;
    let mut store = shared.lock();
    let name = input["name"].as_str().unwrap_or_default().to_owned();
    if name.is_empty() {
        return Err(WcError::new(
            400,
            "rest_missing_callback_param",
            "Missing parameter(s): name",
        ));
    }
    let parent = input["parent"].as_u64().unwrap_or(0);
    if store
        .categories
        .values()
        .any(|c| c["name"] == name.as_str() && c["parent"] == parent)
    {
        return Err(WcError::new(
            400,
            "term_exists",
            "A term with the name provided already exists with this parent.",
        ));
    }
    let id = store.next_id();
    let category = json!({"id": id, "name": name, "slug": super::store::slug(&name), "parent": parent, "count": 0});
    store.categories.insert(id, category.clone());
    created(category)
}

// ---- customers ----

fn customer_fields(customer: &mut Value, input: &Value) {
    for key in ["email", "first_name", "last_name", "username"] {
        if let Some(v) = input.get(key).filter(|v| v.is_string()) {
            customer[key] = v.clone();
        }
    }
    for key in ["billing", "shipping"] {
        if let Some(fields) = input.get(key).and_then(Value::as_object) {
            for (k, v) in fields {
                customer[key][k] = v.clone();
            }
        }
    }
    if let Some(meta) = input.get("meta_data").and_then(Value::as_array) {
        let mut existing: Vec<Value> = customer["meta_data"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for item in meta {
            match existing.iter_mut().find(|m| m["key"] == item["key"]) {
                Some(m) => m["value"] = item["value"].clone(),
                None => existing.push(
                    json!({"id": existing.len() + 1, "key": item["key"], "value": item["value"]}),
                ),
            }
        }
        customer["meta_data"] = json!(existing);
    }
    customer["date_modified_gmt"] = json!(gmt(now()));
}

async fn list_customers(State(shared): State<Shared>, Query(params): Params) -> Answer {
    let store = shared.lock();
    let items = store
        .customers
        .values()
        .filter(|c| {
            params
                .get("email")
                .is_none_or(|e| c["email"].as_str() == Some(e.as_str()))
        })
        .cloned()
        .collect();
    paged(items, &params, "/customers", &store.site_url)
}

async fn create_customer(State(shared): State<Shared>, body: Bytes) -> Answer {
    let input = body_json(&body)?;
    let mut store = shared.lock();
    let email = input["email"].as_str().unwrap_or_default().to_owned();
    if !email.contains('@') {
        return Err(WcError::new(
            400,
            "registration-error-invalid-email",
            "Please provide a valid email address.",
        ));
    }
    if store
        .customers
        .values()
        .any(|c| c["email"] == email.as_str())
    {
        return Err(WcError::new(
            400,
            "registration-error-email-exists",
            "An account is already registered with your email address. Please log in.",
        ));
    }
    let id = store.next_id();
    let empty = json!({"first_name": "", "last_name": "", "company": "", "address_1": "",
        "address_2": "", "city": "", "state": "", "postcode": "", "country": "", "phone": ""});
    let mut customer = json!({
        "id": id, "date_created_gmt": gmt(now()), "email": email, "first_name": "", "last_name": "",
        "role": "customer", "username": email.split('@').next().unwrap_or_default(),
        "billing": empty, "shipping": empty, "is_paying_customer": false, "meta_data": [],
    });
    customer_fields(&mut customer, &input);
    store.customers.insert(id, customer.clone());
    created(customer)
}

async fn get_customer(State(shared): State<Shared>, Path(id): Path<String>) -> Answer {
    let store = shared.lock();
    store
        .customers
        .get(&id_of(&id)?)
        .cloned()
        .map(axum::Json)
        .map(IntoResponse::into_response)
        .ok_or_else(|| WcError::new(404, "woocommerce_rest_invalid_id", "Invalid resource ID."))
}

async fn update_customer(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let input = body_json(&body)?;
    let id = id_of(&id)?;
    let mut store = shared.lock();
    if let Some(email) = input["email"].as_str()
        && store
            .customers
            .iter()
            .any(|(other, c)| *other != id && c["email"] == email)
    {
        return Err(WcError::new(
            400,
            "woocommerce_rest_customer_invalid_email",
            "Email address is invalid.",
        ));
    }
    let customer = store
        .customers
        .get_mut(&id)
        .ok_or_else(|| WcError::new(404, "woocommerce_rest_invalid_id", "Invalid resource ID."))?;
    customer_fields(customer, &input);
    ok(customer.clone())
}

// ---- orders ----

async fn list_orders(State(shared): State<Shared>, Query(params): Params) -> Answer {
    let store = shared.lock();
    let is_gmt = params.get("dates_are_gmt").map(String::as_str) == Some("true");
    let bound = |key: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, WcError> {
        match params.get(key) {
            None => Ok(None),
            Some(v) => parse_date(v, is_gmt).map(Some).ok_or_else(|| {
                WcError::new(
                    400,
                    "rest_invalid_param",
                    format!("Invalid parameter(s): {key}"),
                )
            }),
        }
    };
    let (after, before) = (bound("modified_after")?, bound("modified_before")?);
    let statuses: Option<Vec<&str>> = params
        .get("status")
        .filter(|s| s.as_str() != "any")
        .map(|s| s.split(',').collect());
    let orderby = params.get("orderby").map_or("date", String::as_str);
    if !["date", "id", "include", "title", "slug", "modified"].contains(&orderby) {
        return Err(WcError::new(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): orderby",
        ));
    }
    let modified = |o: &Value| {
        o["date_modified_gmt"]
            .as_str()
            .and_then(|s| parse_date(s, true))
    };
    let mut items: Vec<&Value> = store
        .orders
        .values()
        .filter(|o| o["status"] != "trash")
        .filter(|o| {
            statuses
                .as_ref()
                .is_none_or(|s| s.contains(&o["status"].as_str().unwrap_or_default()))
        })
        // WordPress' date query: `after` and `before` are exclusive.
        .filter(|o| after.is_none_or(|a| modified(o).is_some_and(|m| m > a)))
        .filter(|o| before.is_none_or(|b| modified(o).is_some_and(|m| m < b)))
        .collect();
    let key = |o: &Value| -> (String, u64) {
        let id = o["id"].as_u64().unwrap_or_default();
        match orderby {
            "modified" => (
                o["date_modified_gmt"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                id,
            ),
            "id" => (String::new(), id),
            _ => (
                o["date_created_gmt"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                id,
            ),
        }
    };
    items.sort_by_key(|o| key(o));
    if params.get("order").map_or("desc", String::as_str) == "desc" {
        items.reverse();
    }
    let items = items
        .into_iter()
        .filter_map(|o| o["id"].as_u64())
        .filter_map(|id| store.order_json(id))
        .collect();
    paged(items, &params, "/orders", &store.site_url)
}

fn order_or_404(store: &Store, id: &str) -> Answer {
    id_of(id)
        .ok()
        .and_then(|id| store.order_json(id))
        .map(|o| axum::Json(o).into_response())
        .ok_or_else(|| WcError::new(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."))
}

async fn get_order(State(shared): State<Shared>, Path(id): Path<String>) -> Answer {
    order_or_404(&shared.lock(), &id)
}

async fn update_order(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> Answer {
    let input = body_json(&body)?;
    let (order, deliveries) = {
        let mut store = shared.lock();
        let order = store.update_order(id_of(&id)?, &input)?;
        let deliveries = store.webhooks_for("order.updated", &order);
        (order, deliveries)
    };
    super::deliver(&shared, deliveries);
    ok(order)
}

async fn list_notes(State(shared): State<Shared>, Path(id): Path<String>) -> Answer {
    let store = shared.lock();
    let id = id_of(&id)?;
    if !store.orders.contains_key(&id) {
        return Err(WcError::new(
            404,
            "woocommerce_rest_order_invalid_id",
            "Invalid order ID.",
        ));
    }
    // Newest first, as WooCommerce lists them.
    let mut notes = store.notes.get(&id).cloned().unwrap_or_default();
    notes.reverse();
    ok(json!(notes))
}

async fn create_note(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> Answer {
    let input = body_json(&body)?;
    let note = input["note"].as_str().unwrap_or_default();
    if note.is_empty() {
        return Err(WcError::new(
            400,
            "rest_missing_callback_param",
            "Missing parameter(s): note",
        ));
    }
    let customer_note = input["customer_note"].as_bool().unwrap_or(false);
    shared
        .lock()
        .add_note(id_of(&id)?, note, customer_note)
        .map_or_else(
            || {
                Err(WcError::new(
                    404,
                    "woocommerce_rest_order_invalid_id",
                    "Invalid order ID.",
                ))
            },
            created,
        )
}

async fn list_refunds(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let store = shared.lock();
    let order = id_of(&id)?;
    if !store.orders.contains_key(&order) {
        return Err(WcError::new(
            404,
            "woocommerce_rest_order_invalid_id",
            "Invalid order ID.",
        ));
    }
    let mut items: Vec<Value> = store
        .refunds
        .iter()
        .filter(|(_, r)| r["parent_id"].as_u64() == Some(order))
        .map(|(id, _)| store.refund_json(*id))
        .collect();
    items.reverse();
    paged(
        items,
        &params,
        &format!("/orders/{order}/refunds"),
        &store.site_url,
    )
}

async fn create_webhook(State(shared): State<Shared>, body: Bytes) -> Answer {
    let input = body_json(&body)?;
    let (Some(topic), Some(url)) = (input["topic"].as_str(), input["delivery_url"].as_str()) else {
        return Err(WcError::new(
            400,
            "rest_missing_callback_param",
            "Missing parameter(s): topic, delivery_url",
        ));
    };
    let secret = input["secret"].as_str().unwrap_or_default();
    let id = shared.lock().add_webhook(topic, url, secret);
    created(
        json!({"id": id, "topic": topic, "delivery_url": url, "status": "active",
                   "date_created_gmt": gmt(now())}),
    )
}
