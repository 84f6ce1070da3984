//! Inputs the fuzz targets in `fuzz/` (or their triage) found, minimised.
//! Each asserts the property the target checks: parse ∘ print is the identity.

use scim::Filter;
use scim::filter::{MAX_FILTER_DEPTH, MAX_FILTER_LEN};

/// An accepted filter prints to text that parses back to the same AST.
#[track_caller]
fn assert_round_trips(text: &str) {
    let filter = Filter::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    let printed = filter.to_string();
    assert_eq!(
        Filter::parse(&printed),
        Ok(filter),
        "{text:?} printed as {printed:?}"
    );
}

/// `fuzz/artifacts/filter_parse/crash-0a480e11…`: serde_json's default float
/// parser is not correctly rounded, so `2.2222222222222222e+23` (the printed
/// form) parsed to a different `f64` than the integer literal it came from.
#[test]
fn big_integer_literal_prints_to_the_same_float() {
    assert_round_trips("userName eq222222222222222222222222");
    assert_round_trips("a eq 2.2222222222222222e+23");
    assert_round_trips("a eq 9E15");
    assert_round_trips("a eq -1e-400");
}

/// `attr[a or b].sub op v` prints as `attr[(a or b) and sub op v]`, one level
/// deeper than it was written: at the depth limit the printed form was rejected.
#[test]
fn value_path_with_sub_stays_within_the_depth_limit_once_printed() {
    let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
    // Bracket + 31 `not (` = 32 levels as written, 33 as printed: rejected.
    let deep = format!("emails[{} or b pr].value eq 1", nots(MAX_FILTER_DEPTH - 1));
    let err = Filter::parse(&deep).unwrap_err();
    assert!(err.message.contains("nesting"), "{err}");
    // One level less, or without the `.sub` (no parentheses added), is fine.
    assert_round_trips(&format!(
        "emails[{} or b pr].value eq 1",
        nots(MAX_FILTER_DEPTH - 2)
    ));
    assert_round_trips(&format!("emails[{} or b pr]", nots(MAX_FILTER_DEPTH - 1)));
    assert_round_trips(&format!(
        "emails[{} and b pr].value eq 1",
        nots(MAX_FILTER_DEPTH - 1)
    ));
}

/// Unquoted legacy values gain quotes when printed, so a filter just under the
/// length limit printed to one over it, which did not parse.
#[test]
fn normalised_form_stays_within_the_length_limit() {
    let chain = |n: usize| vec!["a eq x"; n].join(" or ");
    let n = (MAX_FILTER_LEN + 4) / "a eq x or ".len(); // longest chain that fits as written
    let text = chain(n);
    assert!(text.len() <= MAX_FILTER_LEN && text.len() + 2 * n > MAX_FILTER_LEN);
    let err = Filter::parse(&text).unwrap_err();
    assert!(err.message.contains("normalised"), "{err}");
    assert_round_trips(&chain(MAX_FILTER_LEN / "a eq \"x\" or ".len()));
}
