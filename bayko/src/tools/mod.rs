//! The tools Bayko runs over a task's input.

pub mod data;
