//! One integration binary: every end-to-end test, against the real emulator.

mod api;
mod delivery;
mod door;
mod engine;
mod faults;
mod pipeline;
mod poison;
