//! How queries reach the bounded index keys of migration V0009.
//!
//! Indexes over client values hold `left(value, 256)` (or, for the work
//! emails, MD5 digests) so that no value can be too long to index. A lookup
//! therefore compares the key, which the index serves, and then the whole
//! value, which decides: two values that share a key cost a recheck, never a
//! wrong answer. The SQL here must name the same expressions as V0009, or
//! PostgreSQL will not use the indexes (the filter plan tests check it).

/// `column = value` as a lookup on the column's key, then the whole value.
/// `value` is SQL already (a bound parameter).
pub(crate) fn equals(column: &str, value: &str) -> String {
    format!("(left({column}, 256) = left({value}, 256) and {column} = {value})")
}

/// Values of `column` that start with `prefix` (SQL, a bound parameter; not
/// empty), as a range over the key and the exact `like pattern`. The range
/// bounds are expressions of the parameter, so a generic plan (made without
/// the value) is still a range over the index, never a scan of the
/// organization. A value whose character after the prefix is U+10FFFF, a
/// non-character, falls outside the range.
pub(crate) fn starts_with(column: &str, prefix: &str, pattern: &str) -> String {
    format!(
        "(left({column}, 256) ~>=~ left({prefix}, 256) \
         and left({column}, 256) ~<~ (left({prefix}, 256) || chr(1114111)) \
         and {column} like {pattern})"
    )
}

/// The user has `email` (folded, SQL) among its folded work emails.
pub(crate) fn has_work_email(email: &str) -> String {
    format!(
        "(scim_digests(work_emails_folded) @> array[md5({email})] \
         and work_emails_folded @> array[{email}])"
    )
}
