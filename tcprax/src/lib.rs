//! tcprax: TCP reconnaissance. An XDP-assisted SYN scan (-sS), a connect scan (-sT) and async
//! service fingerprinting over TCP and TLS (-sV).
//!
//! Layers, each in its own module: `wire` (packet bytes), `engine` (send, receive, schedule,
//! retry), `service` (-sV service detection), `output` (printers), `privilege` (capabilities:
//! what a scan needs, and their drop after set-up), `resume` (the state an interrupted scan
//! leaves for `--resume`), `report` (`tcprax report`: an HTML page from scan files). Engines emit
//! [`model::ScanEvent`]s; only `output` writes reports.
pub mod calendar;
mod clock;
pub mod config;
pub mod engine;
mod keyhash;
pub mod merge;
pub mod model;
pub mod output;
pub mod ports;
pub mod privilege;
pub mod report;
pub mod resume;
pub mod scan;
pub mod service;
pub mod targets;
pub mod wire;
