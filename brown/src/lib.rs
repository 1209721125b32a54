//! Brown, the public ingress agent: validates task requests, writes each accepted task to S3 and
//! answers status and artifact links. It never talks to Bayko; S3 is the only thing they share.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod store;
pub mod validate;

pub use app::Application;
pub use config::Config;
