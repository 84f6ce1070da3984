//! Issue 10: an organization's verified email domains — added with a TXT
//! challenge, verified through a real DNS resolver asking a nameserver the
//! test runs on loopback, refused (and recorded) when DNS holds something
//! else or nothing, dropped — and the registry the lockout rules ask.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use admin::domains::{self, DomainView};
use dns::TxtResolver;
use domain::{Refusal, RefusalCode};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, test_meta};

/// TXT values by name (lowercase, no trailing dot).
type Zone = Arc<Mutex<HashMap<String, Vec<String>>>>;

/// A tiny authoritative nameserver on 127.0.0.1 (UDP; the admin API's
/// tests ask it too): TXT records for the names it holds, an empty answer
/// for their other types, NXDOMAIN for the rest. It runs on a thread of its own, so a blocked test runtime (or a
/// `rollcall` child process asking it) cannot starve it.
pub(crate) struct TestNameserver {
    pub(crate) address: SocketAddr,
    zone: Zone,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestNameserver {
    pub(crate) fn start() -> TestNameserver {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a free UDP port");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let address = socket.local_addr().unwrap();
        let zone = Zone::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (zone, stop) = (zone.clone(), stop.clone());
            move || serve(&socket, &zone, &stop)
        });
        TestNameserver {
            address,
            zone,
            stop,
            thread: Some(thread),
        }
    }

    /// Publishes `values` as the TXT records at `name` (none: removes it).
    pub(crate) fn set_txt(&self, name: &str, values: &[&str]) {
        let mut zone = self.zone.lock().unwrap();
        if values.is_empty() {
            zone.remove(name);
        } else {
            zone.insert(name.into(), values.iter().map(|v| v.to_string()).collect());
        }
    }

    pub(crate) fn resolver(&self) -> TxtResolver {
        TxtResolver::with_nameserver(self.address).with_timeout(Duration::from_secs(2))
    }
}

impl Drop for TestNameserver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(socket: &UdpSocket, zone: &Zone, stop: &AtomicBool) {
    let mut buffer = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((length, peer)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let Ok(query) = Message::from_vec(&buffer[..length]) else {
            continue;
        };
        let answer = answer(&query, &zone.lock().unwrap());
        let _ = socket.send_to(&answer.to_vec().expect("an answer encodes"), peer);
    }
}

fn answer(query: &Message, zone: &HashMap<String, Vec<String>>) -> Message {
    let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
    answer.metadata.authoritative = true;
    answer.metadata.recursion_desired = query.metadata.recursion_desired;
    answer.queries = query.queries.clone();
    answer.edns = query.edns.clone();
    let Some(question) = query.queries.first() else {
        answer.metadata.response_code = ResponseCode::FormErr;
        return answer;
    };
    let name = question
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match zone.get(&name) {
        None => answer.metadata.response_code = ResponseCode::NXDomain,
        Some(values) if question.query_type() == RecordType::TXT => {
            for value in values {
                // Long-lived, as real records are: a resolver that cached
                // them would not see a fixed record.
                answer.add_answer(Record::from_rdata(
                    question.name().clone(),
                    3600,
                    RData::TXT(TXT::new(vec![value.clone()])),
                ));
            }
        }
        Some(_) => {}
    }
    answer
}

/// The last `CommandRefused` of `org_id`: its command, error and message.
async fn last_refusal(app: &TestApp, org_id: Uuid) -> Value {
    app.sql()
        .await
        .query_one(
            "select payload from events where org_id = $1 and event_type = 'CommandRefused' \
             order by position desc limit 1",
            &[&org_id],
        )
        .await
        .expect("a recorded refusal")
        .get(0)
}

pub(crate) fn refusal(error: &anyhow::Error) -> &Refusal {
    error
        .downcast_ref::<Refusal>()
        .unwrap_or_else(|| panic!("a refusal, not {error:#}"))
}

/// The test's organization with `domain` added.
pub(crate) async fn with_domain(app: &TestApp, domain: &str) -> (Uuid, DomainView) {
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let added = domains::add(&stack.pool, &stack.appender, org_id, &test_meta(), domain)
        .await
        .unwrap();
    (org_id, added)
}

/// Verifies `domain_id` of `org_id`, asking DNS through `resolver`.
pub(crate) async fn verify_through(
    app: &TestApp,
    resolver: &TxtResolver,
    org_id: Uuid,
    domain_id: Uuid,
) -> anyhow::Result<DomainView> {
    let stack = app.stack.as_ref().unwrap();
    domains::verify(
        &stack.pool,
        &stack.appender,
        resolver,
        org_id,
        &test_meta(),
        domain_id,
    )
    .await
}

#[tokio::test]
async fn an_added_domain_is_pending_with_its_own_challenge() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let (org_id, added) = with_domain(&app, "Example.COM.").await;

    let json = serde_json::to_value(&added).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["id", "domain", "txt_name", "txt_value", "state"]);
    assert_eq!(json["domain"], "example.com");
    assert_eq!(json["state"], "pending");
    assert_eq!(json["txt_name"], "_rollcall-challenge.example.com");
    let secret = added
        .txt_value
        .strip_prefix("rollcall-domain-verification=")
        .expect("the challenge's prefix");
    assert_eq!(secret.len(), 32, "16 bytes in hex: {secret}");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()), "{secret}");

    // Another domain gets a secret of its own.
    let other = domains::add(
        &stack.pool,
        &stack.appender,
        org_id,
        &test_meta(),
        "example.org",
    )
    .await
    .unwrap();
    assert_ne!(other.txt_value, added.txt_value);
    assert_eq!(
        domains::list(&stack.pool, org_id).await.unwrap(),
        [added, other]
    );
    assert!(
        app.organization_events(org_id)
            .await
            .ends_with(&["DomainAdded".into(), "DomainAdded".into()])
    );
    app.stop().await;
}

#[tokio::test]
async fn the_right_txt_record_verifies_the_domain_and_registers_it() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let nameserver = TestNameserver::start();
    let (org_id, added) = with_domain(&app, "example.com").await;
    nameserver.set_txt(&added.txt_name, &["v=spf1 -all", &added.txt_value]);

    let verified = verify_through(&app, &nameserver.resolver(), org_id, added.id)
        .await
        .unwrap();
    assert_eq!(
        verified,
        DomainView {
            state: "verified",
            ..added.clone()
        }
    );
    assert_eq!(
        app.organization_events(org_id).await.last().unwrap(),
        "DomainVerified"
    );
    assert!(
        store::is_domain_verified(&stack.pool, org_id, "example.com")
            .await
            .unwrap()
    );
    let registered = store::verified_domains(&stack.pool, org_id).await.unwrap();
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].domain_id, added.id);
    // Another organization has not verified it.
    assert!(
        !store::is_domain_verified(&stack.pool, Uuid::now_v7(), "example.com")
            .await
            .unwrap()
    );
    assert_eq!(
        domains::list(&stack.pool, org_id).await.unwrap(),
        [verified]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_value_is_refused_naming_it_recorded_and_the_domain_stays_pending() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let nameserver = TestNameserver::start();
    let (org_id, added) = with_domain(&app, "example.com").await;
    let stale = "rollcall-domain-verification=0123456789abcdef0123456789abcdef";
    nameserver.set_txt(&added.txt_name, &[stale]);
    let resolver = nameserver.resolver();

    let error = verify_through(&app, &resolver, org_id, added.id)
        .await
        .unwrap_err();
    let refused = refusal(&error);
    assert_eq!(refused.code, RefusalCode::Conflict);
    assert!(refused.message.contains(stale), "{}", refused.message);
    assert!(
        refused.message.contains(&added.txt_value),
        "{}",
        refused.message
    );
    let recorded = last_refusal(&app, org_id).await;
    assert_eq!(recorded["command"], "domain verify");
    assert_eq!(recorded["error"], "conflict");
    assert_eq!(recorded["message"], refused.message.as_str());
    assert_eq!(
        app.organization_events(org_id).await.last().unwrap(),
        "CommandRefused"
    );
    assert_eq!(
        domains::list(&stack.pool, org_id).await.unwrap(),
        std::slice::from_ref(&added)
    );
    assert!(
        !store::is_domain_verified(&stack.pool, org_id, "example.com")
            .await
            .unwrap()
    );

    // The owner fixes the record: the next verification, through the same
    // resolver, sees it at once.
    nameserver.set_txt(&added.txt_name, &[&added.txt_value]);
    let verified = verify_through(&app, &resolver, org_id, added.id)
        .await
        .unwrap();
    assert_eq!(verified.state, "verified");
    app.stop().await;
}

#[tokio::test]
async fn no_record_is_refused_saying_none_was_found() {
    let app = spawn_app().await;
    let nameserver = TestNameserver::start();
    let (org_id, added) = with_domain(&app, "example.com").await;
    // The domain exists, its challenge's name does not.
    nameserver.set_txt("example.com", &["v=spf1 -all"]);

    let error = verify_through(&app, &nameserver.resolver(), org_id, added.id)
        .await
        .unwrap_err();
    assert_eq!(refusal(&error).code, RefusalCode::Conflict);
    // NXDOMAIN at the challenge's name reads as "none found", not a failure.
    let recorded = last_refusal(&app, org_id).await;
    let message = recorded["message"].as_str().unwrap();
    assert_eq!(message, error.to_string());
    assert!(
        message.contains("no TXT record at _rollcall-challenge.example.com"),
        "{message}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_nameserver_that_does_not_answer_is_an_error_and_records_nothing() {
    let app = spawn_app().await;
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (org_id, added) = with_domain(&app, "example.com").await;
    let before = app.organization_events(org_id).await;

    let resolver = TxtResolver::with_nameserver(silent.local_addr().unwrap())
        .with_timeout(Duration::from_millis(300));
    let error = verify_through(&app, &resolver, org_id, added.id)
        .await
        .unwrap_err();
    assert!(error.downcast_ref::<Refusal>().is_none(), "{error:#}");
    let message = format!("{error:#}");
    assert!(
        message.contains(&silent.local_addr().unwrap().to_string()),
        "{message}"
    );
    assert_eq!(app.organization_events(org_id).await, before);
    app.stop().await;
}

#[tokio::test]
async fn a_dropped_domain_is_no_longer_verified() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let nameserver = TestNameserver::start();
    let (org_id, added) = with_domain(&app, "example.com").await;
    nameserver.set_txt(&added.txt_name, &[&added.txt_value]);
    verify_through(&app, &nameserver.resolver(), org_id, added.id)
        .await
        .unwrap();

    domains::drop(&stack.pool, &stack.appender, org_id, &test_meta(), added.id)
        .await
        .unwrap();
    assert!(
        !store::is_domain_verified(&stack.pool, org_id, "example.com")
            .await
            .unwrap()
    );
    assert!(
        store::verified_domains(&stack.pool, org_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(domains::list(&stack.pool, org_id).await.unwrap().is_empty());
    assert_eq!(
        app.organization_events(org_id).await.last().unwrap(),
        "DomainDropped"
    );
    let again = domains::drop(&stack.pool, &stack.appender, org_id, &test_meta(), added.id)
        .await
        .unwrap_err();
    assert_eq!(refusal(&again).code, RefusalCode::NotFound);
    app.stop().await;
}

#[tokio::test]
async fn consumer_and_malformed_domains_and_the_same_domain_twice_are_refused_and_recorded() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let (org_id, _) = with_domain(&app, "example.com").await;
    let meta = test_meta();
    let add =
        |domain: &'static str| domains::add(&stack.pool, &stack.appender, org_id, &meta, domain);

    let consumer = add("gmail.com").await.unwrap_err();
    assert_eq!(refusal(&consumer).code, RefusalCode::Invalid);
    assert!(
        consumer.to_string().contains("public email provider"),
        "{consumer}"
    );
    let malformed = add("exa_mple..com").await.unwrap_err();
    assert_eq!(refusal(&malformed).code, RefusalCode::Invalid);
    let twice = add("EXAMPLE.com").await.unwrap_err();
    assert_eq!(refusal(&twice).code, RefusalCode::Conflict);
    assert!(
        twice.to_string().contains("already has example.com"),
        "{twice}"
    );

    let events = app.organization_events(org_id).await;
    assert!(
        events.ends_with(&[
            "DomainAdded".into(),
            "CommandRefused".into(),
            "CommandRefused".into(),
            "CommandRefused".into()
        ]),
        "{events:?}"
    );
    assert_eq!(domains::list(&stack.pool, org_id).await.unwrap().len(), 1);
    app.stop().await;
}

/// Runs `rollcall domain VERB --org Contoso ARGS` against the test's
/// database, asking `nameserver`: whether it succeeded, and what it printed
/// on stdout and stderr.
async fn rollcall_domain(
    app: &TestApp,
    nameserver: &TestNameserver,
    verb: &str,
    args: &[&str],
) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"));
    command
        .args(["domain", verb, "--org", "Contoso"])
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("ROLLCALL_DNS_SERVER", nameserver.address.to_string())
        .env("RUST_LOG", "warn");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_rollcall_command_adds_verifies_lists_and_drops_a_domain() {
    let app = spawn_app().await;
    let nameserver = TestNameserver::start();

    let (ok, out, err) =
        rollcall_domain(&app, &nameserver, "add", &["--domain", "contoso.com"]).await;
    assert!(ok, "{err}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(added["state"], "pending");
    let id = added["id"].as_str().unwrap();

    let (ok, _, err) = rollcall_domain(&app, &nameserver, "verify", &["--id", id]).await;
    assert!(!ok);
    assert!(
        err.contains("no TXT record at _rollcall-challenge.contoso.com"),
        "{err}"
    );

    nameserver.set_txt(
        added["txt_name"].as_str().unwrap(),
        &[added["txt_value"].as_str().unwrap()],
    );
    let (ok, out, err) = rollcall_domain(&app, &nameserver, "verify", &["--id", id]).await;
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["state"],
        "verified"
    );

    let (ok, out, err) = rollcall_domain(&app, &nameserver, "list", &[]).await;
    assert!(ok, "{err}");
    let listed: Vec<Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "verified");

    let (ok, _, err) = rollcall_domain(&app, &nameserver, "drop", &["--id", id]).await;
    assert!(ok, "{err}");
    assert!(
        !store::is_domain_verified(app.pool(), app.org_id().await, "contoso.com")
            .await
            .unwrap()
    );
    app.stop().await;
}
