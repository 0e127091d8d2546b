//! Bulk mutations: many calls of one mutation as a single operation Shopify runs in the
//! background — stage a JSONL file of variables, start the operation, poll it, read the
//! JSONL of results. Five calls whatever the size, and no draw on the cost bucket for
//! the work itself; that is the fewest calls the API allows for a large catalogue.

use std::time::{Duration, Instant};

use kontor_connector::ConnectorError;
use serde_json::{Value, json};

use super::ShopifySystem;
use super::client::user_errors;

const STAGE: &str = "mutation Stage($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}";

const RUN: &str = "mutation Run($mutation: String!, $path: String!) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}";

const POLL: &str = "query Poll($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount url partialDataUrl }
}";

impl ShopifySystem {
    /// Runs `mutation` once per entry of `variables` as one bulk operation, and gives
    /// each entry's `data` (or its error), in input order.
    pub(crate) async fn bulk_mutation(
        &self,
        mutation: &str,
        variables: &[Value],
    ) -> Result<Vec<Result<Value, ConnectorError>>, ConnectorError> {
        let mut file = Vec::new();
        for line in variables {
            file.extend_from_slice(line.to_string().as_bytes());
            file.push(b'\n');
        }
        let staged = self
            .client()
            .run(
                "stagedUploadsCreate",
                STAGE,
                json!({ "input": [{
                    "resource": "BULK_MUTATION_VARIABLES", "filename": "kontor.jsonl",
                    "mimeType": "text/jsonl", "httpMethod": "POST",
                }] }),
            )
            .await?;
        let payload = &staged["stagedUploadsCreate"];
        user_errors(payload)?;
        let target = &payload["stagedTargets"][0];
        let url = target["url"]
            .as_str()
            .ok_or_else(|| ConnectorError::protocol("a staged upload target without a url"))?;
        let parameters: Vec<(String, String)> = target["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p["name"].as_str()?.to_owned(),
                    p["value"].as_str()?.to_owned(),
                ))
            })
            .collect();
        let key = parameters
            .iter()
            .find(|(name, _)| name == "key")
            .map(|(_, value)| value.clone())
            .ok_or_else(|| ConnectorError::protocol("a staged upload target without a key"))?;
        self.client().upload(url, &parameters, file).await?;

        let started = self
            .client()
            .run(
                "bulkOperationRunMutation",
                RUN,
                json!({ "mutation": mutation, "path": key }),
            )
            .await?;
        let payload = &started["bulkOperationRunMutation"];
        if let Err(error) = user_errors(payload) {
            // Another app's (or an earlier run's) bulk mutation is still going: come back.
            if matches!(&error, ConnectorError::Rejected { code: Some(code), .. } if code == "OPERATION_IN_PROGRESS")
            {
                return Err(ConnectorError::Conflict {
                    message: error.to_string(),
                });
            }
            return Err(error);
        }
        let id = payload["bulkOperation"]["id"].clone();
        let operation = self.await_bulk(&id).await?;
        let url = operation["url"].as_str().ok_or_else(|| {
            ConnectorError::protocol(format!(
                "bulk operation {id} finished without a result file"
            ))
        })?;
        let results = self.client().download(url).await?;
        let mut out: Vec<Option<Result<Value, ConnectorError>>> =
            (0..variables.len()).map(|_| None).collect();
        for line in results.lines().filter(|l| !l.trim().is_empty()) {
            let answer: Value = serde_json::from_str(line).map_err(|e| {
                ConnectorError::protocol(format!("a bulk result line is not JSON: {e}"))
            })?;
            let Some(slot) = answer["__lineNumber"]
                .as_u64()
                .and_then(|n| out.get_mut(n as usize))
            else {
                continue;
            };
            *slot = Some(match answer["errors"].as_array().and_then(|e| e.first()) {
                Some(error) => Err(ConnectorError::protocol(format!(
                    "bulk line: {}",
                    error["message"].as_str().unwrap_or_default()
                ))),
                None => Ok(answer["data"].clone()),
            });
        }
        Ok(out
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ConnectorError::unavailable(
                        "the bulk operation left this line out; it is tried again",
                    ))
                })
            })
            .collect())
    }

    /// Polls a bulk operation until it is done, more slowly as it runs longer.
    async fn await_bulk(&self, id: &Value) -> Result<Value, ConnectorError> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(150);
        loop {
            tokio::time::sleep(wait).await;
            let data = self
                .client()
                .run("bulkOperation", POLL, json!({ "id": id }))
                .await?;
            let operation = data["bulkOperation"].clone();
            match operation["status"].as_str().unwrap_or_default() {
                "COMPLETED" => return Ok(operation),
                "CREATED" | "RUNNING" | "CANCELING" => {}
                status => {
                    return Err(ConnectorError::unavailable(format!(
                        "bulk operation {id} ended {status} ({})",
                        operation["errorCode"].as_str().unwrap_or("no error code")
                    )));
                }
            }
            if started.elapsed() > self.config().bulk_timeout {
                return Err(ConnectorError::Timeout(self.config().bulk_timeout));
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}
