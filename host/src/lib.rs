//! Sluice: a CI/CD pipeline engine in which every step is a sandboxed WebAssembly component.
//!
//! The crate is laid out the way a run flows: [`manifest`] parses `sluice.toml`, [`plugin`]
//! resolves each `uses`, [`plan`] builds and checks the DAG, [`sandbox`] turns grants into
//! enforcement, [`runtime`] runs components on wasmtime, [`store`] keeps artifacts by digest,
//! [`cache`] replays the results of steps whose inputs did not change, [`exec`] schedules the
//! steps, [`report`] shows and records the result, and [`cli`] is the
//! `sluice` command.
#![deny(missing_docs)]

pub mod cache;
pub mod cli;
pub mod exec;
pub mod manifest;
pub mod plan;
pub mod plugin;
pub mod report;
pub mod runtime;
pub mod sandbox;
pub mod store;
pub mod types;
