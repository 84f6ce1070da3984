//! The one case-insensitive comparison key for the values rollcall keeps
//! unique and indexes: `userName`, Group `displayName` and work email
//! addresses (RFC 7643 `caseExact: false`).
//!
//! Uniqueness claims, filters and sorting must all compare with the same key,
//! or one of them lets in what another refuses. Neither Rust's
//! [`str::to_lowercase`] nor PostgreSQL's `lower()` will do:
//! `to_lowercase` applies the Greek final-sigma rule (`ΣΑΣ` → `σας`, but
//! `σασ` stays), so two spellings of one name get two keys; `lower()` maps
//! one character at a time through the database's ctype, so it depends on
//! how the database was created and agrees with neither Unicode nor Rust
//! (under glibc `İ` lowers to a plain `i`). Neither normalises, so a
//! precomposed `é` and `e` + U+0301 stay apart although they are the same
//! text (canonically equivalent).
//!
//! [`fold_case`] is Unicode's canonical caseless match (The Unicode Standard
//! §3.13, D145) made into a key: decompose (NFD), apply the default full case
//! folding (`CaseFolding.txt`, statuses C and F, not the Turkic T mappings),
//! and recompose (NFC) so that the stored key is short and canonical. Two
//! strings get the same key exactly when they are canonical caseless matches.
//!
//! One step comes first: `to_lowercase`. For every character the fold of its
//! lower case is its fold (a test walks all of them), so the step changes no
//! key, with one exception that is the reason for it: the folding tables
//! (`caseless`, Unicode 16) trail Rust's (Unicode 17), and the 28 cased
//! letters new in Unicode 17 (U+A7CE, U+A7D2, U+A7D4, Beria Erfe
//! U+16EA0..U+16EB8) would otherwise not fold at all. With it they fold as
//! their lower case, as Unicode 17 folds them; and a key computed from a
//! lower-cased text, as every uniqueness claim made before migration V0008
//! was, is exactly the key of the text, which makes re-keying those claims
//! exact.

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

/// The case-folded, normalised form of `text`: equal for two texts exactly
/// when Unicode calls them canonical caseless matches (`ΣΑΣ`, `σας` and
/// `σασ` all give `σασ`; `İ` gives `i` + U+0307, as `i̇` does; `ß` gives
/// `ss`). Idempotent: folding a key again gives the key.
pub fn fold_case(text: &str) -> String {
    // Most keys are ASCII (Entra's userNames and emails): there every step
    // but the lower-casing is the identity, and skipping them saves the
    // projector and the write path about 1% of the machine under load.
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    fold_unicode(text)
}

/// [`fold_case`] for any text, step by step.
fn fold_unicode(text: &str) -> String {
    text.to_lowercase()
        .nfd()
        .default_case_fold()
        .nfc()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{fold_case, fold_unicode};
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn every_sigma_folds_alike() {
        for spelling in ["ΣΑΣ@x", "σας@x", "σασ@x", "Σας@x", "ΣΑς@x"] {
            assert_eq!(fold_case(spelling), "σασ@x", "{spelling}");
        }
    }

    #[test]
    fn dotted_capital_i_folds_as_unicode_says() {
        assert_eq!(fold_case("İnfo@x"), "i\u{307}nfo@x");
        assert_eq!(fold_case("i\u{307}nfo@x"), "i\u{307}nfo@x");
        assert_eq!(fold_case("I\u{307}NFO@x"), "i\u{307}nfo@x");
        // Without the dot it is another name (the Turkic mappings are not used).
        assert_eq!(fold_case("INFO@x"), "info@x");
    }

    #[test]
    fn full_folding_and_canonical_equivalence() {
        assert_eq!(fold_case("Straße"), fold_case("STRASSE"));
        assert_eq!(fold_case("Ǆemal"), fold_case("ǆEMAL"));
        assert_eq!(fold_case("Café"), fold_case("CAFE\u{301}"));
        assert_eq!(fold_case("Café"), "café");
        assert_eq!(fold_case("\u{212B}ngström"), fold_case("ÅNGSTRÖM"));
        // Cherokee folds to its capitals; a letter new in Unicode 17 folds too.
        assert_eq!(fold_case("ꭰ"), "Ꭰ");
        assert_eq!(fold_case("\u{A7CE}"), fold_case("\u{A7CF}"));
    }

    /// Every scalar value: folding is idempotent, and lower-casing first
    /// changes no key but those of the 28 letters new in Unicode 17.
    #[test]
    fn every_character_folds_stably() {
        use caseless::Caseless;
        let is_new_in_unicode_17 =
            |c: u32| matches!(c, 0xA7CE | 0xA7D2 | 0xA7D4 | 0x16EA0..=0x16EB8);
        let mut new_letters = 0;
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let text = c.to_string();
            let key = fold_case(&text);
            assert_eq!(fold_case(&key), key, "U+{:04X}", c as u32);
            assert_eq!(fold_case(&text.to_lowercase()), key, "U+{:04X}", c as u32);
            let without: String = text.nfd().default_case_fold().nfc().collect();
            if without != key {
                assert!(is_new_in_unicode_17(c as u32), "U+{:04X}", c as u32);
                new_letters += 1;
            }
        }
        assert_eq!(new_letters, 28);
    }

    fn text() -> impl Strategy<Value = String> {
        // Letters that case-fold and combine in interesting ways, and any char.
        let interesting = prop_oneof![
            Just('Σ'),
            Just('σ'),
            Just('ς'),
            Just('İ'),
            Just('ı'),
            Just('i'),
            Just('I'),
            Just('\u{307}'),
            Just('\u{301}'),
            Just('\u{345}'),
            Just('ß'),
            Just('ẞ'),
            Just('Å'),
            Just('\u{212B}'),
            Just('ǰ'),
            Just('ΐ'),
            Just('ﬃ'),
            Just('\u{A7CE}'),
            Just('\u{16EA0}'),
            Just('Ꭰ'),
            Just('@'),
            any::<char>(),
        ];
        proptest::collection::vec(interesting, 0..12).prop_map(String::from_iter)
    }

    proptest! {
        #[test]
        fn folding_is_idempotent(text in text()) {
            let key = fold_case(&text);
            prop_assert_eq!(fold_case(&key), key);
        }

        #[test]
        fn canonically_equivalent_texts_fold_equal(text in text()) {
            let nfc: String = text.nfc().collect();
            let nfd: String = text.nfd().collect();
            prop_assert_eq!(fold_case(&nfc), fold_case(&text));
            prop_assert_eq!(fold_case(&nfd), fold_case(&text));
        }

        #[test]
        fn lower_casing_first_changes_no_key(text in text()) {
            prop_assert_eq!(fold_case(&text.to_lowercase()), fold_case(&text));
        }

        #[test]
        fn ascii_texts_fold_as_every_step_folds_them(text in "[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(fold_case(&text), fold_unicode(&text));
        }

        #[test]
        fn keys_are_nfc(text in text()) {
            let key = fold_case(&text);
            let nfc: String = key.nfc().collect();
            prop_assert_eq!(nfc, key);
        }
    }
}
