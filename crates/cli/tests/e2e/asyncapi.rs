//! The events published on `<prefix>.events` are a contract with consumers
//! downstream (docs/asyncapi.yaml): a queue of the test's own, bound like a
//! consumer's, receives what the relay really publishes for a workload, and
//! every message must match the document's schemas and properties.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{RABBITMQ, spawn_app};

mod schema;

/// The document the test holds the relay to.
const ASYNCAPI: &str = include_str!("../../../../docs/asyncapi.yaml");

/// The longest the test waits for the workload's last event to arrive.
const DELIVERY_WAIT: Duration = Duration::from_secs(30);

/// The document, read as JSON: its schemas' `$ref`s point into it.
fn asyncapi_document() -> Value {
    let document: Value =
        serde_norway::from_str(ASYNCAPI).expect("docs/asyncapi.yaml is valid YAML");
    assert_eq!(
        document["components"]["messages"]["EventBatch"]["payload"]["$ref"],
        "#/components/schemas/Batch",
        "the message's payload is the Batch schema"
    );
    document
}

/// A queue of the test's own on the test's exchange, bound as the document
/// tells consumers to bind (`org.#`).
pub(crate) async fn bind_consumer(prefix: &str) -> (lapin::Connection, lapin::Consumer) {
    let connection = bus::connect(RABBITMQ).await.expect("RabbitMQ answers");
    let channel = connection.create_channel().await.unwrap();
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().as_str().into(),
            bus::Topology::new(prefix).events_exchange.as_str().into(),
            "org.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let consumer = channel
        .basic_consume(
            queue.name().as_str().into(),
            "asyncapi-test".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    (connection, consumer)
}

/// A message's application headers as JSON (each a string), as the
/// document describes them.
fn headers_of(properties: &lapin::BasicProperties) -> Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in properties
        .headers()
        .as_ref()
        .map(|headers| headers.inner().clone())
        .unwrap_or_default()
    {
        let text = match value {
            lapin::types::AMQPValue::LongString(text) => Value::from(text.to_string()),
            other => Value::from(format!("{other:?}")),
        };
        headers.insert(name.to_string(), text);
    }
    Value::Object(headers)
}

/// Checks one delivery against the document: properties, routing key, body
/// and headers.
/// Returns the body's envelopes.
fn check_delivery(document: &Value, delivery: &lapin::message::Delivery) -> Vec<Value> {
    let body: Value = serde_json::from_slice(&delivery.data).expect("a JSON body");
    let errors = schema::errors(document, &document["components"]["schemas"]["Batch"], &body);
    assert!(
        errors.is_empty(),
        "a published message does not match docs/asyncapi.yaml:\n  {}\nmessage: {body:#}",
        errors.join("\n  ")
    );
    let events = body["events"].as_array().unwrap().clone();
    let properties = &delivery.properties;
    assert_eq!(
        properties.content_type().as_ref().map(|t| t.as_str()),
        Some("application/json")
    );
    assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
    let (first, last) = (
        &events[0]["position"],
        &events[events.len() - 1]["position"],
    );
    assert_eq!(
        properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        Some(format!("{first}-{last}")),
        "message_id names the positions carried"
    );
    let headers = headers_of(properties);
    let errors = schema::errors(
        document,
        &document["components"]["messages"]["EventBatch"]["headers"],
        &headers,
    );
    assert!(
        errors.is_empty(),
        "a published message's headers do not match docs/asyncapi.yaml:\n  {}\nheaders: {headers:#}",
        errors.join("\n  ")
    );
    let org_id: uuid::Uuid = events[0]["org_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        headers["rollcall-bucket"],
        domain::partition::bucket(org_id).to_string(),
        "the header rollcall-bucket carries the organization's bucket"
    );
    let round: Vec<i64> = headers["rollcall-round"]
        .as_str()
        .unwrap()
        .split('-')
        .map(|position| position.parse().unwrap())
        .collect();
    assert!(
        round[0] <= first.as_i64().unwrap() && last.as_i64().unwrap() <= round[1],
        "the round {round:?} holds the message's positions {first}-{last}"
    );
    for event in &events {
        assert_eq!(
            delivery.routing_key.as_str(),
            format!("org.{}", event["org_id"].as_str().unwrap()),
            "routed by the organization of every event it carries"
        );
        assert_eq!(
            event["event_type"], event["payload"]["type"],
            "event_type repeats the payload's type"
        );
    }
    events
}

#[tokio::test]
async fn published_messages_match_the_asyncapi_document() {
    let document = asyncapi_document();
    let app = spawn_app().await;
    let (connection, mut consumer) = bind_consumer(&app.bus_prefix).await;

    // A workload an identity provider sends: users created and patched, a
    // group with members, a member removed, deletions.
    let alice = app.provision("alice@contoso.test").await;
    let bob = app.provision("bob@contoso.test").await;
    let (status, body) = app
        .patch_user(
            &alice,
            json!([{"op": "replace", "path": "displayName", "value": "Alice Liddell"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .patch_user(
            &bob,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let group = app.group_of("Engineering", &[&alice, &bob]).await;
    let (status, body) = app
        .patch_group(
            &group,
            json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(app.delete_user(&bob).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.delete_group(&group).await.0, StatusCode::NO_CONTENT);
    let last = app.last_position_of(&group).await;

    let mut seen = BTreeSet::new();
    let mut positions = BTreeSet::new();
    while positions.last().is_none_or(|&position| position < last) {
        let delivery = tokio::time::timeout(DELIVERY_WAIT, consumer.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the relay published nothing more within {DELIVERY_WAIT:?}; \
                     last position seen {positions:?}, waiting for {last}"
                )
            })
            .expect("the consumer is open")
            .expect("a delivery");
        for event in check_delivery(&document, &delivery) {
            positions.insert(event["position"].as_i64().unwrap());
            seen.insert(event["event_type"].as_str().unwrap().to_owned());
        }
    }
    for expected in [
        "UserProvisioned",
        "UserPatched",
        "UserDeactivated",
        "GroupCreated",
        "GroupMembersAdded",
        "GroupMembersRemoved",
        "UserDeleted",
        "GroupDeleted",
    ] {
        assert!(
            seen.contains(expected),
            "no {expected} published; saw {seen:?}"
        );
    }
    let _ = connection.close(0, "done".into()).await;
    app.stop().await;
}

#[test]
fn the_asyncapi_document_names_every_event_type() {
    let document = asyncapi_document();
    let schemas = &document["components"]["schemas"];
    let listed: Vec<&str> = schemas["EventType"]["enum"]
        .as_array()
        .expect("an EventType enum")
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        domain::event::TYPE_NAMES,
        "EventType lists domain::event::TYPE_NAMES in order"
    );
    let alternatives: Vec<&str> = schemas["Event"]["oneOf"]
        .as_array()
        .expect("Event is a oneOf")
        .iter()
        .map(|alternative| {
            alternative["$ref"]
                .as_str()
                .unwrap()
                .trim_start_matches("#/components/schemas/")
        })
        .collect();
    assert_eq!(
        alternatives,
        domain::event::TYPE_NAMES,
        "Event has one schema per type, in order"
    );
    for name in domain::event::TYPE_NAMES {
        assert_eq!(
            schemas[name]["properties"]["type"]["const"], name,
            "the {name} schema fixes its type"
        );
    }
    assert!(
        document["info"]["version"].is_string(),
        "the document is versioned (info.version)"
    );
}
