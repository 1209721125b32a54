//! The live view of a task on the terminal (stderr): a spinner while it waits, then its state.
//! indicatif draws nothing when stderr is not a terminal, so pipes and CI logs stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::view::{TaskView, state_name};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// `quiet` (for `--json`) draws nothing at all.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {elapsed:>4} {prefix:.bold} {msg}")
                .expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    pub fn update(&self, view: &TaskView) {
        self.bar.set_prefix(view.task_id.to_string());
        self.bar.set_message(state_name(view.status));
    }

    pub fn finish(&self, view: &TaskView) {
        self.update(view);
        self.bar.finish();
    }

    /// Leaves the line as it is (an error follows on its own line).
    pub fn abandon(&self) {
        self.bar.abandon();
    }
}
