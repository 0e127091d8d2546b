//! Test harnesses for the real systems Kontor's tests drive. Each installs what it needs
//! into a cache shared by all test runs (`$KONTOR_CACHE`, default `~/.cache/kontor`),
//! starts the system on a free loopback port, and stops it when dropped.

pub mod conformance;
mod process;
pub mod relay;
pub mod tryton;
pub mod vendure;

pub use relay::HttpRelay;
pub use tryton::{TrytonAdmin, TrytonServer};
pub use vendure::{Checkout, GraphQl, VendureServer};

/// Why a harness could not provide its system.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status}); its output ends:\n{output}")]
    Command {
        what: String,
        status: String,
        output: String,
    },
    #[error("{what}: {message}")]
    Database { what: String, message: String },
    #[error("Tryton refused `{method}`: {message}")]
    Rpc { method: String, message: String },
    #[error("{what} did not become ready within {seconds}s; its log ends:\n{log}")]
    NotReady {
        what: String,
        seconds: u64,
        log: String,
    },
}

impl HarnessError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
        let what = what.into();
        move |source| HarnessError::Io { what, source }
    }
}
