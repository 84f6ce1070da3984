//! Issue 10: a SCIM user is linked to its account and made a member with
//! the default role; `active` suspends and restores it, DELETE removes it;
//! the last active owner stays; owners remove members; the identity
//! provider's locks follow SCIM, the verified domains and the memberships,
//! and the account's names follow the entry in a verified domain.

use std::time::{Duration, Instant};

use admin::members;
use admin::{accounts, provisioning};
use domain::RefusalCode;
use domain::provisioning::SettingsChange;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::domains::refusal;
use crate::helpers::members::{deactivate, entra_user, member_until, verify_domain};
use crate::helpers::{TestApp, spawn_app, test_meta};

/// How long the linker and the projector may take to settle on a loaded
/// machine; only a hang takes this long.
const SETTLED: Duration = Duration::from_secs(60);

const LINKER_EVENTS: &str = "rollcall_linker_events_total";

async fn count_events(app: &TestApp, event_type: &str) -> i64 {
    app.sql()
        .await
        .query_one(
            "select count(*) from events where event_type = $1",
            &[&event_type],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_provisioned_user_becomes_a_member_with_the_default_role_which_later_changes_do_not_touch()
 {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let (status, ana) = app
        .create_user(entra_user("ana@fabrikam.test", "Ana", "Lopez"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ana}");
    let member = member_until(&app, org_id, "ana@fabrikam.test", |m| !m.locks.is_empty()).await;
    assert_eq!(member.state, "active");
    assert_eq!(member.role, "member");
    assert_eq!(member.roles, ["member"]);
    assert_eq!(member.source, "scim");
    assert!(member.scim_managed);
    assert_eq!(member.first_name.as_deref(), Some("Ana"));
    assert_eq!(member.family_name.as_deref(), Some("Lopez"));
    // Not a verified domain: the membership is managed, the account is hers.
    assert_eq!(member.locks, ["leave"]);

    provisioning::add_role(&stack.pool, &stack.appender, org_id, &test_meta(), "viewer")
        .await
        .unwrap();
    let change = SettingsChange {
        default_role: Some("viewer".into()),
        ..SettingsChange::default()
    };
    provisioning::set(&stack.pool, &stack.appender, org_id, &test_meta(), change)
        .await
        .unwrap();
    app.create_user(entra_user("bo@fabrikam.test", "Bo", "Chen"))
        .await;
    let bo = member_until(&app, org_id, "bo@fabrikam.test", |_| true).await;
    assert_eq!(bo.role, "viewer");
    let ana = member_until(&app, org_id, "ana@fabrikam.test", |_| true).await;
    assert_eq!(ana.role, "member", "changing the default changes no member");
    app.stop().await;
}

/// A linker pass reads the facts of all its entries in one statement
/// (`admin::PassFacts`): each entry must get its own. The users come at
/// once, so that one pass holds many; their facts differ, so that facts
/// given to the wrong entry show: half have an account already (manual
/// members), a third are in the organization's verified domain.
#[tokio::test]
async fn users_provisioned_at_once_are_each_linked_to_their_own_account() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    verify_domain(&app, "fabrikam.test").await;
    let people: Vec<(String, bool)> = (0..24)
        .map(|n| {
            let domain = if n % 3 == 0 {
                "fabrikam.test"
            } else {
                "northwind.test"
            };
            (format!("person{n}@{domain}"), n % 2 == 0)
        })
        .collect();
    let mut existing = Vec::new();
    for (email, had_account) in &people {
        if *had_account {
            let account_id = members::add(
                &stack.pool,
                &stack.appender,
                org_id,
                &test_meta(),
                email,
                "member",
            )
            .await
            .unwrap();
            existing.push((email.clone(), account_id));
        }
    }
    // Held while they come, so that one pass finds them all; and only them:
    // a pass that also holds the domain's verification reads nothing ahead.
    app.wait_for_checkpoints(&[store::Checkpoint::Linker], SETTLED)
        .await;
    let held = app.hold_linker().await;
    let creates = people.iter().enumerate().map(|(n, (email, _))| {
        let user = entra_user(email, &format!("Given{n}"), &format!("Family{n}"));
        app.create_user(user)
    });
    for (status, body) in futures::future::join_all(creates).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    held.release().await;
    let mut accounts = Vec::new();
    for (n, (email, _)) in people.iter().enumerate() {
        let verified = email.ends_with("@fabrikam.test");
        let wanted: &[&str] = if verified {
            &["leave", "email", "password"]
        } else {
            &["leave"]
        };
        let member = member_until(&app, org_id, email, |m| {
            m.source == "scim" && m.locks == wanted
        })
        .await;
        assert_eq!(member.state, "active", "{email}");
        if let Some((_, account_id)) = existing.iter().find(|(had, _)| had == email) {
            assert_eq!(member.account_id, *account_id, "{email} keeps its account");
        } else {
            // Made for this entry: with its names.
            assert_eq!(member.first_name, Some(format!("Given{n}")), "{email}");
            assert_eq!(member.family_name, Some(format!("Family{n}")), "{email}");
        }
        accounts.push(member.account_id);
    }
    accounts.sort();
    accounts.dedup();
    assert_eq!(accounts.len(), people.len(), "one account for each person");
    let listed = members::list(&stack.pool, org_id).await.unwrap();
    assert_eq!(
        listed.len(),
        people.len() + 1,
        "the owner and one member for each person: {listed:?}"
    );
    app.stop().await;
}

/// A pass reads at most `PASS_EVENTS` (500) of the events the linker acts
/// on, and passes over the others without reading them: the users past one
/// pass's worth are linked by the next, none is passed over.
#[tokio::test]
async fn more_users_than_one_pass_holds_are_all_linked() {
    const USERS: usize = 620;
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let held = app.hold_linker().await;
    let operations: Vec<serde_json::Value> = (0..USERS)
        .map(|n| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{n}"),
                   "data": entra_user(&format!("many{n}@fabrikam.test"), "Many", &n.to_string())})
        })
        .collect();
    let (status, response) = app.bulk(None, json!(operations)).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    held.release().await;
    app.wait_for_checkpoints(&[store::Checkpoint::Linker], SETTLED)
        .await;
    let listed = members::list(&stack.pool, org_id).await.unwrap();
    let scim = listed.iter().filter(|m| m.source == "scim").count();
    assert_eq!(scim, USERS, "every provisioned user is a member");
    app.stop().await;
}

#[tokio::test]
async fn active_false_suspends_active_true_restores_and_delete_removes() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let (_, user) = app
        .create_user(entra_user("cy@fabrikam.test", "Cy", "Diaz"))
        .await;
    let id = user["id"].as_str().unwrap();
    member_until(&app, org_id, "cy@fabrikam.test", |m| m.state == "active").await;
    let (status, _) = deactivate(&app, id).await;
    assert_eq!(status, StatusCode::OK);
    member_until(&app, org_id, "cy@fabrikam.test", |m| m.state == "suspended").await;
    app.patch_user(id, json!([{"op": "replace", "value": {"active": true}}]))
        .await;
    member_until(&app, org_id, "cy@fabrikam.test", |m| m.state == "active").await;
    let (status, _) = app.delete_user(id).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A removed member is not locked.
    let removed = member_until(&app, org_id, "cy@fabrikam.test", |m| {
        m.state == "removed" && m.locks.is_empty()
    })
    .await;
    assert!(!removed.scim_managed);
    app.stop().await;
}

#[tokio::test]
async fn the_last_active_owner_cannot_be_deprovisioned_until_another_owner_exists() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    // Entra provisions the owner too: the entry links to the owner's
    // membership, which keeps its role.
    let (_, owner) = app
        .create_user(entra_user("owner@contoso.test", "Olu", "Owner"))
        .await;
    let id = owner["id"].as_str().unwrap();
    let linked = member_until(&app, org_id, "owner@contoso.test", |m| m.source == "scim").await;
    assert_eq!(linked.role, "owner");

    for (status, body) in [deactivate(&app, id).await, app.delete_user(id).await] {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("assign another owner first"),
            "{body}"
        );
    }
    let refused: i64 = app
        .sql()
        .await
        .query_one(
            "select count(*) from events where org_id = $1 and event_type = 'CommandRefused' \
             and payload->>'message' like '%assign another owner first%'",
            &[&org_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refused, 2, "each refusal is recorded");
    let (_, still) = app.get_user(id).await;
    assert_eq!(still["active"], true);

    members::add(
        &stack.pool,
        &stack.appender,
        org_id,
        &domain::RequestMeta::command_line("test", Uuid::now_v7()),
        "second@contoso.test",
        "owner",
    )
    .await
    .unwrap();
    let (status, body) = deactivate(&app, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    member_until(&app, org_id, "owner@contoso.test", |m| {
        m.state == "suspended"
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn only_the_last_owner_is_kept_whatever_the_owners_do_among_themselves() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let meta = domain::RequestMeta::command_line("test", Uuid::now_v7());
    let owner_id = accounts::find_by_email(&stack.pool, "owner@contoso.test")
        .await
        .unwrap()
        .unwrap();
    let refused = members::remove(&stack.pool, &stack.appender, org_id, &meta, owner_id)
        .await
        .unwrap_err();
    assert_eq!(refusal(&refused).code, RefusalCode::Invalid);
    let refused = members::change_role(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        owner_id,
        "member",
    )
    .await
    .unwrap_err();
    assert!(
        refusal(&refused)
            .message
            .contains("assign another owner first")
    );

    // Two owners demote each other at once: one of them stays owner.
    let second = members::add(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        "two@contoso.test",
        "owner",
    )
    .await
    .unwrap();
    let (first, other) = tokio::join!(
        members::change_role(
            &stack.pool,
            &stack.appender,
            org_id,
            &meta,
            owner_id,
            "member"
        ),
        members::change_role(
            &stack.pool,
            &stack.appender,
            org_id,
            &meta,
            second,
            "member"
        ),
    );
    assert!(first.is_ok() != other.is_ok(), "exactly one demotion holds");
    assert_eq!(store::active_owners(&stack.pool, org_id).await.unwrap(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_scim_member_cannot_leave_while_scim_is_on_and_a_removed_one_comes_back_only_through_scim()
 {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let meta = domain::RequestMeta::command_line("test", Uuid::now_v7());
    let (_, user) = app
        .create_user(entra_user("di@fabrikam.test", "Di", "Evans"))
        .await;
    let id = user["id"].as_str().unwrap();
    let member = member_until(&app, org_id, "di@fabrikam.test", |m| m.state == "active").await;

    let refused = members::leave(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        member.account_id,
    )
    .await
    .unwrap_err();
    let refused = refusal(&refused);
    assert_eq!(refused.code, RefusalCode::ScimManaged);
    assert!(refused.message.contains("Contoso"), "{}", refused.message);
    assert!(refused.message.contains("identity administrator"));

    members::remove(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        member.account_id,
    )
    .await
    .unwrap();
    member_until(&app, org_id, "di@fabrikam.test", |m| m.state == "removed").await;
    let again = members::add(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        "di@fabrikam.test",
        "member",
    )
    .await
    .unwrap_err();
    assert_eq!(refusal(&again).code, RefusalCode::Conflict);
    // An attribute change does not bring it back; a reactivation does.
    app.patch_user(
        id,
        json!([{"op": "replace", "path": "displayName", "value": "Di E."}]),
    )
    .await;
    deactivate(&app, id).await;
    app.patch_user(
        id,
        json!([{"op": "replace", "path": "active", "value": true}]),
    )
    .await;
    member_until(&app, org_id, "di@fabrikam.test", |m| m.state == "active").await;

    // With SCIM off, nothing holds the member.
    let off = SettingsChange {
        scim_enabled: Some(false),
        ..SettingsChange::default()
    };
    provisioning::set(&stack.pool, &stack.appender, org_id, &test_meta(), off)
        .await
        .unwrap();
    member_until(&app, org_id, "di@fabrikam.test", |m| m.locks.is_empty()).await;
    members::leave(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        member.account_id,
    )
    .await
    .unwrap();
    app.stop().await;
}

#[tokio::test]
async fn in_a_verified_domain_the_identity_provider_holds_email_password_and_names() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let meta = domain::RequestMeta::command_line("test", Uuid::now_v7());
    let (_, user) = app
        .create_user(entra_user("eve@fabrikam.test", "Eve", "Fox"))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let member = member_until(&app, org_id, "eve@fabrikam.test", |m| !m.locks.is_empty()).await;
    // Unverified: her email and password are her own.
    accounts::set_password(
        &stack.pool,
        &stack.appender,
        &meta,
        "eve@fabrikam.test",
        "first long password",
    )
    .await
    .unwrap();
    accounts::change_password(
        &stack.pool,
        &stack.appender,
        &meta,
        member.account_id,
        "first long password",
        "second long password",
    )
    .await
    .unwrap();

    verify_domain(&app, "fabrikam.test").await;
    let locked = member_until(&app, org_id, "eve@fabrikam.test", |m| m.locks.len() == 3).await;
    assert_eq!(locked.locks, ["leave", "email", "password"]);
    for refused in [
        accounts::change_email(
            &stack.pool,
            &stack.appender,
            &meta,
            member.account_id,
            "eve@home.test",
        )
        .await
        .unwrap_err(),
        accounts::change_password(
            &stack.pool,
            &stack.appender,
            &meta,
            member.account_id,
            "second long password",
            "third long password",
        )
        .await
        .unwrap_err(),
    ] {
        let refused = refusal(&refused);
        assert_eq!(refused.code, RefusalCode::ScimManaged);
        assert!(refused.message.contains("Contoso"), "{}", refused.message);
    }

    // SCIM changes to her name and email now update the account; Entra's
    // top-level firstName mapping too.
    app.patch_user(
        &id,
        json!([{"op": "replace", "value": {"name.familyName": "Fox-Grey", "firstName": "Evie"}},
               {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "evie@fabrikam.test"}]),
    )
    .await;
    let renamed = member_until(&app, org_id, "evie@fabrikam.test", |m| {
        m.family_name.as_deref() == Some("Fox-Grey")
    })
    .await;
    assert_eq!(renamed.account_id, member.account_id);

    // Dropping the domain releases email and password, not the membership.
    let domains = admin::domains::list(&stack.pool, org_id).await.unwrap();
    admin::domains::drop(&stack.pool, &stack.appender, org_id, &meta, domains[0].id)
        .await
        .unwrap();
    member_until(&app, org_id, "evie@fabrikam.test", |m| m.locks == ["leave"]).await;
    accounts::change_email(
        &stack.pool,
        &stack.appender,
        &meta,
        member.account_id,
        "eve@home.test",
    )
    .await
    .unwrap();
    app.stop().await;
}

/// The account the linker makes for a new SCIM user is born with its
/// organization's locks: one `AccountCreated` carries them, no
/// `AccountLocked` follows, and they hold as if one had.
#[tokio::test]
async fn a_provisioned_users_new_account_is_born_locked_in_one_event() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    verify_domain(&app, "fabrikam.test").await;
    app.create_user(entra_user("ida@fabrikam.test", "Ida", "Moss"))
        .await;
    let member = member_until(&app, org_id, "ida@fabrikam.test", |m| m.locks.len() == 3).await;
    assert_eq!(member.locks, ["leave", "email", "password"]);
    let stream = store::read_stream(&stack.pool, domain::account::ACCOUNTS, member.account_id)
        .await
        .unwrap();
    let events: Vec<&domain::Event> = stream.iter().map(|stored| &stored.event).collect();
    let [
        domain::Event::AccountCreated {
            locked_by: Some(held),
            ..
        },
    ] = &events[..]
    else {
        panic!("one AccountCreated carrying the locks, got {events:?}");
    };
    assert_eq!(held.org_id, org_id);
    assert_eq!(held.locks, ["leave", "email", "password"]);
    assert_eq!(count_events(&app, "AccountLocked").await, 0);
    let meta = domain::RequestMeta::command_line("test", Uuid::now_v7());
    let refused = accounts::change_email(
        &stack.pool,
        &stack.appender,
        &meta,
        member.account_id,
        "ida@home.test",
    )
    .await
    .unwrap_err();
    assert_eq!(refusal(&refused).code, RefusalCode::ScimManaged);
    app.stop().await;
}

/// A person whose account exists already (made elsewhere) is added, not
/// made: their locks come from following the `MemberAdded`, which the
/// linker goes past only for accounts it made with their locks.
#[tokio::test]
async fn a_provisioned_user_with_an_account_already_gets_the_organizations_locks() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let meta = domain::RequestMeta::command_line("test", Uuid::now_v7());
    let account_id = accounts::ensure(&stack.pool, &stack.appender, "jo@fabrikam.test", &meta)
        .await
        .unwrap();
    app.create_user(entra_user("jo@fabrikam.test", "Jo", "Park"))
        .await;
    let member = member_until(&app, org_id, "jo@fabrikam.test", |m| !m.locks.is_empty()).await;
    assert_eq!(member.account_id, account_id);
    assert_eq!(member.locks, ["leave"]);
    app.stop().await;
}

/// The linker's read passes over the positions it is told to (the
/// `MemberAdded` of memberships it settled), and only those.
#[tokio::test]
async fn the_linkers_read_passes_over_the_positions_it_names() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    for (email, first) in [("kai@fabrikam.test", "Kai"), ("lu@fabrikam.test", "Lu")] {
        app.create_user(entra_user(email, first, "Test")).await;
    }
    member_until(&app, org_id, "kai@fabrikam.test", |_| true).await;
    member_until(&app, org_id, "lu@fabrikam.test", |_| true).await;
    let head = store::log_head(&stack.pool).await.unwrap();
    let types = ["MemberAdded", "UserProvisioned"];
    let read = |skipped: Vec<i64>| {
        let pool = stack.pool.clone();
        async move {
            store::read_types_after(&pool, (0, head), &types, &skipped, 1_000)
                .await
                .unwrap()
                .into_iter()
                .map(|row| (row.position, row.event_type))
                .collect::<Vec<_>>()
        }
    };
    let all = read(Vec::new()).await;
    assert_eq!(all.len(), 4, "{all:?}");
    let member_added: Vec<i64> = all
        .iter()
        .filter(|(_, event_type)| event_type == "MemberAdded")
        .map(|(position, _)| *position)
        .collect();
    let skipped = read(vec![member_added[0]]).await;
    let rest: Vec<_> = all
        .iter()
        .filter(|(position, _)| *position != member_added[0])
        .cloned()
        .collect();
    assert_eq!(skipped, rest);
    assert_eq!(rest.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn an_email_change_refused_for_a_taken_email_leaves_the_accounts_registry_as_the_log() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let (_, eve) = app
        .create_user(entra_user("eve@fabrikam.test", "Eve", "Fox"))
        .await;
    app.create_user(entra_user("zoe@fabrikam.test", "Zoe", "Lind"))
        .await;
    let member = member_until(&app, org_id, "eve@fabrikam.test", |_| true).await;
    member_until(&app, org_id, "zoe@fabrikam.test", |_| true).await;
    verify_domain(&app, "fabrikam.test").await;
    member_until(&app, org_id, "eve@fabrikam.test", |m| m.locks.len() == 3).await;

    // The identity provider gives Eve the email Zoe's account holds: the
    // linker's change of Eve's account is refused (recorded), and nothing
    // of it may stay in the registry the owners' views and the locks read.
    app.patch_user(
        eve["id"].as_str().unwrap(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "zoe@fabrikam.test"}]),
    )
    .await;
    app.wait_for_checkpoints(&[store::Checkpoint::Linker], SETTLED)
        .await;
    let account = store::find_account(&stack.pool, member.account_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.email, "eve@fabrikam.test");
    let stream = store::read_stream(&stack.pool, domain::account::ACCOUNTS, member.account_id)
        .await
        .unwrap();
    assert_eq!(
        domain::account::of(&stream).email.as_deref(),
        Some("eve@fabrikam.test")
    );
    app.stop().await;
}

#[tokio::test]
async fn deprovisioning_racing_an_email_change_never_leaves_the_email_changed() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let meta = domain::RequestMeta::command_line("test", Uuid::now_v7());
    verify_domain(&app, "fabrikam.test").await;
    for round in 0..10 {
        let email = format!("race{round}@fabrikam.test");
        let (_, user) = app.create_user(entra_user(&email, "Ra", "Ce")).await;
        let id = user["id"].as_str().unwrap().to_owned();
        let member = member_until(&app, org_id, &email, |m| m.locks.len() == 3).await;
        let escape = format!("escape{round}@home.test");
        let (deprovisioned, changed) = tokio::join!(
            deactivate(&app, &id),
            accounts::change_email(
                &stack.pool,
                &stack.appender,
                &meta,
                member.account_id,
                &escape,
            ),
        );
        assert_eq!(deprovisioned.0, StatusCode::OK);
        assert!(changed.is_err(), "round {round}: the email changed");
        let account = store::find_account(&stack.pool, member.account_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account.email, email);
        member_until(&app, org_id, &email, |m| {
            m.state == "suspended" && m.locks.len() == 3
        })
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn the_linker_converges_after_a_crash_and_repeating_its_work_changes_nothing() {
    let app = spawn_app().await;
    let org_id = app.org_id().await;
    let stack = app.stack.as_ref().unwrap();
    // A linker that died before it followed the deletion: the lock is held
    // by another session, so the running one cannot follow.
    let (_, user) = app
        .create_user(entra_user("fay@fabrikam.test", "Fay", "Gu"))
        .await;
    let id = user["id"].as_str().unwrap();
    member_until(&app, org_id, "fay@fabrikam.test", |m| m.locks == ["leave"]).await;
    let held = app.hold_linker().await;
    app.delete_user(id).await;
    app.wait_for_checkpoints(&[store::Checkpoint::Projector], SETTLED)
        .await;
    let waiting = member_until(&app, org_id, "fay@fabrikam.test", |_| true).await;
    assert_eq!(waiting.state, "active", "nothing followed while held");
    held.release().await;
    member_until(&app, org_id, "fay@fabrikam.test", |m| {
        m.state == "removed" && m.locks.is_empty()
    })
    .await;

    // Following the whole log again records nothing new. The removal is
    // seen before the linker has followed what it appended, so it is let
    // settle first; and the checkpoint is moved back between two passes
    // (under the linker's lock), as after a crash: a pass in flight would
    // otherwise move it forward again without following anything.
    app.wait_for_checkpoints(&[store::Checkpoint::Linker], SETTLED)
        .await;
    let held = app.hold_linker().await;
    let before = app.log_head().await;
    let followed = app.metric(LINKER_EVENTS).await;
    app.sql()
        .await
        .execute(
            "update checkpoints set position = 0 where name = 'linker'",
            &[],
        )
        .await
        .unwrap();
    held.release().await;
    let started = Instant::now();
    while store::read_checkpoint(&stack.pool, store::Checkpoint::Linker)
        .await
        .unwrap()
        < before
    {
        assert!(started.elapsed() < SETTLED, "the linker did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.log_head().await, before, "a repeat appended events");
    // Operators see the linker's work: the whole log followed once more.
    let refollowed = app
        .wait_for_metric(LINKER_EVENTS, followed + before as f64, SETTLED)
        .await;
    assert_eq!(refollowed, followed + before as f64);
    assert_eq!(count_events(&app, "MemberRemoved").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn members_of_a_mapped_group_nested_or_not_hold_its_role() {
    let app = spawn_app().await;
    let stack = app.stack.as_ref().unwrap();
    let org_id = app.org_id().await;
    let meta = domain::RequestMeta::command_line("test", Uuid::now_v7());
    let (_, user) = app
        .create_user(entra_user("gil@fabrikam.test", "Gil", "Ho"))
        .await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let inner = app.group_of("Auditors EU", &[&user_id]).await;
    let outer = app.group_of("Auditors", &[&inner]).await;
    member_until(&app, org_id, "gil@fabrikam.test", |_| true).await;
    let outer_id: Uuid = outer.parse().unwrap();
    members::map_role_groups(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        "auditor",
        &[outer_id],
    )
    .await
    .unwrap();
    let mapped = member_until(&app, org_id, "gil@fabrikam.test", |m| m.roles.len() == 2).await;
    assert_eq!(mapped.roles, ["member", "auditor"]);
    let refused = members::map_role_groups(
        &stack.pool,
        &stack.appender,
        org_id,
        &meta,
        "owner",
        &[outer_id],
    )
    .await
    .unwrap_err();
    assert_eq!(refusal(&refused).code, RefusalCode::Invalid);

    app.patch_group(
        &inner,
        json!([{"op": "remove", "path": format!("members[value eq \"{user_id}\"]")}]),
    )
    .await;
    member_until(&app, org_id, "gil@fabrikam.test", |m| m.roles == ["member"]).await;
    app.stop().await;
}
