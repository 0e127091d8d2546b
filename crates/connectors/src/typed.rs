//! Vendors' answers read into typed structs that follow their API documents: a field
//! the document makes required is required in the struct, so an answer without it is a
//! mapping error that names the field — never a silent zero, an empty id or a dropped
//! line.

use kontor_connector::ConnectorError;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads `value` as `T`; a mismatch names the field's path under `what`.
pub(crate) fn read<T: DeserializeOwned>(what: &str, value: &Value) -> Result<T, ConnectorError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // serde names a missing field beside its parent's path; name it in the path.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(field, _)| field);
        match missing {
            Some(field) if path == "." => {
                ConnectorError::protocol(format!("{what}: {field}: is missing"))
            }
            Some(field) => ConnectorError::protocol(format!("{what}: {path}.{field}: is missing")),
            None => ConnectorError::protocol(format!("{what}: {path}: {message}")),
        }
    })
}

/// A line that cannot reach the ERP because it has no SKU: the merchant gives the
/// product one (`message` says where).
pub(crate) fn line_without_sku(message: String) -> ConnectorError {
    ConnectorError::Rejected {
        code: Some("line_without_sku".into()),
        message,
        field: Some("sku".into()),
    }
}
