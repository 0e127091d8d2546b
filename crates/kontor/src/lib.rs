//! The `kontor` binary's library: configuration, the application (store, connections,
//! flows, runner, scheduler), who may call (`auth`), the HTTP server, the one place
//! that assembles them (`startup`), the command line and the demo.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod inbox;
pub mod output;
pub mod secrets;
pub mod server;
pub mod startup;
pub mod status;
pub mod telemetry;
