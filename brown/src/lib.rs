//! Brown, the public ingress agent: authenticates callers, validates task requests in layers,
//! writes each accepted task to S3 and answers status and signed artifact links. It never talks
//! to Bayko; S3 is the only thing they share.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod keys;
pub mod links;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod routes;
pub mod store;
pub mod uploads;
pub mod validate;
pub mod watchers;

pub use app::Application;
pub use config::Config;
