//! The `kontor` binary's library: configuration, the application (store, connections,
//! flows, runner, scheduler, HTTP server), the command line and the demo.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod output;
pub mod secrets;
pub mod server;
pub mod status;
pub mod telemetry;
