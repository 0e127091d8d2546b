#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! The console in a real browser: `kontor demo` runs on a free port with its shop placing
//! orders quickly, and `tests/console/console.mjs` drives Debian's headless Chromium
//! through it with playwright-core (both installed by `scripts/console/install`): sign
//! in, watch the orders flow on the dashboard, open the parked order, fix its SKU
//! mapping, retry it and see it succeed; a viewer has no retry button and the API
//! refuses the retry. Screenshots of every page land in `test-artifacts/console/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Demo {
    child: Child,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_person_fixes_a_parked_order_in_the_console_and_a_viewer_cannot() {
    let install = Command::new(root().join("scripts/console/install"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(install.status.success(), "scripts/console/install failed");
    let playwright = String::from_utf8(install.stdout).unwrap().trim().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("demo.log")).unwrap();
    let _demo = Demo {
        child: Command::new(env!("CARGO_BIN_EXE_kontor"))
            .args(["demo", "--fresh", "--orders-per-minute", "400", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.path().join("demo"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    };
    // The demo writes its console accounts before it serves.
    let accounts = dir.path().join("demo/console-accounts.txt");
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&accounts).unwrap_or_default();
        if text.lines().count() == 2 && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break text;
        }
        assert!(Instant::now() < deadline, "the demo did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    let account = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .to_owned()
    };

    let screenshots = root().join("test-artifacts/console");
    let _ = std::fs::remove_dir_all(&screenshots);
    let run = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/console.mjs"))
        .env("KONTOR_URL", format!("http://127.0.0.1:{port}"))
        .env("KONTOR_ADMIN", account("admin"))
        .env("KONTOR_VIEWER", account("viewer"))
        .env("PLAYWRIGHT_DIR", &playwright)
        .env("SCREENSHOTS", &screenshots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}");
    assert!(
        run.status.success(),
        "the browser test failed:\n{stdout}\n{}\n--- the demo's log ---\n{}",
        String::from_utf8_lossy(&run.stderr),
        std::fs::read_to_string(dir.path().join("demo.log")).unwrap_or_default()
    );
    let taken = std::fs::read_dir(&screenshots).unwrap().count();
    assert!(taken >= 14, "a screenshot of every page ({taken} taken)");
}
