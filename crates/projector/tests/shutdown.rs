//! `rollcall-projector` lets the relay and the projector end their batch on
//! SIGTERM and exits 0 (issue 12, graceful shutdown).

#[path = "../../ops/tests/support/child.rs"]
mod child;

use std::process::Command;

#[tokio::test]
async fn sigterm_ends_the_relay_and_projector_with_exit_code_0() {
    let prefix = format!("rollcall_test_{}", uuid::Uuid::new_v4().simple());
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollcall-projector"));
    command.env("ROLLCALL_BUS_PREFIX", &prefix);
    child::exits_0_promptly_on_sigterm(command).await;
    if let Ok(connection) = bus::connect("amqp://guest:guest@127.0.0.1:5672/%2f").await {
        let _ = bus::delete_topology(&connection, &bus::Topology::new(&prefix), 1).await;
    }
}
