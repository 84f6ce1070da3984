//! Arbitrary UTF-8 → `Filter::parse`: never panics; an accepted filter prints
//! to text that parses back to the same AST, and evaluates against a sample
//! user (and each of its emails, as PATCH value filters do) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::Filter;
use scim_fuzz::{case_exact, sample_user};

fuzz_target!(|text: &str| {
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    let printed = filter.to_string();
    match Filter::parse(&printed) {
        Ok(again) => assert_eq!(again, filter, "input {text:?} printed as {printed:?}"),
        Err(e) => panic!("input {text:?} printed as {printed:?}, which fails to parse: {e}"),
    }
    let user = sample_user();
    let _ = filter.eval(&user, &case_exact);
    for email in user["emails"].as_array().into_iter().flatten() {
        let _ = filter.eval(email, &case_exact);
    }
});
