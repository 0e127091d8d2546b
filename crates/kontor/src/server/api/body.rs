//! Request bodies: JSON, within the size limit (`server.max_body_bytes`), read straight
//! into their type. Every refusal is a structured error: `413 body_too_large`,
//! `415 unsupported_media_type`, or `400 invalid_body` naming the field at fault.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Json;
use serde::de::DeserializeOwned;

use crate::server::error::ApiError;

/// A JSON body as axum's extractor read it, or the structured error for why not.
pub(super) fn body<T>(request: Result<Json<T>, JsonRejection>) -> Result<Json<T>, ApiError> {
    request.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => unsupported(),
        _ => invalid_body(rejection.body_text()),
    })
}

/// Reads a JSON body of type `T` from its bytes, with no tree of values in between (a
/// large order costs what the order itself does), naming the field at fault.
pub(super) fn parse_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = bytes.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        _ => invalid_body(rejection.body_text()),
    })?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json")
                || (v.starts_with("application/") && v.ends_with("+json"))
        });
    if !json {
        return Err(unsupported());
    }
    let mut reader = serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::bad_request("invalid_body", &field, format!("{field}: {message}"))
    })?;
    reader.end().map_err(|e| invalid_body(e.to_string()))?;
    Ok(value)
}

/// An `invalid_body` error for serde's message, with the field it names
/// (`missing field `reason``, `unknown field `x``), else `body`.
pub(super) fn invalid_body(message: String) -> ApiError {
    let field = message
        .split_once("field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map_or("body", |(name, _)| name)
        .to_owned();
    ApiError::bad_request("invalid_body", "body", message).with_field(field)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the request body is larger than this server takes (server.max_body_bytes)",
    )
}

fn unsupported() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as JSON, with `Content-Type: application/json`",
    )
}
