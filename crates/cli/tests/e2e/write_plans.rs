//! Issue 13: the statements of the write path probe their table's primary
//! key whatever plan PostgreSQL keeps for them. Prepared statements keep a
//! generic plan, made once from the statistics of the moment: one made while
//! a table was small must not scan it whole once it is large.

use crate::helpers::spawn_app;

/// The plan PostgreSQL keeps for `statement` when it plans it generically
/// (without its arguments), as `explain` shows it executed with
/// `arguments` (a parenthesized list, one value per parameter).
pub async fn generic_plan(
    sql: &tokio_postgres::Client,
    statement: &str,
    arguments: &str,
) -> String {
    sql.batch_execute("set plan_cache_mode = force_generic_plan; deallocate all")
        .await
        .expect("plan settings");
    sql.batch_execute(&format!("prepare lookup as {statement}"))
        .await
        .expect("the statement prepares");
    let plan = sql
        .query(&format!("explain execute lookup{arguments}"), &[])
        .await
        .expect("explain");
    plan.iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A batch gives up the unique values its refused requests took and those
/// its requests release (a renamed or deleted user's userName). The first
/// form, `delete ... using unnest(...)`, planned generically against a
/// small table, was a hash join over a sequential scan of every claim.
#[tokio::test]
async fn giving_up_a_unique_value_probes_the_primary_key_whatever_the_plan_was_made_from() {
    let app = spawn_app().await;
    let sql = app.sql().await;
    for many in [false, true] {
        if many {
            sql.batch_execute(
                "insert into unique_claims (org_id, kind, key, owner) \
                 select gen_random_uuid(), 'userName', 'user' || i, gen_random_uuid() \
                 from generate_series(1, 20000) as i; \
                 analyze unique_claims",
            )
            .await
            .expect("many claims");
        }
        let plan = generic_plan(
            &sql,
            store::DROP_CLAIM_STATEMENT,
            "(null, null, null, null)",
        )
        .await;
        assert!(
            !plan.contains("Seq Scan on unique_claims") && !plan.contains("Hash Join"),
            "giving up a claim scans every claim ({} claims):\n{plan}",
            if many { "20,000" } else { "no" }
        );
        assert!(
            plan.contains("Index Scan using unique_claims_pkey"),
            "giving up a claim does not probe the primary key:\n{plan}"
        );
    }
    app.stop().await;
}

/// The linker counts the organization's active owners for every SCIM user
/// it links (a removal must leave one). Counted over every membership, the
/// n-th member of a directory cost O(n) to provision; the count reads the
/// owners only, however many members the organization holds.
#[tokio::test]
async fn counting_active_owners_reads_the_owners_only_however_many_members_there_are() {
    let app = spawn_app().await;
    let sql = app.sql().await;
    let org_id = uuid::Uuid::new_v4().to_string();
    sql.batch_execute(&format!(
        "insert into memberships (org_id, account_id, role, source, state, changed_at) \
         select '{org_id}', gen_random_uuid(), 'member', 'scim', 'active', now() \
         from generate_series(1, 20000); \
         insert into memberships (org_id, account_id, role, source, state, changed_at) \
         values ('{org_id}', gen_random_uuid(), 'owner', 'manual', 'active', now()); \
         analyze memberships"
    ))
    .await
    .expect("a large organization");
    let plan = generic_plan(
        &sql,
        store::ACTIVE_OWNERS_STATEMENT,
        &format!("('{org_id}')"),
    )
    .await;
    assert!(
        !plan.contains("Seq Scan on memberships") && !plan.contains("memberships_pkey"),
        "counting active owners reads every membership of the organization:\n{plan}"
    );
    assert!(
        plan.contains("memberships_active_owners"),
        "counting active owners does not read the owners' index:\n{plan}"
    );
    let owners = store::active_owners(app.pool(), uuid::Uuid::parse_str(&org_id).unwrap())
        .await
        .expect("count");
    assert_eq!(owners, 1, "the one active owner among 20,000 members");
    app.stop().await;
}
