//! The relay's rounds on the broker (`bus::Round`): a round is published as
//! one message per organization, and the projection's consumer of every
//! organization takes a round whole, so that it folds without reading a
//! hole from the log.

use std::time::Duration;

use bus::{Consumer, Message, Round, Topology};
use domain::partition::Partition;
use uuid::Uuid;

use crate::helpers::rabbitmq;

/// Publishes the part of `round` (an organization's message) that carries
/// `positions`.
async fn publish_part(publisher: &bus::Publisher, round: &Round, positions: &str) {
    let part = Message {
        org_id: Uuid::new_v4(),
        message_id: positions.into(),
        body: b"{\"events\": []}".to_vec(),
        round: Some(round.clone()),
    };
    publisher.publish_confirmed(&[part]).await.unwrap();
}

/// Takes the next batch on a task of its own; gives the consumer back.
fn take_next(mut consumer: Consumer) -> tokio::task::JoinHandle<(Consumer, usize)> {
    tokio::spawn(async move {
        let batch = tokio::time::timeout(Duration::from_secs(30), consumer.next_batch(512))
            .await
            .expect("a batch within 30 s")
            .expect("a batch");
        (consumer, batch.len())
    })
}

#[tokio::test]
async fn the_projections_consumer_waits_for_the_rest_of_a_round_but_not_for_ever() {
    let connection = rabbitmq().await;
    let topology = Topology::new(&format!("rollcall_test_{}", Uuid::new_v4().simple()));
    bus::declare_topology(&connection, &topology, Partition::WHOLE)
        .await
        .unwrap();
    let publisher = bus::Publisher::open(&connection, &topology).await.unwrap();
    let consumer = bus::consume(&connection, &topology, Partition::WHOLE, 512)
        .await
        .unwrap();

    // A round of two organizations whose second message comes a moment
    // after the first, as from a relay slowed down between its publishes.
    let round = Round {
        id: "1-3".into(),
        parts: 2,
    };
    publish_part(&publisher, &round, "1-3").await;
    let taking = take_next(consumer);
    tokio::time::sleep(Duration::from_millis(100)).await;
    publish_part(&publisher, &round, "2-2").await;
    let (consumer, whole) = taking.await.unwrap();

    // A round cut short (its relay died mid-publish) is taken as it is.
    let cut = Round {
        id: "4-9".into(),
        parts: 3,
    };
    publish_part(&publisher, &cut, "4-5").await;
    let (_consumer, cut_short) = take_next(consumer).await.unwrap();

    // Before the assertions, so that a failure leaves nothing behind.
    bus::delete_topology(&connection, &topology, 1)
        .await
        .unwrap();
    assert_eq!(whole, 2, "the round's two messages are taken together");
    assert_eq!(cut_short, 1, "the part there is, once the wait is over");
}
