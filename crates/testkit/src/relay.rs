//! An HTTP relay in front of a real system, to make it answer as it would under load:
//! "429 Too Many Requests, come back in N seconds". Everything else is passed through.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::HarnessError;

struct Shared {
    upstream: String,
    client: reqwest::Client,
    refuse: AtomicU32,
    retry_after_secs: AtomicU64,
}

/// A relay on a loopback port; it stops when dropped.
pub struct HttpRelay {
    url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl HttpRelay {
    /// Relays to `upstream` (a base URL such as `http://127.0.0.1:8000`). Must be called
    /// inside a Tokio runtime, which serves it.
    pub async fn start(upstream: &str) -> Result<HttpRelay, HarnessError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(HarnessError::io("binding the relay"))?;
        let address = listener
            .local_addr()
            .map_err(HarnessError::io("the relay's address"))?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            refuse: AtomicU32::new(0),
            retry_after_secs: AtomicU64::new(1),
        });
        let app = axum::Router::new()
            .fallback(relay)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            // The relay ends with the test; an error here only ends it sooner.
            let _ = axum::serve(listener, app).await;
        });
        Ok(HttpRelay {
            url: format!("http://{address}"),
            shared,
            server,
        })
    }

    /// The relay's base URL, standing in for the system's.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Answers the next `count` requests with 429 and `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, count: u32, retry_after_secs: u64) {
        self.shared
            .retry_after_secs
            .store(retry_after_secs, Ordering::SeqCst);
        self.shared.refuse.store(count, Ordering::SeqCst);
    }
}

impl Drop for HttpRelay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn relay(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let refused = shared
        .refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refused {
        let wait = shared.retry_after_secs.load(Ordering::SeqCst).to_string();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::RETRY_AFTER, wait)],
            "Too Many Requests",
        )
            .into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers.clone();
    headers.remove(axum::http::header::HOST);
    let sent = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = sent else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name != axum::http::header::TRANSFER_ENCODING
            && name != axum::http::header::CONTENT_LENGTH
        {
            headers.append(name.clone(), value.clone());
        }
    }
    let body: Bytes = answer.bytes().await.unwrap_or_default();
    (status, headers, body).into_response()
}
