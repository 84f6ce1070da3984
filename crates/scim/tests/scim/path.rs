use scim::{AttrPath, Filter, PatchPath, ScimType};

use super::ENT;

#[test]
fn attr_paths() {
    let table: [(&str, Option<&str>, &str, Option<&str>); 6] = [
        ("userName", None, "userName", None),
        ("name.givenName", None, "name", Some("givenName")),
        ("members.$ref", None, "members", Some("$ref")),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            Some(ENT),
            "employeeNumber",
            None,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            Some(ENT),
            "manager",
            Some("value"),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            Some("urn:ietf:params:scim:schemas:core:2.0:User"),
            "name",
            Some("familyName"),
        ),
    ];
    for (text, urn, name, sub) in table {
        let p = AttrPath::parse(text).unwrap();
        assert_eq!(
            (p.urn.as_deref(), p.name.as_str(), p.sub.as_deref()),
            (urn, name, sub)
        );
        assert_eq!(p.to_string(), text);
    }
}

#[test]
fn bad_attr_paths() {
    for text in [
        "", "1name", "name.", "a.b.c", "na me", "urn:", "urn:x:", "a:b", "name.1x",
    ] {
        assert!(AttrPath::parse(text).is_err(), "{text:?}");
    }
}

#[test]
fn matching_ignores_case_and_core_urn() {
    let a = AttrPath::parse("name.givenName").unwrap();
    assert!(a.matches(&AttrPath::parse("NAME.GIVENNAME").unwrap()));
    assert!(a.matches(
        &AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").unwrap()
    ));
    assert!(!a.matches(&AttrPath::parse("name").unwrap()));
    assert!(!a.matches(&AttrPath::parse("name.familyName").unwrap()));
    let e = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
        .unwrap();
    assert!(
        e.matches(
            &AttrPath::parse("URN:IETF:params:scim:schemas:extension:enterprise:2.0:user:Manager")
                .unwrap()
        )
    );
    assert!(!e.matches(&AttrPath::new("manager")));
}

#[test]
fn patch_paths() {
    let p = PatchPath::parse(r#"members[value eq "id"]"#).unwrap();
    assert_eq!(p.attr, AttrPath::new("members"));
    assert_eq!(p.filter, Some(Filter::parse(r#"value eq "id""#).unwrap()));
    assert_eq!(p.sub, None);

    let p = PatchPath::parse(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(p.attr, AttrPath::new("emails"));
    assert_eq!(p.sub.as_deref(), Some("value"));
    assert_eq!(p.to_string(), r#"emails[type eq "work"].value"#);

    let p = PatchPath::parse(r#"roles[primary eq "True"].display"#).unwrap();
    assert_eq!(p.full_attr().to_string(), "roles.display");

    let p = PatchPath::parse("name.givenName").unwrap();
    assert_eq!(
        (p.attr, p.filter, p.sub.as_deref()),
        (AttrPath::new("name"), None, Some("givenName"))
    );

    for (text, name) in [
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "manager",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "employeeNumber",
        ),
    ] {
        let p = PatchPath::parse(text).unwrap();
        assert_eq!(p.attr.urn.as_deref(), Some(ENT));
        assert_eq!(p.attr.name, name);
        assert_eq!(p.to_string(), text);
    }

    let p = PatchPath::parse(r#"manager[value eq "a]b"]"#).unwrap();
    assert_eq!(p.filter, Some(Filter::parse(r#"value eq "a]b""#).unwrap()));
}

#[test]
fn bad_patch_paths_are_invalid_path() {
    for text in [
        "",
        "emails[type eq \"work\"",
        "emails[type eq]",
        "emails[type eq \"work\"]value",
        "emails[type eq \"work\"].",
        "name.givenName[value pr]",
        "1abc",
        "a b",
    ] {
        let e = PatchPath::parse(text).expect_err(text);
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{text:?}");
    }
}
