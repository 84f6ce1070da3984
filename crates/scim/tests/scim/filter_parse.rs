use scim::filter::{MAX_FILTER_DEPTH, MAX_FILTER_LEN};
use scim::{AttrPath, CompValue, CompareOp, Filter};

fn path(name: &str) -> AttrPath {
    AttrPath::new(name)
}

fn eq(name: &str, v: &str) -> Filter {
    Filter::compare(path(name), CompareOp::Eq, CompValue::String(v.into()))
}

fn pr(name: &str) -> Filter {
    Filter::Present(path(name))
}

#[track_caller]
fn canonical(input: &str) -> String {
    let f = Filter::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    let printed = f.to_string();
    assert_eq!(
        Filter::parse(&printed).as_ref(),
        Ok(&f),
        "re-parse of {printed:?}"
    );
    printed
}

#[test]
fn canonical_forms() {
    let table = [
        // every operator, any case
        (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
        (r#"userName EQ "bjensen""#, r#"userName eq "bjensen""#),
        (r#"UserName Eq "x""#, r#"UserName eq "x""#),
        (
            r#"name.familyName co "O'Malley""#,
            r#"name.familyName co "O'Malley""#,
        ),
        (r#"userName Sw "J""#, r#"userName sw "J""#),
        (r#"userName ew "son""#, r#"userName ew "son""#),
        (r#"title NE "boss""#, r#"title ne "boss""#),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified GE "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified Le "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        ),
        ("title pr", "title pr"),
        ("title PR", "title pr"),
        // logic and precedence
        (
            r#"title pr and userType eq "Employee""#,
            r#"title pr and userType eq "Employee""#,
        ),
        (
            r#"title pr OR userType eq "Intern""#,
            r#"title pr or userType eq "Intern""#,
        ),
        ("a pr or b pr and c pr", "a pr or b pr and c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("((a pr))", "a pr"),
        ("NOT(a pr) and b pr", "not (a pr) and b pr"),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        ),
        // value paths
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        ),
        (
            r#"emails[type eq "work"].value eq "user@contoso.com""#,
            r#"emails[type eq "work" and value eq "user@contoso.com"]"#,
        ),
        (r#"emails[ type eq "work" ]"#, r#"emails[type eq "work"]"#),
        // URNs
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
        ),
        // literals
        ("active eq true", "active eq true"),
        ("active eq TRUE", "active eq true"),
        ("active eq False", "active eq false"),
        ("title eq NULL", "title eq null"),
        ("age gt 21", "age gt 21"),
        ("score le -1.5", "score le -1.5"),
        ("n eq 1e3", "n eq 1000.0"),
        // escapes
        (
            r#"displayName eq "say \"hi\"""#,
            r#"displayName eq "say \"hi\"""#,
        ),
        (r#"displayName eq "a\/b""#, r#"displayName eq "a/b""#),
        (
            r#"displayName eq "\u00e9t\u00e9""#,
            r#"displayName eq "été""#,
        ),
        // legacy unquoted values
        ("externalId eq jyoung", r#"externalId eq "jyoung""#),
        (
            "userName eq alice@contoso.com",
            r#"userName eq "alice@contoso.com""#,
        ),
        ("externalId eq 0123", r#"externalId eq "0123""#),
        (
            "id eq 54D382A4-2050-4C03-94D1-E769F1D15682 and manager eq 2819c223-7f76-453a-919d-413861904646",
            r#"id eq "54D382A4-2050-4C03-94D1-E769F1D15682" and manager eq "2819c223-7f76-453a-919d-413861904646""#,
        ),
        ("(externalId eq jyoung)", r#"externalId eq "jyoung""#),
        // form-ish whitespace
        ("  userName   eq\t\"x\"  ", r#"userName eq "x""#),
        ("(a pr)and(b pr)", "a pr and b pr"),
        ("a pr\nor\r\nb pr", "a pr or b pr"),
    ];
    for (input, want) in table {
        assert_eq!(canonical(input), want, "input {input:?}");
    }
}

#[test]
fn precedence_builds_the_right_tree() {
    assert_eq!(
        Filter::parse("a pr or b pr and c pr").unwrap(),
        Filter::or(pr("a"), Filter::and(pr("b"), pr("c")))
    );
    assert_eq!(
        Filter::parse("a pr and b pr or c pr").unwrap(),
        Filter::or(Filter::and(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(
        Filter::parse("not (a pr) and b pr or c pr and d pr").unwrap(),
        Filter::or(
            Filter::and(Filter::not(pr("a")), pr("b")),
            Filter::and(pr("c"), pr("d"))
        )
    );
    assert_eq!(
        Filter::parse("a pr and b pr and c pr").unwrap(),
        Filter::and(Filter::and(pr("a"), pr("b")), pr("c"))
    );
}

#[test]
fn literals_and_strings_are_typed() {
    let value = |s: &str| match Filter::parse(s).unwrap() {
        Filter::Compare { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(value("a eq true"), CompValue::Bool(true));
    assert_eq!(value("a eq fAlSe"), CompValue::Bool(false));
    assert_eq!(value("a eq null"), CompValue::Null);
    assert_eq!(value("a eq 42"), CompValue::Number(42.into()));
    assert_eq!(value(r#"a eq "true""#), CompValue::String("true".into()));
    assert_eq!(value(r#"a eq "42""#), CompValue::String("42".into()));
    assert_eq!(
        value(r#"a eq "x\\y\tz\n""#),
        CompValue::String("x\\y\tz\n".into())
    );
    assert_eq!(
        value(r#"a eq "\ud83d\ude00""#),
        CompValue::String("😀".into())
    );
    assert_eq!(value("a eq jyoung"), CompValue::String("jyoung".into()));
}

#[test]
fn attribute_paths_keep_spelling_and_split_urns() {
    let Filter::Compare { path: p, op, .. } = Filter::parse(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(op, CompareOp::Eq);
    assert_eq!(p.urn.as_deref(), Some(super::ENT));
    assert_eq!(
        (p.name.as_str(), p.sub.as_deref()),
        ("manager", Some("value"))
    );

    assert_eq!(
        Filter::parse(r#"emails[type eq "work"].value eq "u@c.com""#).unwrap(),
        Filter::ValuePath {
            attr: path("emails"),
            filter: Box::new(Filter::and(eq("type", "work"), eq("value", "u@c.com"))),
        }
    );
    assert_eq!(
        Filter::parse(r#"USERNAME eq "x""#).unwrap(),
        eq("USERNAME", "x")
    );
}

#[test]
fn errors_point_at_the_problem() {
    let table = [
        ("", 0, "expected an attribute path"),
        ("   ", 3, "expected an attribute path"),
        ("userName", 8, "expected a comparison operator"),
        (r#"userName xx "bob""#, 9, "expected a comparison operator"),
        ("userName eq", 11, "expected a value"),
        ("userName eq )", 12, "expected a value"),
        (r#"userName eq "bob"#, 12, "unterminated string"),
        (r#"(userName eq "bob""#, 18, "expected ')'"),
        (r#"userName eq "bob")"#, 17, "unexpected input"),
        (r#"userName eq "a" and"#, 19, "expected an attribute path"),
        (r#"userName eq "a" or ("#, 20, "expected an attribute path"),
        (r#"emails[type eq "work""#, 21, "expected ']'"),
        (
            r#"emails[type eq "work"][value pr]"#,
            22,
            "unexpected input",
        ),
        (r#"emails[type[value pr] eq "x"]"#, 11, "cannot be nested"),
        (r#"name.givenName[value pr]"#, 0, "must follow an attribute"),
        (r#"1abc eq "x""#, 0, "invalid attribute path"),
        (r#"a eq "\q""#, 5, "invalid string literal"),
        ("not a pr", 4, "expected a comparison operator"),
        (r#"a eq "x" b pr"#, 9, "unexpected input"),
        ("a pr and not (b pr", 18, "expected ')'"),
    ];
    for (input, pos, msg) in table {
        let err = Filter::parse(input).expect_err(input);
        assert_eq!(err.position, pos, "{input:?}: {err}");
        assert!(err.message.contains(msg), "{input:?}: {err}");
    }
}

#[test]
fn length_limit() {
    let head = r#"a eq ""#;
    let fill = |n: usize| format!("{head}{}\"", "x".repeat(n - head.len() - 1));
    assert!(Filter::parse(&fill(MAX_FILTER_LEN)).is_ok());
    let err = Filter::parse(&fill(MAX_FILTER_LEN + 1)).unwrap_err();
    assert_eq!(err.position, MAX_FILTER_LEN);
}

#[test]
fn depth_limit() {
    let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(Filter::parse(&nested(MAX_FILTER_DEPTH)), Ok(pr("a")));
    let err = Filter::parse(&nested(MAX_FILTER_DEPTH + 1)).unwrap_err();
    assert_eq!(err.position, MAX_FILTER_DEPTH);
    assert!(err.message.contains("nesting"));

    let nots = format!(
        "{}a pr{}",
        "not (".repeat(MAX_FILTER_DEPTH + 1),
        ")".repeat(MAX_FILTER_DEPTH + 1)
    );
    assert!(Filter::parse(&nots).is_err());
}

#[test]
fn long_flat_chains_are_not_nesting() {
    let chain = vec!["a pr"; 300].join(" and ");
    assert!(Filter::parse(&chain).is_ok());
}
