//! What an operator sees of rollcall's connections in PostgreSQL: each one
//! says which part of rollcall holds it (`application_name`), so that a
//! lock wait, a long query or a busy backend in `pg_stat_activity` points
//! at the appender, the linker, the relay, the projector or the requests.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::helpers::{require_postgres, spawn_app};

/// The parts whose connections `rollcall serve` opens once it has taken a
/// create and linked it.
const SERVE_PARTS: [&str; 5] = [
    "rollcall-serve",
    "rollcall-appender",
    "rollcall-relay",
    "rollcall-projector",
    "rollcall-linker",
];

#[tokio::test]
async fn each_connection_says_which_part_of_rollcall_holds_it() {
    let app = spawn_app().await;
    // The create goes through the appender, the relay and the projector;
    // the linker reads for it.
    app.provision("ada@contoso.test").await;
    let admin = require_postgres().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let named: BTreeSet<String> = admin
            .query(
                "select distinct application_name from pg_stat_activity where datname = $1",
                &[&app.database_name],
            )
            .await
            .expect("pg_stat_activity")
            .iter()
            .map(|row| row.get(0))
            .collect();
        let missing: Vec<&str> = SERVE_PARTS
            .into_iter()
            .filter(|part| !named.contains(*part))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection of {missing:?} after 15 s; the database's connections are named {named:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
