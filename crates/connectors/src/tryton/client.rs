//! A JSON-RPC session with a Tryton server: log in once, reuse the session, log in again
//! when it expires; every failure classified.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use kontor_connector::ConnectorError;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::values::Record;

#[derive(Clone)]
struct Session {
    header: String,
    /// The user's preferences (company, language): Tryton wants them on every call.
    context: Record,
}

pub(crate) struct TrytonClient {
    http: reqwest::Client,
    pub(crate) meter: crate::http::Meter,
    url: String,
    username: String,
    password: String,
    session: Mutex<Option<Session>>,
    next_id: AtomicU64,
}

/// A reply that is not a result.
enum Failure {
    /// The session is no longer valid: log in again.
    SessionExpired,
    Error(ConnectorError),
}

/// Turns Tryton's `error` member into a classified error, keeping Tryton's words.
pub(crate) fn classify(error: &Value) -> ConnectorError {
    let kind = error.get(0).and_then(Value::as_str).unwrap_or_default();
    let args = error.get(1);
    let text = |i: usize| {
        args.and_then(|a| a.get(i))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    match kind {
        "UserError" | "UserWarning" => {
            let (message, description) = (text(0), text(1));
            ConnectorError::Rejected {
                code: Some(kind.to_owned()),
                message: if description.is_empty() {
                    message
                } else {
                    format!("{message} {description}")
                },
                field: None,
            }
        }
        "RateLimitException" => ConnectorError::RateLimited { retry_after: None },
        "AccessError" | "LoginException" => ConnectorError::Unauthorized {
            message: format!("{kind}: {}", text(0)),
        },
        "ConcurrencyException" => ConnectorError::Conflict { message: text(0) },
        // An unknown field comes back as its quoted name: the connector and the server
        // disagree about the schema (a missing module, another version).
        field if field.starts_with('\'') && field.ends_with('\'') => ConnectorError::Protocol {
            message: format!("Tryton does not know the field {field} (is a module missing?)"),
            source: None,
        },
        other => ConnectorError::Protocol {
            message: format!(
                "Tryton error: {other} {}",
                args.map(ToString::to_string).unwrap_or_default()
            ),
            source: None,
        },
    }
}

impl TrytonClient {
    pub(crate) fn new(
        base_url: &str,
        database: &str,
        username: &str,
        password: String,
        timeout: Duration,
    ) -> Result<Self, ConnectorError> {
        let http = crate::http::client(timeout)?;
        Ok(TrytonClient {
            http,
            meter: crate::http::Meter::default(),
            url: format!("{}/{database}/rpc/", base_url.trim_end_matches('/')),
            username: username.to_owned(),
            password,
            session: Mutex::new(None),
            next_id: AtomicU64::new(1),
        })
    }

    /// One JSON-RPC exchange. The body must be exactly {id, method, params}: Tryton
    /// answers anything else differently.
    async fn exchange(
        &self,
        method: &str,
        params: Vec<Value>,
        header: Option<&str>,
    ) -> Result<Value, Failure> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "id": id, "method": method, "params": params }));
        if let Some(header) = header {
            request = request.header(reqwest::header::AUTHORIZATION, header);
        }
        let response = self.meter.send(request).await.map_err(|e| {
            Failure::Error(if e.is_timeout() {
                ConnectorError::Timeout(Duration::ZERO)
            } else {
                ConnectorError::Unavailable {
                    message: format!("Tryton at {} did not answer", self.url),
                    source: Some(Box::new(e)),
                }
            })
        })?;
        let status = response.status();
        match status.as_u16() {
            401 if header.is_some() => return Err(Failure::SessionExpired),
            401 => {
                return Err(Failure::Error(ConnectorError::Unauthorized {
                    message: format!("Tryton refused the login of `{}`", self.username),
                }));
            }
            403 => {
                return Err(Failure::Error(ConnectorError::Unauthorized {
                    message: format!("Tryton does not allow `{method}`"),
                }));
            }
            429 => return Err(Failure::Error(crate::http::rate_limited(&response))),
            500..=599 => {
                return Err(Failure::Error(ConnectorError::unavailable(format!(
                    "Tryton answered {status} to `{method}`"
                ))));
            }
            200 => {}
            _ => {
                let body = response.text().await.unwrap_or_default();
                return Err(Failure::Error(ConnectorError::protocol(format!(
                    "Tryton answered {status} to `{method}`: {}",
                    body.chars().take(200).collect::<String>()
                ))));
            }
        }
        let mut body: Value = response.json().await.map_err(|e| {
            Failure::Error(ConnectorError::Protocol {
                message: format!("Tryton's answer to `{method}` is not JSON"),
                source: Some(Box::new(e)),
            })
        })?;
        if let Some(error) = body.get("error").filter(|e| !e.is_null()) {
            return Err(Failure::Error(classify(error)));
        }
        Ok(body
            .get_mut("result")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    async fn login(&self) -> Result<Session, ConnectorError> {
        let reply = self
            .exchange(
                "common.db.login",
                vec![
                    json!(self.username),
                    json!({ "password": self.password }),
                    json!("en"),
                ],
                None,
            )
            .await
            .map_err(|f| match f {
                Failure::Error(e) => e,
                Failure::SessionExpired => ConnectorError::Unauthorized {
                    message: "login refused".into(),
                },
            })?;
        let user = reply.get(0).and_then(Value::as_i64);
        let token = reply.get(1).and_then(Value::as_str);
        let (Some(user), Some(token)) = (user, token) else {
            return Err(ConnectorError::Unauthorized {
                message: format!("Tryton refused the login of `{}`", self.username),
            });
        };
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{user}:{token}", self.username));
        let header = format!("Session {credentials}");
        let preferences = self
            .exchange(
                "model.res.user.get_preferences",
                vec![json!(true), json!({})],
                Some(&header),
            )
            .await
            .map_err(|f| match f {
                Failure::Error(e) => e,
                Failure::SessionExpired => ConnectorError::Unauthorized {
                    message: "the new session was refused".into(),
                },
            })?;
        let context = preferences.as_object().cloned().unwrap_or_default();
        Ok(Session { header, context })
    }

    async fn session(&self) -> Result<Session, ConnectorError> {
        let mut guard = self.session.lock().await;
        if let Some(session) = guard.as_ref() {
            return Ok(session.clone());
        }
        let session = self.login().await?;
        *guard = Some(session.clone());
        Ok(session)
    }

    /// The user's context (company, language), for building calls.
    pub(crate) async fn context(&self) -> Result<Record, ConnectorError> {
        Ok(self.session().await?.context)
    }

    /// Calls `method` with `params` and the context (plus `extra`) as the last parameter;
    /// logs in again once if the session expired.
    pub(crate) async fn call(
        &self,
        method: &str,
        mut params: Vec<Value>,
        extra: Option<&Record>,
    ) -> Result<Value, ConnectorError> {
        let placeholder = params.len();
        params.push(Value::Null);
        for attempt in 0..2 {
            let session = self.session().await?;
            let mut context = session.context.clone();
            if let Some(extra) = extra {
                context.extend(extra.clone());
            }
            params[placeholder] = Value::Object(context);
            match self
                .exchange(method, params.clone(), Some(&session.header))
                .await
            {
                Ok(result) => return Ok(result),
                Err(Failure::SessionExpired) if attempt == 0 => {
                    tracing::info!(message = "Tryton session expired; logging in again.");
                    *self.session.lock().await = None;
                }
                Err(Failure::SessionExpired) => {
                    return Err(ConnectorError::Unauthorized {
                        message: "Tryton keeps refusing the session".into(),
                    });
                }
                Err(Failure::Error(e)) => return Err(e),
            }
        }
        Err(ConnectorError::Unauthorized {
            message: "Tryton keeps refusing the session".into(),
        })
    }

    pub(crate) async fn search_read(
        &self,
        model: &str,
        domain: Value,
        limit: Option<usize>,
        order: Value,
        fields: &[&str],
        extra: Option<&Record>,
    ) -> Result<Vec<Record>, ConnectorError> {
        let result = self
            .call(
                &format!("model.{model}.search_read"),
                vec![domain, json!(0), json!(limit), order, json!(fields)],
                extra,
            )
            .await?;
        Ok(records(result))
    }

    pub(crate) async fn read(
        &self,
        model: &str,
        ids: &[i64],
        fields: &[&str],
        extra: Option<&Record>,
    ) -> Result<Vec<Record>, ConnectorError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let result = self
            .call(
                &format!("model.{model}.read"),
                vec![json!(ids), json!(fields)],
                extra,
            )
            .await?;
        Ok(records(result))
    }

    pub(crate) async fn search(
        &self,
        model: &str,
        domain: Value,
        limit: Option<usize>,
    ) -> Result<Vec<i64>, ConnectorError> {
        let result = self
            .call(
                &format!("model.{model}.search"),
                vec![domain, json!(0), json!(limit), Value::Null],
                None,
            )
            .await?;
        Ok(result
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default())
    }

    pub(crate) async fn create(
        &self,
        model: &str,
        values: Vec<Value>,
    ) -> Result<Vec<i64>, ConnectorError> {
        let result = self
            .call(
                &format!("model.{model}.create"),
                vec![Value::Array(values)],
                None,
            )
            .await?;
        let ids: Vec<i64> = result
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        if ids.is_empty() {
            return Err(ConnectorError::protocol(format!(
                "Tryton created no {model}"
            )));
        }
        Ok(ids)
    }

    pub(crate) async fn write(
        &self,
        model: &str,
        ids: &[i64],
        values: Value,
    ) -> Result<(), ConnectorError> {
        self.call(
            &format!("model.{model}.write"),
            vec![json!(ids), values],
            None,
        )
        .await
        .map(drop)
    }

    /// Presses a button (`quote`, `confirm`, `post`, …) on records.
    pub(crate) async fn button(
        &self,
        model: &str,
        button: &str,
        ids: &[i64],
    ) -> Result<(), ConnectorError> {
        self.call(&format!("model.{model}.{button}"), vec![json!(ids)], None)
            .await
            .map(drop)
    }

    /// Renders a report; returns its format (`pdf`, `odt`) and content.
    pub(crate) async fn report(
        &self,
        name: &str,
        ids: &[i64],
    ) -> Result<(String, Vec<u8>), ConnectorError> {
        let result = self
            .call(
                &format!("report.{name}.execute"),
                vec![json!(ids), json!({})],
                None,
            )
            .await?;
        let format = result
            .get(0)
            .and_then(Value::as_str)
            .unwrap_or("odt")
            .to_owned();
        let content = super::values::get_bytes(result.get(1).unwrap_or(&Value::Null))?;
        Ok((format, content))
    }

    /// Runs a wizard on `ids`: starts it, submits each `(state, data)` step in turn (a step
    /// is skipped when the previous one ended the wizard), and ends it.
    pub(crate) async fn wizard(
        &self,
        name: &str,
        model: &str,
        ids: &[i64],
        steps: &[(&str, Value)],
    ) -> Result<(), ConnectorError> {
        let created = self
            .call(&format!("wizard.{name}.create"), vec![], None)
            .await?;
        let session = created
            .get(0)
            .and_then(Value::as_i64)
            .ok_or_else(|| ConnectorError::protocol(format!("wizard {name} did not start")))?;
        let mut active = Record::new();
        active.insert("active_id".into(), json!(ids.first()));
        active.insert("active_ids".into(), json!(ids));
        active.insert("active_model".into(), json!(model));
        let mut outcome = Ok(());
        for (state, data) in steps {
            match self
                .call(
                    &format!("wizard.{name}.execute"),
                    vec![json!(session), data.clone(), json!(state)],
                    Some(&active),
                )
                .await
            {
                // A reply with a view asks for the next step; without one the wizard is done.
                Ok(reply) if reply.get("view").is_some_and(|v| !v.is_null()) => {}
                Ok(_) => break,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        // Ending the session is housekeeping; a failure here changes nothing done.
        let _ = self
            .call(&format!("wizard.{name}.delete"), vec![json!(session)], None)
            .await;
        outcome
    }
}

fn records(result: Value) -> Vec<Record> {
    match result {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(record) => Some(record),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tryton_errors_become_classified_errors_keeping_trytons_words() {
        let user = classify(&json!([
            "UserError",
            [
                "You can not call \"quote\" on \"9\".",
                "Check the sale.",
                null
            ]
        ]));
        assert!(
            matches!(&user, ConnectorError::Rejected { code: Some(c), message, .. } if c == "UserError" && message.contains("quote") && message.contains("Check the sale."))
        );
        assert!(matches!(
            classify(&json!(["AccessError", ["Calling method is not allowed"]])),
            ConnectorError::Unauthorized { .. }
        ));
        assert!(matches!(
            classify(&json!(["ConcurrencyException", ["Records were modified"]])),
            ConnectorError::Conflict { .. }
        ));
        let field = classify(&json!(["'nosuchfield'", ""]));
        assert!(field.to_string().contains("'nosuchfield'"), "{field}");
        assert!(matches!(field, ConnectorError::Protocol { .. }));
    }
}
