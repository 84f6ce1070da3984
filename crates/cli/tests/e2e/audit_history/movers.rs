//! Joiners and leavers of the scripted history: each request with what
//! followed it, when, and at which positions; JSON, CSV and the CLI.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{rfc3339, scripted_history};

/// `(userName, request, membership event, sessions)` of each row.
fn row_summary(rows: &Value) -> Vec<(String, String, String, String)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let text = |key: &str| row[key].as_str().unwrap_or_default().to_owned();
            (
                text("userName"),
                text("request"),
                text("membership_event"),
                text("sessions"),
            )
        })
        .collect()
}

fn row(user: &str, request: &str, event: &str, sessions: &str) -> (String, String, String, String) {
    (user.into(), request.into(), event.into(), sessions.into())
}

/// Each row's positions and times follow one another: the request, then
/// the membership event, then the sessions' end; the delays are theirs.
fn assert_in_order(row: &Value) {
    let at = |key: &str| OffsetDateTime::parse(row[key].as_str().unwrap(), &Rfc3339).unwrap();
    let seconds = |from: OffsetDateTime, to: OffsetDateTime| {
        ((to - from).as_seconds_f64() * 1000.0).round() / 1000.0
    };
    assert!(
        row["request_position"].as_i64() < row["membership_position"].as_i64(),
        "{row}"
    );
    assert_eq!(
        row["membership_delay_seconds"].as_f64().unwrap(),
        seconds(at("requested_at"), at("membership_at")),
        "{row}"
    );
    if row["sessions"] == "revoked" {
        let ends = row["session_positions"].as_array().unwrap();
        assert!(!ends.is_empty());
        assert!(
            ends.iter()
                .all(|end| end.as_i64() > row["membership_position"].as_i64()),
            "{row}"
        );
        assert_eq!(
            row["sessions_delay_seconds"].as_f64().unwrap(),
            seconds(at("requested_at"), at("sessions_revoked_at")),
            "{row}"
        );
    }
}

#[tokio::test]
async fn joiners_and_leavers_give_each_request_what_followed_it_and_when() {
    let history = scripted_history().await;
    let period = |since: OffsetDateTime, until: OffsetDateTime| {
        format!("since={}&until={}", rfc3339(since), rfc3339(until))
    };
    let start = history.january - Duration::days(1);

    // January's joiners: three provisionings, each made a member.
    let joiners = history
        .audit(&format!("joiners?{}", period(start, history.january)))
        .await;
    assert_eq!(
        row_summary(&joiners["rows"]),
        [
            row("ada@contoso.com", "provisioned", "MemberAdded", "n/a"),
            row("bob@contoso.com", "provisioned", "MemberAdded", "n/a"),
            row("cy@contoso.com", "provisioned", "MemberAdded", "n/a"),
        ]
    );
    for joiner in joiners["rows"].as_array().unwrap() {
        assert_eq!(
            (joiner["membership"].as_str(), joiner["role"].as_str()),
            (Some("granted"), Some("member"))
        );
        assert_in_order(joiner);
    }
    // Nobody joined in March, and nobody left in January.
    let none = history
        .audit(&format!(
            "joiners?{}",
            period(history.february, history.march)
        ))
        .await;
    assert_eq!(none["rows"], json!([]));
    let none = history
        .audit(&format!("leavers?{}", period(start, history.january)))
        .await;
    assert_eq!(none["rows"], json!([]));

    // March's leavers: Bob suspended with no session to revoke; Cy removed
    // and her admin API session revoked by the linker.
    let leavers = history
        .audit(&format!(
            "leavers?{}",
            period(history.february, history.march)
        ))
        .await;
    assert_eq!(
        row_summary(&leavers["rows"]),
        [
            row(
                "bob@contoso.com",
                "deactivated",
                "MemberSuspended",
                "none live"
            ),
            row("cy@contoso.com", "deleted", "MemberRemoved", "revoked"),
        ]
    );
    let rows = leavers["rows"].as_array().unwrap();
    for leaver in rows {
        assert_eq!(leaver["membership"], "ended");
        assert_in_order(leaver);
    }
    assert_eq!(rows[0]["user_id"], json!(history.bob));
    assert_eq!(
        rows[0]["request_position"],
        history.app.last_position_of(&history.bob).await
    );
    assert_eq!(
        (
            rows[0]["sessions_revoked"].as_u64(),
            rows[0]["sessions_delay_seconds"].is_null()
        ),
        (Some(0), true)
    );
    assert_eq!(rows[1]["user_id"], json!(history.cy));
    assert_eq!(rows[1]["sessions_revoked"], 1);
    let requested_at =
        OffsetDateTime::parse(rows[1]["requested_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(history.february < requested_at && requested_at <= history.march);
    // The request id is the DELETE's, as the access records and the
    // identity provider's logs know it.
    let sql = history.app.sql().await;
    let request_id: String = sql
        .query_one(
            "select metadata->>'request_id' from events where position = $1",
            &[&rows[1]["request_position"].as_i64().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows[1]["request_id"], json!(request_id));

    // The same rows as CSV (RFC 4180), over HTTP and from the command line.
    let response = history
        .app
        .admin_request(
            Some(&history.owner),
            Method::GET,
            &format!(
                "/orgs/{}/audit/leavers?{}&format=csv",
                history.org_id,
                period(history.february, history.march)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("user_id,userName,request,requested_at,request_id,"),
        "{csv}"
    );
    assert!(
        lines[2].starts_with(&format!("{},cy@contoso.com,deleted,", history.cy)),
        "{csv}"
    );
    assert!(lines[2].contains(",revoked,1,"), "{csv}");
    let printed = history.cli(&[
        "leavers",
        "--since",
        &rfc3339(history.february),
        "--until",
        &rfc3339(history.march),
        "--format",
        "csv",
    ]);
    assert_eq!(printed, csv);
    history.app.stop().await;
}
