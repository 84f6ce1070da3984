use scim::{AttrPath, AttributeSchema, Filter, GroupSchema, UserSchema};
use serde_json::{Value, json};

use super::ENT;

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "jyoung",
        "userName": "BJensen@Example.com",
        "nickName": "",
        "active": true,
        "age": 30,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "meta": {"lastModified": "2011-05-13T04:42:34Z"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "roles": [{"value": "Admin", "primary": true}, {"value": "User", "primary": "False"}],
        ENT: {"employeeNumber": "701984", "manager": {"value": "m1"}}
    })
}

fn user_case_exact(p: &AttrPath) -> bool {
    UserSchema.is_case_exact(p.urn.as_deref(), &p.name, p.sub.as_deref())
}

#[test]
fn evaluates_against_a_user() {
    let table = [
        // case-insensitive userName, case-exact externalId and id
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#, true),
        (r#"externalId eq "JYOUNG""#, false),
        (r#"externalId eq "jyoung""#, true),
        ("externalId eq jyoung", true),
        (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        // every operator
        (r#"userName ne "someone""#, true),
        (r#"userName ne "bjensen@example.com""#, false),
        (r#"userName co "jensen""#, true),
        (r#"userName sw "bj""#, true),
        (r#"userName ew ".COM""#, true),
        (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
        ("age gt 21", true),
        ("age le 29.5", false),
        ("age eq 30", true),
        // presence: empty strings and absent attributes are not present
        ("name.givenName pr", true),
        ("nickName pr", false),
        ("title pr", false),
        ("title eq null", true),
        ("userName ne null", true),
        (r#"title ne "x""#, true),
        // booleans, including Entra's string booleans
        ("active eq true", true),
        (r#"active eq "True""#, true),
        (r#"active eq "false""#, false),
        ("active gt false", false),
        // multi-valued: any element
        (r#"emails.value co "jensen.org""#, true),
        (r#"emails co "example.com""#, true),
        (r#"emails.type eq "other""#, false),
        (
            r#"emails[type eq "work"].value eq "BJENSEN@example.com""#,
            true,
        ),
        (r#"emails[type eq "home" and value co "example"]"#, false),
        (r#"emails[type eq "work" or type eq "home"]"#, true),
        (r#"roles[primary eq "True"].value eq "Admin""#, true),
        (r#"roles[primary eq true and value eq "User"]"#, false),
        (r#"roles[primary eq false and value eq "User"]"#, true),
        // extension attributes, URN-qualified or bare, complex compared by value
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
            true,
        ),
        (r#"manager eq "m1""#, true),
        (
            "id eq 2819c223-7f76-453a-919d-413861904646 and manager eq m1",
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "BJ""#,
            true,
        ),
        // logic
        (r#"not (active eq false)"#, true),
        (r#"title pr or userName pr"#, true),
        (r#"title pr and userName pr"#, false),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
    ];
    let resource = user();
    for (input, want) in table {
        let f = Filter::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(f.eval(&resource, &user_case_exact), want, "{input}");
    }
}

#[test]
fn member_values_compare_exactly_in_groups() {
    let group = json!({"displayName": "Sales", "members": [{"value": "AbC"}]});
    let ce = |p: &AttrPath| GroupSchema.is_case_exact(p.urn.as_deref(), &p.name, p.sub.as_deref());
    assert!(
        Filter::parse(r#"members[value eq "AbC"]"#)
            .unwrap()
            .eval(&group, &ce)
    );
    assert!(
        !Filter::parse(r#"members[value eq "abc"]"#)
            .unwrap()
            .eval(&group, &ce)
    );
    assert!(
        Filter::parse(r#"displayName eq "SALES""#)
            .unwrap()
            .eval(&group, &ce)
    );
}

#[test]
fn non_objects_never_match() {
    let f = Filter::parse("a pr").unwrap();
    assert!(!f.eval(&json!([1, 2]), &|_| false));
    assert!(!f.eval(&json!("a"), &|_| false));
}

#[test]
fn case_insensitive_strings_fold_as_uniqueness_does() {
    // Final and medial sigma, and the dotted capital I, compare as the one
    // folding of crate::fold (what userName uniqueness and the store use).
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ΣΑΣ@x",
        "displayName": "İnfo desk",
    });
    for (filter, expected) in [
        (r#"userName eq "σας@x""#, true),
        (r#"userName eq "σασ@x""#, true),
        (r#"userName co "ας@""#, true),
        (r#"displayName sw "i̇nfo""#, true),
    ] {
        let parsed = Filter::parse(filter).unwrap();
        assert_eq!(parsed.eval(&user, &user_case_exact), expected, "{filter}");
    }
}
