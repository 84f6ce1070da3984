//! Arbitrary bytes → (if JSON) `PatchRequest::parse` → `scim::apply` to a
//! sample user: never panics; a success is a JSON object and applying the same
//! request again gives the same result; the input user is never modified.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::{PatchRequest, UserSchema};
use scim_fuzz::sample_user;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(request) = PatchRequest::parse(&body) else {
        return;
    };
    let user = sample_user();
    let first = scim::apply(&user, &request, &UserSchema);
    let second = scim::apply(&user, &request, &UserSchema);
    assert_eq!(user, sample_user(), "apply modified its input");
    match (first, second) {
        (Ok(a), Ok(b)) => {
            assert!(a.is_object(), "result is not an object: {a}");
            assert_eq!(a, b, "apply is not deterministic for {body}");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "errors differ for {body}"),
        (a, b) => panic!("one run failed, the other did not, for {body}: {a:?} / {b:?}"),
    }
});
