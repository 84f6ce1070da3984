//! `rollcall-reaper` ends the round it is in on SIGTERM and exits 0 (issue
//! 12, graceful shutdown).

#[path = "../../ops/tests/support/child.rs"]
mod child;

use std::process::Command;

#[tokio::test]
async fn sigterm_ends_the_reaper_with_exit_code_0() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall-reaper"));
    // Rounds back to back, so that the signal finds one running or about to.
    command.env("ROLLCALL_REAPER_INTERVAL", "1");
    child::exits_0_promptly_on_sigterm(command).await;
}
