//! The load generator: HTTP requests sent with bounded concurrency from a runtime of its
//! own, on threads named so that their CPU time is not counted as the server's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::measure::CLIENT_THREAD;

/// One request to send.
#[derive(Debug, Clone)]
pub struct Post {
    pub url: String,
    pub bearer: Option<String>,
    pub idempotency_key: Option<String>,
    /// Shared, so building thousands of requests copies no body until it is sent.
    pub body: Arc<Vec<u8>>,
}

/// When a request was sent and answered, and how.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    pub index: usize,
    pub sent: Instant,
    pub answered: Instant,
    pub status: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot start the load generator's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("request {index} failed: {source}")]
    Request {
        index: usize,
        #[source]
        source: reqwest::Error,
    },
    #[error("the load generator stopped: {0}")]
    Join(#[source] tokio::task::JoinError),
}

pub struct LoadGenerator {
    runtime: Option<Runtime>,
    http: reqwest::Client,
}

impl LoadGenerator {
    /// A generator on `threads` threads of its own.
    pub fn new(threads: usize) -> Result<Self, ClientError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(CLIENT_THREAD)
            .enable_all()
            .build()
            .map_err(ClientError::Runtime)?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .map_err(ClientError::Build)?;
        Ok(LoadGenerator {
            runtime: Some(runtime),
            http,
        })
    }

    /// Sends every request, at most `concurrency` at once and, if `per_second` is given,
    /// no faster than that (request i leaves no earlier than i / rate after the first:
    /// an open loop, so a slow server does not slow the offered load); says when each was
    /// sent and answered (in the order given).
    pub async fn send_all(
        &self,
        posts: Vec<Post>,
        concurrency: usize,
        per_second: Option<f64>,
    ) -> Result<Vec<Sent>, ClientError> {
        let Some(runtime) = &self.runtime else {
            return Ok(Vec::new());
        };
        let http = self.http.clone();
        let count = posts.len();
        let driver = runtime.spawn(async move {
            let permits = Arc::new(Semaphore::new(concurrency.max(1)));
            let mut running = JoinSet::new();
            let start = tokio::time::Instant::now();
            for (index, post) in posts.into_iter().enumerate() {
                if let Some(rate) = per_second.filter(|r| *r > 0.0) {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(index as f64 / rate))
                        .await;
                }
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let http = http.clone();
                running.spawn(async move {
                    let _permit = permit;
                    let mut request = http
                        .post(&post.url)
                        .header("content-type", "application/json")
                        .body(post.body.as_ref().clone());
                    if let Some(token) = &post.bearer {
                        request = request.bearer_auth(token);
                    }
                    if let Some(key) = &post.idempotency_key {
                        request = request.header("Idempotency-Key", key);
                    }
                    let sent = Instant::now();
                    let response = request
                        .send()
                        .await
                        .map_err(|source| ClientError::Request { index, source })?;
                    let status = response.status().as_u16();
                    // Read the whole answer: a caller waits for it.
                    let _ = response.bytes().await;
                    Ok::<_, ClientError>(Sent {
                        index,
                        sent,
                        answered: Instant::now(),
                        status,
                    })
                });
            }
            let mut done = Vec::with_capacity(count);
            while let Some(result) = running.join_next().await {
                done.push(result.map_err(ClientError::Join)??);
            }
            done.sort_by_key(|s| s.index);
            Ok(done)
        });
        driver.await.map_err(ClientError::Join)?
    }

    /// A GET, from the generator's threads; the status, or `None` if nothing answered.
    pub async fn get_status(&self, url: &str) -> Option<u16> {
        let runtime = self.runtime.as_ref()?;
        let http = self.http.clone();
        let url = url.to_owned();
        runtime
            .spawn(async move { http.get(url).send().await.ok().map(|r| r.status().as_u16()) })
            .await
            .ok()
            .flatten()
    }
}

impl Drop for LoadGenerator {
    fn drop(&mut self) {
        // Dropped inside the benchmark's own runtime, where blocking is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
