//! One integration binary: every end-to-end test, against the real emulator.

mod api;
mod delivery;
mod engine;
mod faults;
mod metrics;
mod pipeline;
mod poison;
mod traces;
