//! `rollcall bench`'s figures are what the server did: each create it
//! counts is a user the server holds, each PATCH renamed one, and nothing
//! the server refused is counted as done.

use std::time::Duration;

use rollcall::bench::{BenchPlan, Operation, OperationFigures};

use crate::helpers::spawn_app;

fn figures_of(figures: &[OperationFigures], operation: Operation) -> &OperationFigures {
    figures
        .iter()
        .find(|figures| figures.operation == operation)
        .unwrap_or_else(|| panic!("no figures for {}", operation.name()))
}

#[tokio::test]
async fn the_bench_counts_what_the_server_did() {
    let app = spawn_app().await;
    let plan = BenchPlan {
        url: app.base.clone(),
        token: app.token.clone(),
        clients: 4,
        duration: Duration::from_secs(1),
        operations: vec![Operation::Create, Operation::Patch, Operation::Get],
        populate: None,
    };
    let figures = rollcall::bench::run(&plan).await.unwrap();
    for operation in &figures {
        assert_eq!(operation.errors, 0, "{operation:?}");
        assert!(operation.count > 0, "{operation:?}");
    }
    let created = figures_of(&figures, Operation::Create).count;

    let (_, listed) = app.filter_users("userName sw \"bench-\"").await;
    assert_eq!(listed["totalResults"], created, "{listed}");
    let (_, renamed) = app.filter_users("displayName sw \"Renamed \"").await;
    let renamed = renamed["totalResults"].as_u64().unwrap();
    assert!(
        renamed > 0 && renamed <= created as u64,
        "{renamed} renamed"
    );

    // A token the server does not know: the bench refuses to run rather
    // than count refusals.
    let refused = rollcall::bench::run(&BenchPlan {
        token: "rcs_not-a-token".into(),
        ..plan
    })
    .await;
    assert!(refused.is_err());
}
