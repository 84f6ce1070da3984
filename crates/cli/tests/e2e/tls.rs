//! Issue 12, TLS: `sslmode` in DATABASE_URL is honoured against the local
//! PostgreSQL with the self-signed CA that scripts/enable-postgres-tls.sh
//! made, and `amqps://` really attempts TLS.

use std::path::PathBuf;

/// The CA files scripts/enable-postgres-tls.sh wrote; the test fails (never
/// skips) without them.
fn tls_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("ROLLCALL_PG_TLS_DIR").map_or_else(
        || PathBuf::from("/etc/rollcall/postgres-tls"),
        PathBuf::from,
    );
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: the local PostgreSQL has no test certificate. \
         Run scripts/enable-postgres-tls.sh (as root) once",
        path.display()
    );
    path
}

fn url(sslmode: &str, ca: &std::path::Path) -> String {
    format!(
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode={sslmode}&sslrootcert={}",
        ca.display()
    )
}

const ENCRYPTED: &str = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

#[tokio::test]
async fn verify_full_with_the_servers_ca_connects_encrypted_alone_and_pooled() {
    let database = store::Database::parse(&url("verify-full", &tls_file("ca.crt"))).unwrap();
    let client = database.connect_one().await.unwrap_or_else(|error| {
        panic!(
            "{error}\nDoes the local PostgreSQL serve TLS with the test certificate? \
             Run scripts/enable-postgres-tls.sh (as root)"
        )
    });
    let encrypted: bool = client.query_one(ENCRYPTED, &[]).await.unwrap().get(0);
    assert!(encrypted, "pg_stat_ssl shows the connection in clear");

    let pool = store::connect(&database, 1).unwrap();
    let pooled = pool.get().await.expect("a pooled connection over TLS");
    let encrypted: bool = pooled.query_one(ENCRYPTED, &[]).await.unwrap().get(0);
    assert!(
        encrypted,
        "pg_stat_ssl shows the pooled connection in clear"
    );
}

#[tokio::test]
async fn verify_ca_accepts_the_chain_and_disable_stays_in_clear() {
    let ca = tls_file("ca.crt");
    let chained = store::Database::parse(&url("verify-ca", &ca)).unwrap();
    let encrypted: bool = chained
        .connect_one()
        .await
        .unwrap()
        .query_one(ENCRYPTED, &[])
        .await
        .unwrap()
        .get(0);
    assert!(encrypted);
    let clear = store::Database::parse(&url("disable", &ca)).unwrap();
    let encrypted: bool = clear
        .connect_one()
        .await
        .unwrap()
        .query_one(ENCRYPTED, &[])
        .await
        .unwrap()
        .get(0);
    assert!(!encrypted);
}

#[tokio::test]
async fn verify_full_with_a_wrong_ca_is_refused_and_says_what_to_fix() {
    let other = tls_file("other-ca.crt");
    tls_file("ca.crt");
    let database = store::Database::parse(&url("verify-full", &other)).unwrap();
    let refused = database
        .connect_one()
        .await
        .expect_err("a certificate from another CA is refused")
        .to_string();
    assert!(
        refused.contains("its TLS certificate was refused")
            && refused.contains(&format!("the CA in {}", other.display()))
            && refused.contains("sslrootcert="),
        "{refused}"
    );
}

#[tokio::test]
async fn amqps_attempts_tls_and_names_it_when_the_broker_speaks_none() {
    // The local RabbitMQ listens in clear on 5672 only: a TLS handshake
    // there fails, and the error says TLS was what failed.
    let refused = bus::connect("amqps://guest:guest@127.0.0.1:5672/%2f")
        .await
        .expect_err("no TLS handshake succeeds against a plain AMQP listener")
        .to_string();
    assert!(
        refused.contains("RabbitMQ over TLS (amqps://) failed at 127.0.0.1:5672"),
        "{refused}"
    );
}
