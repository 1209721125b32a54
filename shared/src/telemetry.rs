//! Logging set-up shared by both binaries: `RUST_LOG` filters, `LOG_FORMAT=json` gives one JSON
//! object per line for CloudWatch, anything else a human-readable line.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG` is unset.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format == "json");
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(fmt::layer().json().flatten_event(true))
            .init();
    } else {
        registry.with(fmt::layer()).init();
    }
}
