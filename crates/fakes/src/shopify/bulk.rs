//! Bulk mutations: a JSONL file of variables is staged (`stagedUploadsCreate`, then a
//! multipart POST), `bulkOperationRunMutation` runs one mutation per line in the
//! background, and the operation's `url` then points at a JSONL file of results, one per
//! input line with its `__lineNumber`. One bulk mutation runs at a time per shop.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::routes::run;
use super::store::{Store, gid, user_error};
use super::{Shared, deliver_pending};

/// Mutations Shopify allows in a bulk operation (the ones the fake runs).
const BULK_MUTATIONS: [&str; 5] = [
    "productSet",
    "productVariantsBulkUpdate",
    "customerSet",
    "metafieldsSet",
    "inventorySetQuantities",
];

pub fn staged_uploads_create(store: &mut Store, inputs: &Value) -> Value {
    let mut targets = Vec::new();
    for input in inputs.as_array().into_iter().flatten() {
        let key = format!(
            "tmp/kontor-test/bulk/{}/{}",
            store.next_id(),
            input["filename"].as_str().unwrap_or("upload")
        );
        store.uploads.insert(key.clone(), Vec::new());
        targets.push(json!({
            "url": format!("{}/staged-uploads", store.base_url),
            "resourceUrl": null,
            "parameters": [
                { "name": "Content-Type", "value": input["mimeType"] },
                { "name": "success_action_status", "value": "201" },
                { "name": "acl", "value": "private" },
                { "name": "key", "value": key },
                { "name": "x-goog-algorithm", "value": "GOOG4-RSA-SHA256" },
                { "name": "policy", "value": "eyJjb25kaXRpb25zIjpbXX0=" },
            ],
        }));
    }
    json!({ "stagedTargets": targets, "userErrors": [] })
}

pub fn run_mutation(store: &mut Store, mutation: &Value, path: &Value) -> Value {
    let fail = |message: String, code: &str| json!({ "bulkOperation": null, "userErrors": [user_error(&["mutation"], &message, code)] });
    if let Some(running) = store
        .bulk
        .values()
        .find(|b| b["type"] == "MUTATION" && (b["status"] == "CREATED" || b["status"] == "RUNNING"))
    {
        return fail(
            format!(
                "A bulk mutation operation for this app and shop is already in progress: {}.",
                running["id"].as_str().unwrap_or_default()
            ),
            "OPERATION_IN_PROGRESS",
        );
    }
    let text = mutation.as_str().unwrap_or_default();
    let root = graphql_parser::parse_query::<String>(text)
        .ok()
        .and_then(|document| {
            document.definitions.iter().find_map(|d| match d {
                graphql_parser::query::Definition::Operation(
                    graphql_parser::query::OperationDefinition::Mutation(m),
                ) => m.selection_set.items.iter().find_map(|s| match s {
                    graphql_parser::query::Selection::Field(f) => Some(f.name.clone()),
                    _ => None,
                }),
                _ => None,
            })
        });
    match root {
        Some(root) if BULK_MUTATIONS.contains(&root.as_str()) => {}
        Some(root) => {
            return fail(
                format!("Bulk mutations are not supported for `{root}`"),
                "INVALID_MUTATION",
            );
        }
        None => {
            return fail(
                "Invalid mutation: not a mutation document".into(),
                "INVALID_MUTATION",
            );
        }
    }
    let key = path.as_str().unwrap_or_default();
    if store.uploads.get(key).is_none_or(Vec::is_empty) {
        return json!({ "bulkOperation": null, "userErrors": [
            user_error(&["stagedUploadPath"], "The JSONL file could not be found. Try uploading the file again, and check that you've entered the URL correctly for the stagedUploadPath mutation argument.", "NO_SUCH_FILE")
        ]});
    }
    let id = store.next_id();
    let operation = json!({
        "__typename": "BulkOperation", "id": gid("BulkOperation", id), "type": "MUTATION",
        "status": "CREATED", "createdAt": store.now(), "completedAt": null, "errorCode": null,
        "objectCount": "0", "rootObjectCount": "0", "fileSize": null, "url": null,
        "partialDataUrl": null, "query": text, "_path": key,
    });
    store.bulk.insert(id, operation.clone());
    store.pending_bulk.push(id);
    json!({ "bulkOperation": operation, "userErrors": [] })
}

/// Runs the bulk operations started by the last request, in the background.
pub fn start_pending(shared: &Shared) {
    let pending = std::mem::take(&mut shared.lock().pending_bulk);
    for id in pending {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            execute(&shared, id);
            deliver_pending(&shared);
        });
    }
}

fn execute(shared: &Shared, id: u64) {
    let mut store = shared.lock();
    let Some(operation) = store.bulk.get_mut(&id) else {
        return;
    };
    operation["status"] = json!("RUNNING");
    let query = operation["query"].as_str().unwrap_or_default().to_owned();
    let key = operation["_path"].as_str().unwrap_or_default().to_owned();
    let file = store.uploads.get(&key).cloned().unwrap_or_default();
    let mut out = String::new();
    let mut count = 0u64;
    let mut failed = false;
    for (line_number, line) in String::from_utf8_lossy(&file).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let variables: Map<String, Value> = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            _ => {
                failed = true;
                break;
            }
        };
        let (mut answer, _) = run(&mut store, &query, &variables, false);
        answer["__lineNumber"] = json!(line_number);
        if let Some(map) = answer.as_object_mut() {
            map.remove("extensions");
        }
        out.push_str(&answer.to_string());
        out.push('\n');
        count += 1;
    }
    let base = store.base_url.clone();
    let size = out.len();
    store.results.insert(id, out);
    if let Some(operation) = store.bulk.get_mut(&id) {
        if failed {
            operation["status"] = json!("FAILED");
            operation["errorCode"] = json!("INTERNAL_SERVER_ERROR");
        } else {
            operation["status"] = json!("COMPLETED");
            operation["url"] = json!(format!("{base}/bulk-results/{id}.jsonl"));
            operation["fileSize"] = json!(size.to_string());
        }
        operation["objectCount"] = json!(count.to_string());
        operation["rootObjectCount"] = json!(count.to_string());
        let at = store.now();
        if let Some(operation) = store.bulk.get_mut(&id) {
            operation["completedAt"] = json!(at);
        }
    }
}
