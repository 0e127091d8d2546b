//! Helpers shared by harnesses: the cache, a cross-process lock, free ports, readiness.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::HarnessError;

/// Where installed systems and prepared databases are kept between runs.
pub(crate) fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KONTOR_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("kontor")
}

/// The repository's root (this crate is `crates/testkit`).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// A lock held by creating a directory, which is atomic across processes: test binaries
/// run in parallel and must not build the same cache entry twice.
pub(crate) struct DirLock(PathBuf);

impl DirLock {
    pub(crate) fn acquire(path: PathBuf) -> Result<DirLock, HarnessError> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(HarnessError::io(format!("creating {}", parent.display())))?;
        }
        loop {
            match fs::create_dir(&path) {
                Ok(()) => return Ok(DirLock(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A lock older than any build is left over from a killed run.
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .is_ok_and(|at| {
                            SystemTime::now().duration_since(at).unwrap_or_default()
                                > Duration::from_secs(900)
                        });
                    if stale {
                        let _ = fs::remove_dir(&path);
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(HarnessError::io(format!("locking {}", path.display()))(e)),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// Runs a command to completion; its output becomes the error when it fails.
pub(crate) fn run(what: &str, command: &mut Command) -> Result<String, HarnessError> {
    let output = command
        .output()
        .map_err(HarnessError::io(format!("starting {what}")))?;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if !output.status.success() {
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        return Err(HarnessError::Command {
            what: what.to_owned(),
            status: output.status.to_string(),
            output: tail(&all, 40),
        });
    }
    Ok(text(&output.stdout))
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> Result<u16, HarnessError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(HarnessError::io("finding a free port"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(HarnessError::io("finding a free port"))
}

/// POSTs a JSON body over plain HTTP/1.1 and returns the response, or `None` if nothing
/// answers yet.
pub(crate) fn post_json(port: u16, path: &str, body: &str) -> Option<String> {
    post_json_with(port, path, body, None)
}

/// [`post_json`] with an `Authorization` header.
pub(crate) fn post_json_with(
    port: u16,
    path: &str,
    body: &str,
    authorization: Option<&str>,
) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    let authorization = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Waits until `ready` holds, polling.
pub(crate) fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// A short, stable fingerprint of some bytes (FNV-1a), naming cache entries by content.
pub(crate) fn fingerprint(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}
