//! Issue 11, the evidence pack: `rollcall audit evidence` writes a period's
//! joiners, leavers and events with a signed checkpoint and a signed
//! manifest of digests; `rollcall audit verify-evidence` holds it to the key
//! the auditor trusts and finds any file changed afterwards.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::members::deactivate;
use crate::helpers::spawn_app;
use crate::integrity::{Scratch, generate_key, rollcall};

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

#[tokio::test]
async fn a_period_becomes_a_signed_pack_that_finds_any_later_edit() {
    let app = spawn_app().await;
    let scratch = Scratch::new();
    let (key, public) = generate_key(&scratch);
    let public_key = public["public_key"].as_str().unwrap();

    // January: two joiners. February (the period): one of them leaves, one
    // more joins.
    let ada = app.provision("ada@contoso.com").await;
    app.provision("bob@contoso.com").await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    app.clock.advance(time::Duration::days(31));
    let since = app.clock.now();
    let (status, _) = deactivate(&app, &ada).await;
    assert!(status.is_success());
    app.provision("cy@contoso.com").await;
    app.wait_for_projector(Duration::from_secs(10)).await;
    let until = app.clock.now() + time::Duration::minutes(1);

    let pack = scratch.path("february");
    let args = [
        "audit",
        "evidence",
        "--org",
        "Contoso",
        "--since",
        &rfc3339(since),
        "--until",
        &rfc3339(until),
        "--out",
        pack.to_str().unwrap(),
    ];
    let (made, said) = rollcall(&app, None, &args);
    assert!(!made, "a pack needs a signing key: {said}");
    assert!(said.contains("ROLLCALL_SIGNING_KEY_FILE"), "{said}");
    let (made, said) = rollcall(&app, Some(&key), &args);
    assert!(made, "{said}");

    let read = |name: &str| std::fs::read_to_string(pack.join(name)).unwrap();
    let manifest: Value = serde_json::from_str(&read("manifest.json")).unwrap();
    let mut files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["name"].as_str().unwrap())
        .collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "checkpoint.json",
            "events.ndjson",
            "joiners.csv",
            "joiners.json",
            "leavers.csv",
            "leavers.json"
        ]
    );
    assert_eq!(manifest["public_key"], public_key);

    // The reports hold the period's movers and no one else.
    let user_names = |name: &str| -> Vec<String> {
        let report: Value = serde_json::from_str(&read(name)).unwrap();
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["userName"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(user_names("leavers.json"), ["ada@contoso.com"]);
    assert_eq!(user_names("joiners.json"), ["cy@contoso.com"]);
    assert!(read("leavers.csv").contains("ada@contoso.com"));

    // The export is the period's events, as the log holds them.
    let org_id = app.org_id().await;
    let in_period: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from events where org_id = $1 \
             and recorded_at >= $2 and recorded_at < $3",
            &[&org_id, &since, &until],
        )
        .await
        .unwrap()
        .get(0);
    let exported = read("events.ndjson").lines().count() as i64;
    assert_eq!(exported, in_period);
    assert_eq!(manifest["exported_events"].as_i64(), Some(in_period));

    // Its head is the head `verify --org` walks to, and the log extends
    // the pack's checkpoint.
    let (_, verified) = rollcall(&app, None, &["verify", "--org", "Contoso"]);
    assert!(
        verified.contains(manifest["head_hash"].as_str().unwrap()),
        "{verified} vs {manifest}"
    );
    let checkpoint = pack.join("checkpoint.json");
    let (extends, said) = rollcall(
        &app,
        None,
        &[
            "verify",
            "--org",
            "Contoso",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
    );
    assert!(extends, "{said}");

    // The auditor's check: sound as written, refused for another key, and
    // refused once any file changed.
    let verify_pack = |key: &str| {
        rollcall(
            &app,
            None,
            &[
                "audit",
                "verify-evidence",
                "--dir",
                pack.to_str().unwrap(),
                "--public-key",
                key,
            ],
        )
    };
    let (sound, said) = verify_pack(public_key);
    assert!(sound, "{said}");
    let (sound, said) = verify_pack(&"00".repeat(32));
    assert!(
        !sound && said.contains("not by the key you trust"),
        "{said}"
    );
    let leavers = pack.join("leavers.csv");
    let original = std::fs::read_to_string(&leavers).unwrap();
    std::fs::write(
        &leavers,
        original.replace("ada@contoso.com", "nobody@contoso.com"),
    )
    .unwrap();
    let (sound, said) = verify_pack(public_key);
    assert!(
        !sound && said.contains("leavers.csv does not match"),
        "{said}"
    );
    std::fs::write(&leavers, &original).unwrap();
    let manifest_path = pack.join("manifest.json");
    let signed = std::fs::read_to_string(&manifest_path).unwrap();
    std::fs::write(&manifest_path, signed.replace("Contoso", "Fabrikam")).unwrap();
    let (sound, said) = verify_pack(public_key);
    assert!(
        !sound && said.contains("signature does not match"),
        "{said}"
    );
    std::fs::write(&manifest_path, signed).unwrap();
    assert!(verify_pack(public_key).0);

    // A pack is written once.
    let (made, said) = rollcall(&app, Some(&key), &args);
    assert!(
        !made && said.contains("already holds an evidence pack"),
        "{said}"
    );
}
