//! The REST session: consumer key and secret as HTTP Basic credentials over HTTPS,
//! WordPress' paging headers, WooCommerce's error bodies, and patience with rate
//! limiters in front of the store (WooCommerce itself has none, its hosts do).

use std::time::Duration;

use kontor_connector::ConnectorError;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::http::rate_limited;

pub(crate) struct WooClient {
    http: reqwest::Client,
    pub(crate) meter: crate::http::Meter,
    base: String,
    key: String,
    secret: String,
    retries: u32,
    max_wait: Duration,
    timeout: Duration,
}

/// A list's page and how many pages there are (`X-WP-TotalPages`).
pub(crate) struct Page {
    pub items: Vec<Value>,
    pub total_pages: usize,
}

impl WooClient {
    pub fn new(
        http: reqwest::Client,
        url: &str,
        key: String,
        secret: String,
        retries: u32,
        max_wait: Duration,
        timeout: Duration,
    ) -> WooClient {
        WooClient {
            http,
            meter: crate::http::Meter::default(),
            base: format!("{}/wp-json/wc/v3", url.trim_end_matches('/')),
            key,
            secret,
            retries,
            max_wait,
            timeout,
        }
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ConnectorError> {
        Ok(self.send(Method::GET, path, query, None).await?.0)
    }

    pub async fn page(&self, path: &str, query: &[(&str, String)]) -> Result<Page, ConnectorError> {
        let (body, total_pages) = self.send(Method::GET, path, query, None).await?;
        let items = match body {
            Value::Array(items) => items,
            other => {
                return Err(ConnectorError::protocol(format!(
                    "{path}: expected a list, got {other}"
                )));
            }
        };
        Ok(Page {
            items,
            total_pages: total_pages.unwrap_or(1),
        })
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ConnectorError> {
        Ok(self.send(Method::POST, path, &[], Some(body)).await?.0)
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, ConnectorError> {
        Ok(self.send(Method::PUT, path, &[], Some(body)).await?.0)
    }

    fn transport(&self, path: &str, error: reqwest::Error) -> ConnectorError {
        if error.is_timeout() {
            ConnectorError::Timeout(self.timeout)
        } else {
            ConnectorError::Unavailable {
                message: format!("{path}: cannot reach the store"),
                source: Some(Box::new(error)),
            }
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(Value, Option<usize>), ConnectorError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .basic_auth(&self.key, Some(&self.secret))
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = self
                .meter
                .send(request)
                .await
                .map_err(|e| self.transport(path, e))?;
            let status = response.status();
            // A 429 provably did nothing: wait and send again. A 503 may come after a
            // write was made, so only a read is repeated in place; a write goes back to
            // its job, which looks up what exists before writing again.
            let repeatable = method == Method::GET;
            if status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && repeatable)
            {
                let limited = rate_limited(&response);
                let wait = limited
                    .retry_after()
                    .unwrap_or(Duration::from_secs(1 << attempt.min(5)));
                if attempt < self.retries && wait <= self.max_wait {
                    attempt += 1;
                    tracing::info!(
                        message = "WooCommerce asked to slow down; waiting.",
                        path,
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
                    ConnectorError::unavailable(format!("{path}: 503 Service Unavailable"))
                });
            }
            let total_pages = response
                .headers()
                .get("x-wp-totalpages")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let text = response.text().await.map_err(|e| self.transport(path, e))?;
            let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status.is_success() {
                if json.is_null() && !text.trim().is_empty() {
                    return Err(ConnectorError::protocol(format!(
                        "{path}: the answer is not JSON (is `url` the WordPress site?)"
                    )));
                }
                return Ok((json, total_pages));
            }
            return Err(refusal(path, status, &json));
        }
    }
}

/// WooCommerce's `{code, message, data: {status, params}}` as a connector error.
pub(crate) fn refusal(path: &str, status: StatusCode, body: &Value) -> ConnectorError {
    let code = body["code"].as_str().map(str::to_owned);
    let message = body["message"]
        .as_str()
        .map_or_else(|| format!("{path}: HTTP {status}"), str::to_owned);
    match status.as_u16() {
        401 | 403 => ConnectorError::Unauthorized { message },
        404 => ConnectorError::NotFound {
            what: format!("{path} ({message})"),
        },
        500..=599 => ConnectorError::unavailable(format!("{path}: {message}")),
        _ => ConnectorError::Rejected {
            field: field_in(&message),
            code,
            message,
        },
    }
}

/// The parameter WordPress names in `Invalid parameter(s): name (…)`.
fn field_in(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Invalid parameter(s): ")?;
    Some(rest.split([' ', ',']).next()?.to_owned())
}

/// An item of a `/batch` answer: the object, or its `{id, error}`.
pub(crate) fn batch_item(item: &Value) -> Result<&Value, ConnectorError> {
    match item.get("error") {
        Some(error) => {
            let status = error["data"]["status"]
                .as_u64()
                .and_then(|s| StatusCode::from_u16(s as u16).ok())
                .unwrap_or(StatusCode::BAD_REQUEST);
            Err(refusal("batch item", status, error))
        }
        None => Ok(item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_keep_woocommerces_code_message_and_field() {
        let error = refusal(
            "/products",
            StatusCode::BAD_REQUEST,
            &json!({"code": "rest_invalid_param", "message": "Invalid parameter(s): regular_price (regular_price is not of type string.)", "data": {"status": 400}}),
        );
        match error {
            ConnectorError::Rejected { code, field, .. } => {
                assert_eq!(code.as_deref(), Some("rest_invalid_param"));
                assert_eq!(field.as_deref(), Some("regular_price"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            refusal(
                "/x",
                StatusCode::UNAUTHORIZED,
                &json!({"message": "Consumer key is invalid."})
            ),
            ConnectorError::Unauthorized { .. }
        ));
        let item = json!({"id": 0, "error": {"code": "product_invalid_sku", "message": "Invalid or duplicated SKU.", "data": {"status": 400}}});
        assert!(matches!(
            batch_item(&item),
            Err(ConnectorError::Rejected { .. })
        ));
    }
}
