//! The Admin GraphQL session: the access token header, GraphQL and user errors as
//! connector errors, and the cost-based rate limit. Shopify reports the bucket's level
//! with every answer (`extensions.cost.throttleStatus`); the client keeps it, waits
//! before a call when the bucket is low, and when a call is `THROTTLED` anyway waits
//! exactly as long as the bucket needs to refill for it, rather than failing. Each
//! answer also says what its query was charged up front (`requestedQueryCost`); the
//! client remembers that per query, so the next such call waits until it fits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kontor_connector::ConnectorError;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::http::rate_limited;

/// Points kept in hand before a call: most of Kontor's queries cost less.
const RESERVE: f64 = 120.0;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: f64,
    maximum: f64,
    restore_rate: f64,
    seen: Instant,
}

impl Bucket {
    fn now(&self) -> f64 {
        (self.available + self.seen.elapsed().as_secs_f64() * self.restore_rate).min(self.maximum)
    }
}

pub(crate) struct ShopifyClient {
    http: reqwest::Client,
    pub(crate) meter: crate::http::Meter,
    endpoint: String,
    token: String,
    retries: u32,
    max_wait: Duration,
    timeout: Duration,
    bucket: Mutex<Option<Bucket>>,
    /// What each kind of call (by `what`) was last charged up front.
    costs: Mutex<HashMap<String, f64>>,
}

impl ShopifyClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        api_version: &str,
        token: String,
        retries: u32,
        max_wait: Duration,
        timeout: Duration,
    ) -> ShopifyClient {
        ShopifyClient {
            http,
            meter: crate::http::Meter::default(),
            endpoint: format!("{base_url}/admin/api/{api_version}/graphql.json"),
            token,
            retries,
            max_wait,
            timeout,
            bucket: Mutex::new(None),
            costs: Mutex::new(HashMap::new()),
        }
    }

    fn transport(&self, what: &str, error: reqwest::Error) -> ConnectorError {
        if error.is_timeout() {
            ConnectorError::Timeout(self.timeout)
        } else {
            ConnectorError::Unavailable {
                message: format!("{what}: cannot reach the shop"),
                source: Some(Box::new(error)),
            }
        }
    }

    fn bucket(&self) -> Option<Bucket> {
        *self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn expected_cost(&self, what: &str) -> f64 {
        let costs = self
            .costs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        costs.get(what).copied().unwrap_or(0.0)
    }

    fn remember(&self, what: &str, cost: &Value) {
        if let Some(requested) = cost["requestedQueryCost"].as_f64() {
            self.costs
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(what.to_owned(), requested);
        }
        let status = &cost["throttleStatus"];
        let (Some(available), Some(maximum), Some(restore_rate)) = (
            status["currentlyAvailable"].as_f64(),
            status["maximumAvailable"].as_f64(),
            status["restoreRate"].as_f64(),
        ) else {
            return;
        };
        *self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Bucket {
            available,
            maximum,
            restore_rate,
            seen: Instant::now(),
        });
    }

    /// Runs a query or mutation and gives its `data`. `what` names it in errors.
    pub async fn run(
        &self,
        what: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value, ConnectorError> {
        let body = json!({ "query": query, "variables": variables });
        // A 5xx may come after a mutation ran: only queries are repeated in place. A
        // mutation goes back to its job, which looks up what exists before writing
        // again. A 429 or a THROTTLED answer provably ran nothing, so both are repeated.
        let repeatable = !crate::http::is_graphql_mutation(query);
        let mut attempt = 0;
        loop {
            // Pace: let the bucket refill to what this call costs (or the reserve)
            // before spending from it.
            if let Some(bucket) = self.bucket()
                && bucket.restore_rate > 0.0
            {
                let needed = RESERVE.max(self.expected_cost(what)).min(bucket.maximum);
                let short = needed - bucket.now();
                if short > 0.0 {
                    let wait = Duration::from_secs_f64(short / bucket.restore_rate);
                    tracing::debug!(
                        message = "Shopify's bucket is low; pacing.",
                        what,
                        wait_ms = wait.as_millis() as u64
                    );
                    tokio::time::sleep(wait).await;
                }
            }
            let request = self
                .http
                .post(&self.endpoint)
                .header("X-Shopify-Access-Token", &self.token)
                .json(&body);
            let response = self
                .meter
                .send(request)
                .await
                .map_err(|e| self.transport(what, e))?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS || (status.is_server_error() && repeatable) {
                let limited = rate_limited(&response);
                let wait = limited
                    .retry_after()
                    .unwrap_or(Duration::from_secs(1 << attempt.min(5)));
                if attempt < self.retries && wait <= self.max_wait {
                    attempt += 1;
                    tracing::info!(
                        message = "Shopify answered with an error status; waiting.",
                        what,
                        status = status.as_u16(),
                        wait_ms = wait.as_millis() as u64,
                        attempt
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(if status == StatusCode::TOO_MANY_REQUESTS {
                    limited
                } else {
                    ConnectorError::unavailable(format!("{what}: HTTP {status}"))
                });
            }
            if status.is_server_error() {
                return Err(ConnectorError::unavailable(format!(
                    "{what}: HTTP {status}"
                )));
            }
            let text = response.text().await.map_err(|e| self.transport(what, e))?;
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            match status.as_u16() {
                401 | 403 => {
                    return Err(ConnectorError::Unauthorized {
                        message: answer["errors"]
                            .as_str()
                            .map_or_else(|| format!("{what}: HTTP {status}"), str::to_owned),
                    });
                }
                404 => {
                    return Err(ConnectorError::NotFound {
                        what: format!(
                            "the Admin API at {} (is `shop` right, and `api_version` supported?)",
                            self.endpoint
                        ),
                    });
                }
                _ if !status.is_success() => {
                    return Err(ConnectorError::Rejected {
                        code: Some(format!("http_{}", status.as_u16())),
                        message: format!("{what}: {}", answer["errors"]),
                        field: None,
                    });
                }
                _ => {}
            }
            if answer.is_null() {
                return Err(ConnectorError::protocol(format!(
                    "{what}: the answer is not JSON (is `shop` the shop's address?)"
                )));
            }
            let cost = &answer["extensions"]["cost"];
            self.remember(what, cost);
            let errors = answer["errors"].as_array().cloned().unwrap_or_default();
            if errors
                .iter()
                .any(|e| e["extensions"]["code"] == "THROTTLED")
            {
                let requested = cost["requestedQueryCost"].as_f64().unwrap_or(RESERVE);
                let available = cost["throttleStatus"]["currentlyAvailable"]
                    .as_f64()
                    .unwrap_or(0.0);
                let rate = cost["throttleStatus"]["restoreRate"]
                    .as_f64()
                    .unwrap_or(50.0)
                    .max(1.0);
                // A few milliseconds over what the bucket needs, so the retry fits.
                let wait =
                    Duration::from_secs_f64(((requested - available) / rate).max(0.0) + 0.05);
                if attempt < self.retries && wait <= self.max_wait {
                    attempt += 1;
                    tracing::info!(
                        message = "Shopify throttled a call; waiting for the bucket to refill.",
                        what,
                        requested,
                        available,
                        wait_ms = wait.as_millis() as u64,
                        attempt
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(ConnectorError::RateLimited {
                    retry_after: Some(wait),
                });
            }
            if let Some(first) = errors.first() {
                // The request itself is wrong (a field, an argument): Kontor's defect,
                // not the data's, so it reads as a protocol error.
                let messages: Vec<&str> = errors
                    .iter()
                    .filter_map(|e| e["message"].as_str())
                    .collect();
                let code = first["extensions"]["code"].as_str().unwrap_or_default();
                return Err(if code == "MAX_COST_EXCEEDED" || code == "ACCESS_DENIED" {
                    ConnectorError::Rejected {
                        code: Some(code.to_owned()),
                        message: format!("{what}: {}", messages.join("; ")),
                        field: None,
                    }
                } else {
                    ConnectorError::protocol(format!("{what}: {}", messages.join("; ")))
                });
            }
            return Ok(answer["data"].clone());
        }
    }

    /// Posts a file to a staged upload target: its parameters as form fields, then the
    /// file, as Google Cloud Storage takes it. No access token goes along.
    pub async fn upload(
        &self,
        url: &str,
        parameters: &[(String, String)],
        file: Vec<u8>,
    ) -> Result<(), ConnectorError> {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in parameters {
            form = form.text(name.clone(), value.clone());
        }
        let part = reqwest::multipart::Part::bytes(file).file_name("kontor.jsonl");
        form = form.part("file", part);
        let request = self.http.post(url).multipart(form);
        let response = self
            .meter
            .send(request)
            .await
            .map_err(|e| self.transport("staged upload", e))?;
        if response.status().is_success() {
            Ok(())
        } else if response.status().is_server_error() {
            Err(ConnectorError::unavailable(format!(
                "staged upload: HTTP {}",
                response.status()
            )))
        } else {
            Err(ConnectorError::protocol(format!(
                "staged upload refused: HTTP {}",
                response.status()
            )))
        }
    }

    /// Reads a bulk operation's result file (a signed URL; no access token).
    pub async fn download(&self, url: &str) -> Result<String, ConnectorError> {
        let request = self.http.get(url);
        let response = self
            .meter
            .send(request)
            .await
            .map_err(|e| self.transport("bulk result", e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ConnectorError::unavailable(format!(
                "bulk result file: HTTP {status}"
            )));
        }
        response
            .text()
            .await
            .map_err(|e| self.transport("bulk result", e))
    }
}

/// A mutation payload's `userErrors` as a refusal; `Ok` when there are none.
pub(crate) fn user_errors(payload: &Value) -> Result<(), ConnectorError> {
    let errors = payload["userErrors"]
        .as_array()
        .filter(|e| !e.is_empty())
        .or_else(|| {
            payload["orderCancelUserErrors"]
                .as_array()
                .filter(|e| !e.is_empty())
        });
    let Some(first) = errors.and_then(|e| e.first()) else {
        return Ok(());
    };
    let field: Vec<&str> = first["field"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let message = errors
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Err(ConnectorError::Rejected {
        code: first["code"].as_str().map(str::to_owned),
        message,
        field: (!field.is_empty()).then(|| field.join(".")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_keep_shopifys_code_message_and_field() {
        assert!(user_errors(&json!({ "userErrors": [] })).is_ok());
        let refused = user_errors(&json!({ "userErrors": [
            { "field": ["input", "variants", "0", "price"], "message": "Price must be greater than or equal to 0", "code": "INVALID_VARIANT" }
        ]}));
        match refused {
            Err(ConnectorError::Rejected {
                code,
                field,
                message,
            }) => {
                assert_eq!(code.as_deref(), Some("INVALID_VARIANT"));
                assert_eq!(field.as_deref(), Some("input.variants.0.price"));
                assert!(message.contains("Price"));
            }
            other => panic!("{other:?}"),
        }
    }
}
