//! Progress as a person sees it: an indicatif byte bar per transfer when stderr is a terminal, nothing
//! otherwise (a Job's log lines come from the library itself).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::progress::{Progress, Reporter, Transfer};

/// Byte bars on an interactive stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bars;

/// What the command line hands the library for every transfer.
pub fn reporter() -> Reporter {
    std::sync::Arc::new(Bars)
}

impl Progress for Bars {
    fn start(&self, what: &str, total: Option<u64>) -> Option<Box<dyn Transfer>> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        Some(Box::new(Bar(bytes_bar(total, what))))
    }
}

struct Bar(ProgressBar);

impl Transfer for Bar {
    fn at(&self, done: u64) {
        self.0.set_position(done);
    }

    fn end(&self) {
        self.0.finish_and_clear();
    }
}

fn bytes_bar(total: Option<u64>, message: &str) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = if total.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{spinner} {msg} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
