use super::*;
use serde_json::json;

const GROUP: Uuid = Uuid::from_u128(0x100);

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn created() -> GroupState {
    [Event::GroupCreated {
        resource: json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops"}),
    }]
    .iter()
    .fold(GroupState::default(), evolve)
}

fn users(ids: &[u128]) -> HashMap<Uuid, MemberKind> {
    ids.iter().map(|n| (id(*n), MemberKind::User)).collect()
}

fn patch(
    state: &GroupState,
    operations: Value,
    facts: &MemberFacts,
) -> Result<Vec<Event>, Rejection> {
    let plan = GroupPlan::read(GroupCommand::Patch {
        body: json!({"Operations": operations}),
        if_match: None,
    })?;
    decide(state, &plan, facts, GROUP)
}

fn value(n: u128) -> Value {
    json!({"value": id(n).to_string()})
}

#[test]
fn removing_one_of_three_members_removes_only_that_one() {
    let facts = MemberFacts {
        current: [id(1), id(2), id(3)].into(),
        existing: users(&[1, 2, 3]),
    };
    let events = patch(
        &created(),
        json!([{"op": "Remove", "path": "members", "value": [value(2)]}]),
        &facts,
    )
    .unwrap();
    assert_eq!(
        events,
        vec![Event::GroupMembersRemoved {
            members: vec![id(2)]
        }]
    );
}

#[test]
fn adding_a_present_member_and_removing_an_absent_one_record_nothing() {
    let facts = MemberFacts {
        current: [id(1)].into(),
        existing: users(&[1, 2]),
    };
    let events = patch(
        &created(),
        json!([{"op": "add", "path": "members", "value": [value(1)]},
               {"op": "remove", "path": "members", "value": [value(2)]}]),
        &facts,
    )
    .unwrap();
    assert_eq!(events, vec![]);
}

#[test]
fn operations_apply_in_order_and_only_the_net_change_is_recorded() {
    let facts = MemberFacts {
        current: HashSet::new(),
        existing: users(&[1, 2]),
    };
    let events = patch(
        &created(),
        json!([{"op": "add", "path": "members", "value": [value(1), value(2)]},
               {"op": "remove", "path": format!("members[value eq \"{}\"]", id(2))},
               {"op": "replace", "path": "displayName", "value": "Platform"}]),
        &facts,
    )
    .unwrap();
    assert_eq!(
        events,
        vec![
            Event::GroupUpdated {
                resource: json!({"schemas": [GROUP_SCHEMA], "displayName": "Platform"})
            },
            Event::GroupMembersAdded {
                members: vec![Member {
                    value: id(1),
                    kind: MemberKind::User,
                    display: None,
                }]
            },
        ]
    );
}

#[test]
fn replacing_the_members_removes_the_others_and_adds_the_new() {
    let facts = MemberFacts {
        current: [id(1), id(2)].into(),
        existing: users(&[2, 3]),
    };
    let events = patch(
        &created(),
        json!([{"op": "replace", "path": "members", "value": [value(2), value(3)]}]),
        &facts,
    )
    .unwrap();
    assert_eq!(
        events,
        vec![
            Event::GroupMembersRemoved {
                members: vec![id(1)]
            },
            Event::GroupMembersAdded {
                members: vec![Member {
                    value: id(3),
                    kind: MemberKind::User,
                    display: None,
                }]
            },
        ]
    );
}

#[test]
fn an_unknown_member_fails_the_whole_request() {
    let facts = MemberFacts {
        current: HashSet::new(),
        existing: users(&[1]),
    };
    let refused = patch(
        &created(),
        json!([{"op": "replace", "path": "displayName", "value": "X"},
               {"op": "add", "path": "members", "value": [value(1), value(9)]}]),
        &facts,
    );
    match refused {
        Err(Rejection::Invalid(error)) => {
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
            assert!(
                error.detail.contains(&id(9).to_string()),
                "{}",
                error.detail
            );
        }
        other => panic!("expected invalidValue, got {other:?}"),
    }
}

#[test]
fn a_group_cannot_contain_itself() {
    let facts = MemberFacts {
        current: HashSet::new(),
        existing: [(GROUP, MemberKind::Group)].into(),
    };
    let refused = patch(
        &created(),
        json!([{"op": "add", "path": "members", "value": [{"value": GROUP.to_string()}]}]),
        &facts,
    );
    assert!(matches!(refused, Err(Rejection::Invalid(_))));
}

#[test]
fn member_only_patches_commute_and_attribute_patches_do_not() {
    let read = |operations: Value, if_match| {
        GroupPlan::read(GroupCommand::Patch {
            body: json!({"Operations": operations}),
            if_match,
        })
        .unwrap()
    };
    assert!(
        read(
            json!([{"op": "add", "path": "members", "value": [value(1)]}]),
            None
        )
        .commutes()
    );
    assert!(
        !read(
            json!([{"op": "add", "path": "members", "value": [value(1)]}]),
            Some(3)
        )
        .commutes()
    );
    assert!(
        !read(
            json!([{"op": "replace", "path": "displayName", "value": "X"}]),
            None
        )
        .commutes()
    );
}

#[test]
fn a_put_without_members_keeps_them_and_with_an_empty_list_clears_them() {
    let facts = MemberFacts {
        current: [id(1)].into(),
        existing: HashMap::new(),
    };
    let put = |resource: Value| {
        let plan = GroupPlan::read(GroupCommand::Replace {
            resource,
            if_match: None,
        })
        .unwrap();
        decide(&created(), &plan, &facts, GROUP).unwrap()
    };
    assert_eq!(
        put(json!({"displayName": "Ops", "schemas": [GROUP_SCHEMA]})),
        vec![]
    );
    assert_eq!(
        put(json!({"displayName": "Ops", "schemas": [GROUP_SCHEMA], "members": []})),
        vec![Event::GroupMembersRemoved {
            members: vec![id(1)]
        }]
    );
}

#[test]
fn creating_needs_a_display_name_and_records_members_apart() {
    let plan = GroupPlan::read(GroupCommand::Create {
        resource: json!({"displayName": "Ops", "id": "x", "members": [value(1)]}),
    })
    .unwrap();
    assert_eq!(plan.named_members(), [id(1)].into());
    let facts = MemberFacts {
        current: HashSet::new(),
        existing: users(&[1]),
    };
    let events = decide(&GroupState::default(), &plan, &facts, GROUP).unwrap();
    assert_eq!(
        events,
        vec![
            Event::GroupCreated {
                resource: json!({"displayName": "Ops", "schemas": [GROUP_SCHEMA]})
            },
            Event::GroupMembersAdded {
                members: vec![Member {
                    value: id(1),
                    kind: MemberKind::User,
                    display: None,
                }]
            },
        ]
    );
    let nameless = GroupPlan::read(GroupCommand::Create {
        resource: json!({"externalId": "e"}),
    })
    .unwrap();
    assert!(decide(&GroupState::default(), &nameless, &facts, GROUP).is_err());
}

#[test]
fn display_names_are_unique_case_insensitively() {
    let keys = unique_keys(Some(&json!({"DisplayName": "Ops Team"})));
    assert_eq!(keys[0].key, "ops team");
    assert_eq!(keys[0].kind, "groupDisplayName");
    let key = |name: &str| {
        unique_keys(Some(&json!({ "displayName": name })))[0]
            .key
            .clone()
    };
    assert_eq!(key("ΣΑΣ"), key("σας"));
    assert_eq!(key("σας"), key("σασ"));
}

#[test]
fn okta_renames_a_group_sending_its_own_id_and_may_not_send_another() {
    let rename = |id: &str| {
        patch(
            &created(),
            json!([{"op": "replace", "value": {"id": id, "displayName": "Ops Team"}}]),
            &MemberFacts::default(),
        )
    };
    assert_eq!(
        rename(&GROUP.to_string()).unwrap(),
        vec![Event::GroupUpdated {
            resource: json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops Team"})
        }]
    );
    let other = rename(&id(7).to_string());
    assert!(
        matches!(other, Err(Rejection::Invalid(e)) if e.scim_type == Some(ScimType::Mutability)),
    );
}

#[test]
fn attribute_names_in_any_case_are_stored_canonically() {
    let facts = MemberFacts::default();
    let events = patch(
        &created(),
        json!([{"op": "replace", "value": {"DisplayName": "Ops Team", "ExternalId": "e"}}]),
        &facts,
    )
    .unwrap();
    assert_eq!(
        events,
        vec![Event::GroupUpdated {
            resource: json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops Team", "externalId": "e"})
        }]
    );
    let plan = GroupPlan::read(GroupCommand::Replace {
        resource: json!({"DISPLAYNAME": "Ops", "Schemas": [GROUP_SCHEMA]}),
        if_match: None,
    })
    .unwrap();
    // The same group, spelt differently: nothing changed.
    assert_eq!(decide(&created(), &plan, &facts, GROUP).unwrap(), vec![]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// A member operation on ids 1..=12, as a PATCH operation and as what it
    /// means for a plain set.
    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u128>),
        Remove(Vec<u128>),
        Replace(Vec<u128>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let ids = proptest::collection::vec(1u128..=12, 0..5);
        prop_oneof![
            ids.clone().prop_map(Op::Add),
            ids.clone().prop_map(Op::Remove),
            ids.prop_map(Op::Replace),
        ]
    }

    fn operation(op: &Op) -> Value {
        let (name, ids) = match op {
            Op::Add(ids) => ("add", ids),
            Op::Remove(ids) => ("remove", ids),
            Op::Replace(ids) => ("replace", ids),
        };
        json!({"op": name, "path": "members", "value": ids.iter().map(|n| value(*n)).collect::<Vec<_>>()})
    }

    fn model(start: &BTreeSet<u128>, ops: &[Op]) -> BTreeSet<u128> {
        let mut set = start.clone();
        for op in ops {
            match op {
                Op::Add(ids) => set.extend(ids),
                Op::Remove(ids) => ids.iter().for_each(|id| {
                    set.remove(id);
                }),
                Op::Replace(ids) => set = ids.iter().copied().collect(),
            }
        }
        set
    }

    /// The member set after folding `events` onto `start`.
    fn fold(start: &BTreeSet<u128>, events: &[Event]) -> BTreeSet<u128> {
        let mut set = start.clone();
        for event in events {
            match event {
                Event::GroupMembersAdded { members } => {
                    set.extend(members.iter().map(|m| m.value.as_u128()))
                }
                Event::GroupMembersRemoved { members } => members.iter().for_each(|id| {
                    set.remove(&id.as_u128());
                }),
                _ => {}
            }
        }
        set
    }

    fn decided(start: &BTreeSet<u128>, ops: &[Op]) -> Vec<Event> {
        let facts = MemberFacts {
            current: start.iter().map(|n| id(*n)).collect(),
            existing: users(&(1..=12).collect::<Vec<_>>()),
        };
        let operations: Vec<Value> = ops.iter().map(operation).collect();
        patch(&created(), Value::Array(operations), &facts).expect("valid member operations")
    }

    proptest! {
        /// Whatever the operations, the events carry exactly the difference
        /// between the set before and the set the operations mean, and
        /// nothing when there is none.
        #[test]
        fn events_carry_exactly_the_net_change(
            start in proptest::collection::btree_set(1u128..=12, 0..8),
            ops in proptest::collection::vec(op(), 1..6),
        ) {
            let events = decided(&start, &ops);
            let expected = model(&start, &ops);
            prop_assert_eq!(fold(&start, &events), expected.clone());
            let changed: usize = events.iter().map(|event| match event {
                Event::GroupMembersAdded { members } => members.len(),
                Event::GroupMembersRemoved { members } => members.len(),
                _ => 0,
            }).sum();
            prop_assert_eq!(changed, start.symmetric_difference(&expected).count());
        }

        /// Two clients adding and removing different members, each deciding
        /// on the same state, land the same whichever is appended first.
        #[test]
        fn member_changes_on_different_members_commute(
            start in proptest::collection::btree_set(1u128..=12, 0..8),
            first in proptest::collection::vec(1u128..=6, 0..4),
            second in proptest::collection::vec(7u128..=12, 0..4),
            first_removes in any::<bool>(),
            second_removes in any::<bool>(),
        ) {
            let as_op = |ids: Vec<u128>, remove: bool| if remove { Op::Remove(ids) } else { Op::Add(ids) };
            let one = decided(&start, &[as_op(first, first_removes)]);
            let two = decided(&start, &[as_op(second, second_removes)]);
            let one_then_two: Vec<Event> = one.iter().chain(&two).cloned().collect();
            let two_then_one: Vec<Event> = two.iter().chain(&one).cloned().collect();
            prop_assert_eq!(fold(&start, &one_then_two), fold(&start, &two_then_one));
        }
    }
}

#[test]
fn a_put_may_send_the_groups_own_id_but_not_another() {
    let put = |id: Uuid| {
        let plan = GroupPlan::read(GroupCommand::Replace {
            resource: json!({"id": id.to_string(), "displayName": "Ops", "schemas": [GROUP_SCHEMA]}),
            if_match: None,
        })
        .unwrap();
        decide(&created(), &plan, &MemberFacts::default(), GROUP)
    };
    assert_eq!(put(GROUP).unwrap(), vec![]);
    assert!(
        matches!(put(id(9)), Err(Rejection::Invalid(e)) if e.scim_type == Some(ScimType::Mutability))
    );
}
