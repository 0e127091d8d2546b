//! A session with Vendure's Admin GraphQL API: log in once, keep the token Vendure hands
//! out in the `vendure-auth-token` header, log in again when it stops being accepted;
//! every failure classified.
//!
//! Vendure answers most failures with HTTP 200: GraphQL `errors` (with an
//! `extensions.code`), or a result union member carrying an `errorCode`. Both are checked.

use std::time::Duration;

use kontor_connector::ConnectorError;
use serde_json::{Value, json};
use tokio::sync::Mutex;

pub(crate) struct VendureClient {
    http: reqwest::Client,
    pub(crate) meter: crate::http::Meter,
    url: String,
    username: String,
    password: String,
    channel_token: Option<String>,
    token: Mutex<Option<String>>,
}

/// A reply that is not data.
enum Failure {
    /// The token is no longer accepted: log in again.
    Forbidden(String),
    Error(ConnectorError),
}

const LOGIN: &str = "mutation($username: String!, $password: String!) {
  login(username: $username, password: $password) {
    ... on CurrentUser { id }
    ... on ErrorResult { errorCode message }
  }
}";

impl VendureClient {
    pub(crate) fn new(
        url: &str,
        username: &str,
        password: String,
        channel_token: Option<String>,
        timeout: Duration,
    ) -> Result<Self, ConnectorError> {
        let http = crate::http::client(timeout)?;
        Ok(VendureClient {
            http,
            meter: crate::http::Meter::default(),
            url: url.to_owned(),
            username: username.to_owned(),
            password,
            channel_token,
            token: Mutex::new(None),
        })
    }

    /// Runs a query or mutation and returns its `data`. A result that is an error union
    /// member (it has an `errorCode`) becomes [`ConnectorError::Rejected`].
    pub(crate) async fn run(&self, query: &str, variables: Value) -> Result<Value, ConnectorError> {
        let token = self.token().await?;
        match self.exchange(query, &variables, Some(&token)).await {
            Ok(data) => Ok(data),
            Err(Failure::Forbidden(_)) => {
                // The session expired or was revoked: one fresh login, then the verdict stands.
                *self.token.lock().await = None;
                let token = self.token().await?;
                self.exchange(query, &variables, Some(&token))
                    .await
                    .map_err(|failure| match failure {
                        Failure::Forbidden(message) => ConnectorError::Unauthorized {
                            message: format!("Vendure refused `{}`: {message}", self.username),
                        },
                        Failure::Error(e) => e,
                    })
            }
            Err(Failure::Error(e)) => Err(e),
        }
    }

    /// Uploads one file with a mutation whose `$file: Upload!` variable takes it, as the
    /// GraphQL multipart request spec says (Vendure's `createAssets`).
    pub(crate) async fn upload(
        &self,
        query: &str,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, ConnectorError> {
        let token = self.token().await?;
        let operations = json!({"query": query, "variables": {"file": null}}).to_string();
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(content_type)
            .map_err(|e| ConnectorError::Rejected {
                code: Some("bad_content_type".into()),
                message: format!("`{content_type}` is not a content type: {e}"),
                field: Some("images".into()),
            })?;
        let form = reqwest::multipart::Form::new()
            .text("operations", operations)
            .text("map", r#"{"0": ["variables.file"]}"#)
            .part("0", part);
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            // Apollo's CSRF guard refuses multipart requests without it.
            .header("apollo-require-preflight", "true")
            .multipart(form);
        if let Some(channel) = &self.channel_token {
            request = request.header("vendure-token", channel);
        }
        let response = self
            .meter
            .send(request)
            .await
            .map_err(|e| ConnectorError::Unavailable {
                message: format!("Vendure at {} did not take the upload", self.url),
                source: Some(Box::new(e)),
            })?;
        let body: Value = response
            .json()
            .await
            .map_err(|e| ConnectorError::Protocol {
                message: "Vendure's answer to an upload is not JSON".into(),
                source: Some(Box::new(e)),
            })?;
        data_of(body).map_err(|failure| match failure {
            Failure::Forbidden(message) => ConnectorError::Unauthorized { message },
            Failure::Error(e) => e,
        })
    }

    /// Fetches a file (a product image) from where the ERP says it is.
    pub(crate) async fn fetch(
        &self,
        url: &str,
    ) -> Result<(Vec<u8>, Option<String>), ConnectorError> {
        let request = self.http.get(url);
        let response = self
            .meter
            .send(request)
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| ConnectorError::Unavailable {
                message: format!("cannot fetch {url}"),
                source: Some(Box::new(e)),
            })?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::Unavailable {
                message: format!("cannot fetch {url}"),
                source: Some(Box::new(e)),
            })?;
        Ok((bytes.to_vec(), content_type))
    }

    async fn token(&self) -> Result<String, ConnectorError> {
        let mut token = self.token.lock().await;
        if let Some(known) = token.as_ref() {
            return Ok(known.clone());
        }
        let variables = json!({"username": self.username, "password": self.password});
        let response =
            self.post(LOGIN, &variables, None)
                .await
                .map_err(|failure| match failure {
                    Failure::Forbidden(message) => ConnectorError::Unauthorized { message },
                    Failure::Error(e) => e,
                })?;
        let (headers, body) = response;
        let data = data_of(body).map_err(|failure| match failure {
            Failure::Forbidden(message) => ConnectorError::Unauthorized { message },
            Failure::Error(ConnectorError::Rejected { message, .. }) => {
                ConnectorError::Unauthorized {
                    message: format!(
                        "Vendure refused the login of `{}`: {message}",
                        self.username
                    ),
                }
            }
            Failure::Error(e) => e,
        })?;
        if data["login"]["id"].is_null() {
            return Err(ConnectorError::protocol(format!(
                "Vendure's login answered {data}"
            )));
        }
        let issued = headers
            .get("vendure-auth-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ConnectorError::protocol(
                    "Vendure sent no vendure-auth-token header; is `bearer` among its authOptions.tokenMethod?",
                )
            })?
            .to_owned();
        *token = Some(issued.clone());
        Ok(issued)
    }

    async fn exchange(
        &self,
        query: &str,
        variables: &Value,
        token: Option<&str>,
    ) -> Result<Value, Failure> {
        let (_, body) = self.post(query, variables, token).await?;
        data_of(body)
    }

    async fn post(
        &self,
        query: &str,
        variables: &Value,
        token: Option<&str>,
    ) -> Result<(reqwest::header::HeaderMap, Value), Failure> {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(channel) = &self.channel_token {
            request = request.header("vendure-token", channel);
        }
        // A query whose connection failed before an answer is asked once more (reading
        // twice is harmless); a mutation goes back to its job, which looks first.
        let again = (!crate::http::is_graphql_mutation(query))
            .then(|| request.try_clone())
            .flatten();
        let mut sent = self.meter.send(request).await;
        if let (Err(error), Some(again)) = (&sent, again)
            && !error.is_timeout()
        {
            tracing::debug!(message = "Vendure's connection failed before it answered a query; asking again.", %error);
            sent = self.meter.send(again).await;
        }
        let response = sent.map_err(|e| {
            Failure::Error(if e.is_timeout() {
                ConnectorError::Timeout(Duration::ZERO)
            } else {
                ConnectorError::Unavailable {
                    message: format!("Vendure at {} did not answer", self.url),
                    source: Some(Box::new(e)),
                }
            })
        })?;
        let status = response.status();
        match status.as_u16() {
            429 => return Err(Failure::Error(crate::http::rate_limited(&response))),
            500..=599 => {
                return Err(Failure::Error(ConnectorError::unavailable(format!(
                    "Vendure answered {status}"
                ))));
            }
            // GraphQL validation errors come with 400 and a JSON body: read it below.
            200 | 400 => {}
            _ => {
                let body = response.text().await.unwrap_or_default();
                return Err(Failure::Error(ConnectorError::protocol(format!(
                    "Vendure answered {status}: {}",
                    body.chars().take(200).collect::<String>()
                ))));
            }
        }
        let headers = response.headers().clone();
        let body: Value = response.json().await.map_err(|e| {
            Failure::Error(ConnectorError::Protocol {
                message: "Vendure's answer is not JSON".into(),
                source: Some(Box::new(e)),
            })
        })?;
        Ok((headers, body))
    }
}

/// The `data` of a GraphQL answer, or its first error classified.
fn data_of(mut body: Value) -> Result<Value, Failure> {
    if let Some(error) = body
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        return Err(
            match error["extensions"]["code"].as_str().unwrap_or_default() {
                "FORBIDDEN" | "UNAUTHORIZED" => Failure::Forbidden(message),
                "ENTITY_NOT_FOUND" => Failure::Error(ConnectorError::NotFound { what: message }),
                "USER_INPUT_ERROR" | "BAD_USER_INPUT" | "ILLEGAL_OPERATION" => {
                    Failure::Error(ConnectorError::Rejected {
                        code: error["extensions"]["code"].as_str().map(str::to_owned),
                        message,
                        field: None,
                    })
                }
                code => Failure::Error(ConnectorError::protocol(format!(
                    "Vendure: {message}{}",
                    if code.is_empty() {
                        String::new()
                    } else {
                        format!(" ({code})")
                    }
                ))),
            },
        );
    }
    let data = body.get_mut("data").map(Value::take).unwrap_or(Value::Null);
    if let Some(fields) = data.as_object() {
        for result in fields.values() {
            if let Some(code) = result.get("errorCode").and_then(Value::as_str) {
                return Err(Failure::Error(ConnectorError::Rejected {
                    code: Some(code.to_owned()),
                    message: result["message"].as_str().unwrap_or(code).to_owned(),
                    field: None,
                }));
            }
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(body: Value) -> String {
        match data_of(body) {
            Ok(data) => format!("data {data}"),
            Err(Failure::Forbidden(m)) => format!("forbidden {m}"),
            Err(Failure::Error(e)) => format!("{e:?}"),
        }
    }

    #[test]
    fn answers_are_classified() {
        assert!(
            error_of(json!({"errors": [{"message": "You are not currently authorized", "extensions": {"code": "FORBIDDEN"}}], "data": null}))
                .starts_with("forbidden")
        );
        let union = error_of(json!({"data": {"addFulfillmentToOrder": {
            "errorCode": "ITEMS_ALREADY_FULFILLED_ERROR", "message": "One or more OrderItems are already part of a Fulfillment"}}}));
        assert!(union.contains("Rejected") && union.contains("ITEMS_ALREADY_FULFILLED_ERROR"));
        assert!(error_of(json!({"errors": [{"message": "No Order with the id \"9\" could be found", "extensions": {"code": "ENTITY_NOT_FOUND"}}]})).contains("NotFound"));
        assert_eq!(
            error_of(json!({"data": {"order": {"id": "1"}}})),
            "data {\"order\":{\"id\":\"1\"}}"
        );
    }
}
