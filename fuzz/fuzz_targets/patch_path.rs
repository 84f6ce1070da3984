//! Arbitrary UTF-8 → `PatchPath::parse`: never panics; an accepted path
//! prints to text that parses back to the same path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::PatchPath;

fuzz_target!(|text: &str| {
    let Ok(path) = PatchPath::parse(text) else {
        return;
    };
    let printed = path.to_string();
    match PatchPath::parse(&printed) {
        Ok(again) => assert_eq!(again, path, "input {text:?} printed as {printed:?}"),
        Err(e) => panic!("input {text:?} printed as {printed:?}, which fails to parse: {e:?}"),
    }
});
