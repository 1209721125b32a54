//! One integration binary: every end-to-end test, against the real emulator.

mod api;
mod cli;
mod completion;
mod delivery;
mod door;
mod engine;
mod events;
mod faults;
mod hostile;
mod metrics;
mod pipeline;
mod poison;
mod proxy;
mod redaction;
mod seams;
mod traces;
mod uploads;
