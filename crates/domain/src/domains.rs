//! An organization's email domains: added with a DNS challenge, verified when
//! the challenge's TXT record is found, dropped by an owner.
//!
//! A verified domain is what lets the identity provider manage account
//! details (name, email, password lockouts) rather than only the membership:
//! proof that whoever controls the domain's DNS also controls this
//! organization. So verification asks DNS for one exact value that only this
//! organization was shown, and the domains everyone shares (consumer mail)
//! can never be claimed.
//!
//! The secret in the TXT value, the ids and the TXT values found in DNS are
//! all passed in: this module makes no randomness and does no lookup.

use uuid::Uuid;

use crate::Event;
use crate::refusal::Refusal;

/// The label under the domain where the challenge's TXT record goes.
pub const CHALLENGE_LABEL: &str = "_rollcall-challenge";

/// What the challenge's TXT value starts with; the organization's secret
/// follows.
pub const TXT_VALUE_PREFIX: &str = "rollcall-domain-verification=";

/// Mail domains shared by the public: verifying one would hand every account
/// in it to one organization's identity provider.
pub const CONSUMER_DOMAINS: &[&str] = &[
    "aol.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "web.de",
    "yahoo.com",
    "yandex.ru",
];

/// The longest domain name DNS can carry (RFC 1035, less the root's dot).
const MAX_NAME_LEN: usize = 253;
/// The longest label.
const MAX_LABEL_LEN: usize = 63;

/// A domain name as rollcall keeps it: ASCII, lowercase, no trailing dot,
/// at least two labels of letters, digits and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Normalises `text` (surrounding spaces and one trailing dot removed,
    /// lowercased) and checks that it is a domain an organization may claim.
    pub fn parse(text: &str) -> Result<DomainName, Refusal> {
        let trimmed = text.trim();
        let name = trimmed
            .strip_suffix('.')
            .unwrap_or(trimmed)
            .to_ascii_lowercase();
        if name.is_empty() {
            return Err(Refusal::invalid("the domain must not be empty"));
        }
        if !name.is_ascii() {
            return Err(Refusal::invalid(format!(
                "the domain {trimmed:?} is not ASCII: give its xn-- (punycode) form"
            )));
        }
        if name.contains('@') {
            return Err(Refusal::invalid(format!(
                "{trimmed:?} is an email address: give only the part after the @"
            )));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(Refusal::invalid(format!(
                "the domain is {} characters long; DNS allows at most {MAX_NAME_LEN}",
                name.len()
            )));
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 2 {
            return Err(Refusal::invalid(format!(
                "{name:?} is not a domain: it needs at least two labels, like example.com"
            )));
        }
        for label in &labels {
            check_label(&name, label)?;
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|byte| byte.is_ascii_digit()))
        {
            return Err(Refusal::invalid(format!(
                "{name:?} looks like an IP address; give a domain name"
            )));
        }
        if CONSUMER_DOMAINS.contains(&name.as_str()) {
            return Err(Refusal::invalid(format!(
                "{name} is a public email provider's domain that anyone can sign up to, \
                 so no organization can verify it; add your organization's own domain"
            )));
        }
        Ok(DomainName(name))
    }

    /// The domain of an email address, if the part after its last `@` is one.
    pub fn of_email(email: &str) -> Option<DomainName> {
        let (_, domain) = email.rsplit_once('@')?;
        DomainName::parse(domain).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the challenge's TXT record goes: `_rollcall-challenge.<domain>`.
    pub fn txt_name(&self) -> String {
        format!("{CHALLENGE_LABEL}.{}", self.0)
    }
}

impl std::fmt::Display for DomainName {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

fn check_label(name: &str, label: &str) -> Result<(), Refusal> {
    if label.is_empty() {
        return Err(Refusal::invalid(format!(
            "{name:?} has an empty label (two dots in a row, or a leading dot)"
        )));
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(Refusal::invalid(format!(
            "the label {label:?} of {name:?} is {} characters long; DNS allows at most \
             {MAX_LABEL_LEN}",
            label.len()
        )));
    }
    if let Some(bad) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(Refusal::invalid(format!(
            "{name:?} contains {bad:?}; a domain holds only letters, digits, hyphens and dots"
        )));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(Refusal::invalid(format!(
            "the label {label:?} of {name:?} starts or ends with a hyphen"
        )));
    }
    Ok(())
}

/// The TXT value that proves control of a domain for the organization that
/// was shown `secret`.
pub fn txt_value(secret: &str) -> String {
    format!("{TXT_VALUE_PREFIX}{secret}")
}

/// Where a claimed domain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainState {
    /// Added; its TXT record has not been found yet.
    Pending,
    /// Its TXT record was found: the organization controls it.
    Verified,
}

impl DomainState {
    /// How the admin API and the CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::Pending => "pending",
            DomainState::Verified => "verified",
        }
    }
}

/// One domain of an organization, as its stream's events leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDomain {
    pub domain_id: Uuid,
    pub domain: String,
    pub txt_name: String,
    pub txt_value: String,
    pub state: DomainState,
}

impl ClaimedDomain {
    /// What the log says once `event` happened to this domain; other events
    /// leave it as it is.
    pub fn evolve(mut self, event: &Event) -> Self {
        if let Event::DomainVerified { domain_id, .. } = event
            && *domain_id == self.domain_id
        {
            self.state = DomainState::Verified;
        }
        self
    }
}

/// The domains of an organization, in the order they were added, folded
/// from its stream's events.
pub fn claimed<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<ClaimedDomain> {
    let mut domains: Vec<ClaimedDomain> = Vec::new();
    for event in events {
        match event {
            Event::DomainAdded {
                domain_id,
                domain,
                txt_name,
                txt_value,
            } => domains.push(ClaimedDomain {
                domain_id: *domain_id,
                domain: domain.clone(),
                txt_name: txt_name.clone(),
                txt_value: txt_value.clone(),
                state: DomainState::Pending,
            }),
            Event::DomainDropped { domain_id, .. } => {
                domains.retain(|claimed| claimed.domain_id != *domain_id);
            }
            event => {
                domains = domains
                    .into_iter()
                    .map(|claimed| claimed.evolve(event))
                    .collect();
            }
        }
    }
    domains
}

/// The event that adds `domain` (as typed) under `domain_id`, with the TXT
/// value made of `secret`, unless it is no domain an organization may claim
/// or the organization has it already.
pub fn add(
    domains: &[ClaimedDomain],
    domain_id: Uuid,
    domain: &str,
    secret: &str,
) -> Result<Event, Refusal> {
    let domain = DomainName::parse(domain)?;
    if let Some(existing) = domains
        .iter()
        .find(|claimed| claimed.domain == domain.as_str())
    {
        return Err(Refusal::conflict(format!(
            "the organization already has {domain} ({}, id {}); verify or drop that one",
            existing.state.as_str(),
            existing.domain_id
        )));
    }
    Ok(Event::DomainAdded {
        domain_id,
        txt_name: domain.txt_name(),
        txt_value: txt_value(secret),
        domain: domain.0,
    })
}

/// The domain `domain_id` as it awaits verification: refused when the
/// organization has no such domain or verified it already. The caller looks
/// its `txt_name` up before [`verify`].
pub fn awaiting_verification(
    domains: &[ClaimedDomain],
    domain_id: Uuid,
) -> Result<&ClaimedDomain, Refusal> {
    let claimed = find(domains, domain_id)?;
    if claimed.state == DomainState::Verified {
        return Err(Refusal::conflict(format!(
            "{} is verified already",
            claimed.domain
        )));
    }
    Ok(claimed)
}

/// The event that verifies `domain_id`, given the TXT values `found` at its
/// `txt_name`: one must equal its `txt_value` exactly. Otherwise the refusal
/// says what was found instead.
pub fn verify(
    domains: &[ClaimedDomain],
    domain_id: Uuid,
    found: &[String],
) -> Result<Event, Refusal> {
    let claimed = awaiting_verification(domains, domain_id)?;
    if found.contains(&claimed.txt_value) {
        return Ok(Event::DomainVerified {
            domain_id,
            domain: claimed.domain.clone(),
        });
    }
    let instead = if found.is_empty() {
        format!("no TXT record at {}", claimed.txt_name)
    } else {
        let values: Vec<String> = found.iter().map(|value| format!("{value:?}")).collect();
        format!(
            "the TXT records at {} hold {}",
            claimed.txt_name,
            values.join(", ")
        )
    };
    Err(Refusal::conflict(format!(
        "{} is not verified: found {instead}, not {:?}. Add a TXT record named {} with that \
         value and verify again (DNS changes can take a while to be seen)",
        claimed.domain, claimed.txt_value, claimed.txt_name
    )))
}

/// The event that drops `domain_id`, pending or verified.
pub fn drop(domains: &[ClaimedDomain], domain_id: Uuid) -> Result<Event, Refusal> {
    let claimed = find(domains, domain_id)?;
    Ok(Event::DomainDropped {
        domain_id,
        domain: claimed.domain.clone(),
    })
}

fn find(domains: &[ClaimedDomain], domain_id: Uuid) -> Result<&ClaimedDomain, Refusal> {
    domains
        .iter()
        .find(|claimed| claimed.domain_id == domain_id)
        .ok_or_else(|| Refusal::not_found(format!("the organization has no domain {domain_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::RefusalCode;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    /// The domains after `events`.
    fn given(events: &[Event]) -> Vec<ClaimedDomain> {
        claimed(events)
    }

    fn added(n: u128, domain: &str) -> Event {
        add(&[], id(n), domain, SECRET).unwrap()
    }

    fn verified(n: u128, domain: &str) -> Event {
        Event::DomainVerified {
            domain_id: id(n),
            domain: domain.into(),
        }
    }

    #[test]
    fn a_domain_is_lowercased_and_loses_its_trailing_dot() {
        for typed in ["Example.COM", " example.com. ", "example.com"] {
            assert_eq!(DomainName::parse(typed).unwrap().as_str(), "example.com");
        }
        assert_eq!(
            DomainName::parse("mail-1.eu.example.co.uk")
                .unwrap()
                .as_str(),
            "mail-1.eu.example.co.uk"
        );
        assert_eq!(
            DomainName::of_email("Ada@Example.com").unwrap().as_str(),
            "example.com"
        );
        assert_eq!(DomainName::of_email("ada@gmail.com"), None);
    }

    #[test]
    fn malformed_domains_are_refused_saying_why() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        for (typed, says) in [
            ("", "empty"),
            ("localhost", "two labels"),
            ("exa mple.com", "contains ' '"),
            ("ex_ample.com", "contains '_'"),
            ("-example.com", "hyphen"),
            ("example-.com", "hyphen"),
            ("example..com", "empty label"),
            (".example.com", "empty label"),
            ("bücher.de", "punycode"),
            ("ada@example.com", "email address"),
            ("10.0.0.1", "IP address"),
            (long_label.as_str(), "at most 63"),
            (long_name.as_str(), "at most 253"),
        ] {
            let refused = DomainName::parse(typed).unwrap_err();
            assert_eq!(refused.code, RefusalCode::Invalid, "{typed}");
            assert!(
                refused.message.contains(says),
                "{typed}: {}",
                refused.message
            );
        }
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(63))).is_ok());
    }

    #[test]
    fn consumer_mail_domains_are_refused_saying_why() {
        for typed in [
            "gmail.com",
            "Outlook.com",
            "hotmail.com",
            "yahoo.com",
            "icloud.com",
        ] {
            let refused = add(&[], id(1), typed, SECRET).unwrap_err();
            assert_eq!(refused.code, RefusalCode::Invalid, "{typed}");
            assert!(
                refused.message.contains("public email provider"),
                "{}",
                refused.message
            );
        }
    }

    #[test]
    fn an_added_domain_is_pending_with_its_challenge() {
        let event = add(&[], id(1), "Example.com", SECRET).unwrap();
        assert_eq!(
            event,
            Event::DomainAdded {
                domain_id: id(1),
                domain: "example.com".into(),
                txt_name: "_rollcall-challenge.example.com".into(),
                txt_value: format!("rollcall-domain-verification={SECRET}"),
            }
        );
        let domains = given(&[event]);
        assert_eq!(domains.len(), 1);
        assert_eq!(domains[0].state, DomainState::Pending);
    }

    #[test]
    fn a_domain_the_organization_has_is_refused_pending_or_verified() {
        let pending = given(&[added(1, "example.com")]);
        let refused = add(&pending, id(2), "EXAMPLE.com", SECRET).unwrap_err();
        assert_eq!(refused.code, RefusalCode::Conflict);
        assert!(refused.message.contains("pending"), "{}", refused.message);

        let verified = given(&[added(1, "example.com"), verified(1, "example.com")]);
        let refused = add(&verified, id(2), "example.com", SECRET).unwrap_err();
        assert_eq!(refused.code, RefusalCode::Conflict);
        assert!(refused.message.contains("verified"), "{}", refused.message);

        assert!(add(&verified, id(2), "example.org", SECRET).is_ok());
    }

    #[test]
    fn the_exact_txt_value_verifies_a_domain() {
        let domains = given(&[added(1, "example.com")]);
        let found = [
            "v=spf1 -all".to_owned(),
            format!("rollcall-domain-verification={SECRET}"),
        ];
        let event = verify(&domains, id(1), &found).unwrap();
        assert_eq!(event, verified(1, "example.com"));
        let domains = given(&[added(1, "example.com"), event]);
        assert_eq!(domains[0].state, DomainState::Verified);
        // Verified is where it stays: a second verification is refused.
        assert_eq!(
            verify(&domains, id(1), &found).unwrap_err().code,
            RefusalCode::Conflict
        );
    }

    #[test]
    fn another_value_is_refused_naming_what_was_found() {
        let domains = given(&[added(1, "example.com")]);
        for wrong in [
            format!("rollcall-domain-verification={}", SECRET.to_uppercase()),
            format!("rollcall-domain-verification={SECRET} "),
            "someone-else".to_owned(),
        ] {
            let refused = verify(&domains, id(1), std::slice::from_ref(&wrong)).unwrap_err();
            assert_eq!(refused.code, RefusalCode::Conflict);
            assert!(
                refused.message.contains(&format!("{wrong:?}")),
                "{}",
                refused.message
            );
            assert!(
                refused.message.contains(&domains[0].txt_value),
                "{}",
                refused.message
            );
        }
    }

    #[test]
    fn no_record_is_refused_saying_none_was_found() {
        let domains = given(&[added(1, "example.com")]);
        let refused = verify(&domains, id(1), &[]).unwrap_err();
        assert_eq!(refused.code, RefusalCode::Conflict);
        assert!(
            refused
                .message
                .contains("no TXT record at _rollcall-challenge.example.com"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn an_unknown_domain_is_not_found() {
        let domains = given(&[added(1, "example.com")]);
        assert_eq!(
            verify(&domains, id(2), &[]).unwrap_err().code,
            RefusalCode::NotFound
        );
        assert_eq!(
            drop(&domains, id(2)).unwrap_err().code,
            RefusalCode::NotFound
        );
    }

    #[test]
    fn a_dropped_domain_is_gone_and_may_be_added_again() {
        let history = [
            added(1, "example.com"),
            verified(1, "example.com"),
            added(2, "example.org"),
        ];
        let event = drop(&given(&history), id(1)).unwrap();
        assert_eq!(
            event,
            Event::DomainDropped {
                domain_id: id(1),
                domain: "example.com".into()
            }
        );
        let mut history = history.to_vec();
        history.push(event);
        let domains = given(&history);
        assert_eq!(
            domains
                .iter()
                .map(|d| d.domain.as_str())
                .collect::<Vec<_>>(),
            ["example.org"]
        );
        assert!(add(&domains, id(3), "example.com", SECRET).is_ok());
        assert_eq!(
            drop(&domains, id(1)).unwrap_err().code,
            RefusalCode::NotFound
        );
    }
}
