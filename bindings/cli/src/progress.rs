//! Progress bars on standard error, only when it is a terminal: a pipe or a log file gets none.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Inputs below this size finish before a bar would be worth drawing.
const MIN_BYTES: u64 = 8 << 20;

fn visible() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar over the bytes of an input of length `len` (a spinner with a byte count when unknown).
pub fn bytes(len: Option<u64>, message: &str) -> ProgressBar {
    if !visible() || len.is_some_and(|l| l < MIN_BYTES) {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg} {spinner} {bytes} {binary_bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.with_message(message.to_string())
}

/// A bar over `count` messages.
pub fn messages(count: u64, message: &str) -> ProgressBar {
    if !visible() || count < 2 {
        return ProgressBar::hidden();
    }
    ProgressBar::new(count)
        .with_style(
            ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} messages")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
        .with_message(message.to_string())
}

/// A spinner for work of unknown length (a fetch reports only when it is done).
pub fn spinner(message: &str) -> ProgressBar {
    if !visible() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
