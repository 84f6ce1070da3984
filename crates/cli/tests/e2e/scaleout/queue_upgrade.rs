//! The projector's queue before `x-single-active-consumer` (`<prefix>.projector`)
//! as an older release left it: bound, and holding messages its projector
//! never folded. The new release consumes a new queue, unbinds the old one
//! and folds what only the old queue carried from the log: nothing is lost.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use reqwest::StatusCode;

use super::cluster::{Cluster, wait_until};
use crate::helpers::{RABBITMQ, entra_user};

/// Declares the exchange and the old queue as releases before issue 13 did.
async fn declare_old_topology(channel: &lapin::Channel, topology: &bus::Topology) {
    channel
        .exchange_declare(
            topology.events_exchange.as_str().into(),
            lapin::ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            topology.legacy_projector_queue.as_str().into(),
            QueueDeclareOptions::durable(),
            arguments,
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            topology.legacy_projector_queue.as_str().into(),
            topology.events_exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
}

/// How many messages the old queue holds.
async fn old_queue_messages(channel: &lapin::Channel, topology: &bus::Topology) -> u32 {
    channel
        .queue_declare(
            topology.legacy_projector_queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the old queue is left for the operator to delete")
        .message_count()
}

#[tokio::test]
async fn events_only_the_old_projector_queue_carried_are_folded_after_the_upgrade() {
    let cluster = Cluster::new().await;
    let topology = bus::Topology::new(&cluster.bus_prefix);
    let connection = bus::connect(RABBITMQ).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    declare_old_topology(&channel, &topology).await;

    // Users written while no projector of the new release runs, each in an
    // organization of its own (a token's next write waits until its last
    // one can be read): answered 201, or 503 once the bounded wait ran out.
    let api = cluster
        .api_with(&[("ROLLCALL_READ_YOUR_WRITES_MS", "50")])
        .await;
    let mut written = Vec::new();
    for n in 0..5 {
        let token = cluster.other_organization(&format!("fabrikam{n}")).await;
        written.push((token, format!("before{n}@contoso.test")));
    }
    for (token, name) in &written {
        let (status, body) = api
            .create_user(token, &entra_user(name))
            .await
            .expect("the API answers");
        assert!(
            [StatusCode::CREATED, StatusCode::SERVICE_UNAVAILABLE].contains(&status),
            "{status} {body}"
        );
    }
    // What the old relay did with them: published into the old queue only,
    // and moved its checkpoint past them.
    let head = cluster.log_head().await;
    let rows: Vec<_> = store::read_after(&cluster.pool, 0, head)
        .await
        .unwrap()
        .iter()
        .map(|row| std::sync::Arc::new(store::OpenedEvent::from_row(row)))
        .collect();
    let publisher = bus::Publisher::open(&connection, &topology).await.unwrap();
    publisher
        .publish_confirmed(&projector::relay::messages(&rows))
        .await
        .unwrap();
    store::set_checkpoint(&cluster.pool, store::Checkpoint::Relay, head)
        .await
        .unwrap();
    let stranded = old_queue_messages(&channel, &topology).await;
    assert!(stranded > 0);

    let _projector = cluster.projector().await;
    wait_until(
        "the new projector folds the log",
        Duration::from_secs(30),
        || async { cluster.checkpoint(store::Checkpoint::Projector).await >= head },
    )
    .await;
    for (token, name) in &written {
        assert_eq!(api.count_users(token, name).await, 1, "user {name}");
    }
    // Later events go to the new queue only: the old one stops growing.
    let (status, _) = api
        .create_user(&cluster.token, &entra_user("after@contoso.test"))
        .await
        .expect("the API answers");
    assert_eq!(status, StatusCode::CREATED);
    let head = cluster.log_head().await;
    wait_until(
        "the relay publishes the new event",
        Duration::from_secs(10),
        || async { cluster.checkpoint(store::Checkpoint::Relay).await >= head },
    )
    .await;
    assert_eq!(
        old_queue_messages(&channel, &topology).await,
        stranded,
        "the old queue, unbound, stops growing"
    );
}
