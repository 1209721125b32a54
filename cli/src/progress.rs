//! The live view of a task on the terminal (stderr): a spinner while it waits, then a bar over
//! the plan's steps with the ones in flight. indicatif draws nothing when stderr is not a
//! terminal, so pipes and CI logs stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::view::{TaskView, state_name};

const WAITING: &str = "{spinner:.cyan} {elapsed:>4} {prefix:.bold} {msg}";
const STEPS: &str =
    "{spinner:.cyan} {elapsed:>4} {prefix:.bold} [{bar:24.cyan/blue}] {pos}/{len} steps {msg}";

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
        bar.set_style(style(WAITING));
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    pub fn update(&self, view: &TaskView) {
        self.bar.set_prefix(view.task_id.to_string());
        let Some(progress) = &view.progress else {
            self.bar.set_message(state_name(view.status));
            return;
        };
        if self.bar.length().is_none() {
            self.bar.set_style(style(STEPS));
        }
        self.bar.set_length(progress.steps.len() as u64);
        self.bar.set_position(progress.done() as u64);
        let message = match progress.in_flight.as_slice() {
            [] => state_name(view.status).to_owned(),
            steps => format!("{}: {}", state_name(view.status), steps.join(", ")),
        };
        self.bar.set_message(message);
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

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ")
}
