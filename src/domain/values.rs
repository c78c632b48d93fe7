//! Values that can only be built valid: a thread key, a comment id, an email, an address group,
//! a moderator's name.
//!
//! Each is parsed once where it enters (the HTTP extractors and request structs, the CLI and
//! the importers) and then travels typed, so nothing further in has to check it again or
//! invent its own refusal. Their serde forms are the plain strings the events and the API
//! always carried, and deserialising goes through the same parser, so a value read back from
//! JSON is as valid as one built in code.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::input::{self, FieldProblem, MAX_EMAIL_LEN, MAX_THREAD_KEY};

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A thread key that is empty, over 128 bytes or holds a character other than ASCII
    /// letters, digits and `-_.:`.
    #[error("a thread key is 1 to {MAX_THREAD_KEY} ASCII letters, digits or -_.:")]
    ThreadKey,
    /// A comment id that is not a UUID.
    #[error("a comment id is a UUID")]
    CommentId,
    /// An empty email.
    #[error("the email is empty")]
    EmailEmpty,
    /// An email over 254 bytes (the RFC 5321 path limit).
    #[error("the email is longer than {MAX_EMAIL_LEN} bytes")]
    EmailTooLong,
    /// An email that is not of the form `local@domain.tld`.
    #[error("the email is not of the form local@domain.tld")]
    EmailInvalid,
    /// Not an address group: an IPv4 address as `/32`, or an IPv6 `/64` network.
    #[error("an address group is an IPv4 address/32 or an IPv6 /64 network")]
    AddressGroup,
    /// A moderator's name that is blank, over 64 characters or holds a control character.
    #[error(
        "a moderator's name is 1 to {MAX_MODERATOR_NAME} characters without control characters"
    )]
    ModeratorName,
}

/// Longest moderator name, in characters.
pub const MAX_MODERATOR_NAME: usize = 64;

impl ValueError {
    /// The field problem a reader is shown for this refusal (its message is in both
    /// languages, `http::messages::field_problem`). Readers never type an address group (it
    /// is derived from the connection) nor a moderator's name, so those refusals, met only in
    /// stored or imported data and the settings, are shown as an invalid id.
    pub fn problem(self) -> FieldProblem {
        match self {
            ValueError::ThreadKey => FieldProblem::InvalidThreadKey,
            ValueError::CommentId => FieldProblem::InvalidId,
            ValueError::EmailEmpty => FieldProblem::Required,
            ValueError::EmailTooLong => FieldProblem::TooLong,
            ValueError::EmailInvalid => FieldProblem::InvalidEmail,
            ValueError::AddressGroup | ValueError::ModeratorName => FieldProblem::InvalidId,
        }
    }
}

/// Implements the string plumbing shared by the string-backed values: `Display`, `AsRef<str>`,
/// `FromStr`, `TryFrom<String>` (serde's way in) and `From<Self> for String` (its way out).
macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            /// The value as text, exactly as it was accepted.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                $name::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(s: String) -> Result<Self, ValueError> {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// A site's key for an article: 1 to 128 ASCII letters, digits and `-_.:`, which is safe in a
/// URL path, a stream name and an HTML attribute without escaping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ThreadKey(String);

impl ThreadKey {
    /// Accepts `key` exactly as given (no trimming: the edge decides whether spaces around a
    /// form field are the reader's).
    pub fn parse(key: &str) -> Result<ThreadKey, ValueError> {
        if input::is_valid_thread_key(key) {
            Ok(ThreadKey(key.to_string()))
        } else {
            Err(ValueError::ThreadKey)
        }
    }
}

string_value!(ThreadKey);

/// A moderator's name as the settings, the console's accounts and the audit filter take it: 1 to
/// 64 characters once trimmed, none of them a control character (the name is written into log
/// lines, the audit trail and the console's pages).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModeratorName(String);

impl ModeratorName {
    /// Accepts `name` trimmed of surrounding whitespace.
    pub fn parse(name: &str) -> Result<ModeratorName, ValueError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_MODERATOR_NAME
            || name.chars().any(char::is_control)
        {
            return Err(ValueError::ModeratorName);
        }
        Ok(ModeratorName(name.to_string()))
    }
}

string_value!(ModeratorName);

/// An email address of the form `local@domain.tld`, at most 254 bytes, as typed (case kept:
/// the privacy tools compare it lower-cased).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Accepts `email` exactly as given; an empty, too long or malformed one gets the refusal
    /// that says which.
    pub fn parse(email: &str) -> Result<Email, ValueError> {
        if email.is_empty() {
            Err(ValueError::EmailEmpty)
        } else if email.len() > MAX_EMAIL_LEN {
            Err(ValueError::EmailTooLong)
        } else if !input::is_valid_email(email) {
            Err(ValueError::EmailInvalid)
        } else {
            Ok(Email(email.to_string()))
        }
    }
}

/// Emails are private: a stray `{:?}` in a log line must not leak one.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(..)")
    }
}

string_value!(Email);

/// A comment's id: a UUID, written in its hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommentId(Uuid);

impl CommentId {
    /// Accepts what [`Uuid::parse_str`] accepts (hyphenated, simple, braced or URN forms).
    pub fn parse(id: &str) -> Result<CommentId, ValueError> {
        Uuid::parse_str(id)
            .map(CommentId)
            .map_err(|_| ValueError::CommentId)
    }

    /// The UUID, for the store and the projections, which key comments by it.
    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for CommentId {
    fn from(id: Uuid) -> CommentId {
        CommentId(id)
    }
}

impl From<CommentId> for Uuid {
    fn from(id: CommentId) -> Uuid {
        id.0
    }
}

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for CommentId {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        CommentId::parse(s)
    }
}

/// The group of addresses treated as one client: an IPv4 address (as `/32`) or an IPv6 `/64`
/// (an IPv4-mapped IPv6 address counts as IPv4). Stored in events instead of the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddressGroup(IpNet);

impl AddressGroup {
    /// The group `ip` belongs to; every address has one.
    pub fn of(ip: IpAddr) -> AddressGroup {
        AddressGroup(crate::limits::address_group(ip))
    }

    /// Accepts a group as [`AddressGroup::of`] writes it: `a.b.c.d/32` or `x:x:x:x::/64`.
    pub fn parse(group: &str) -> Result<AddressGroup, ValueError> {
        let net: IpNet = group.parse().map_err(|_| ValueError::AddressGroup)?;
        let canonical = AddressGroup::of(net.network());
        if canonical.0 == net {
            Ok(canonical)
        } else {
            Err(ValueError::AddressGroup)
        }
    }

    /// The network, for limiters and ban matching.
    pub fn net(self) -> IpNet {
        self.0
    }
}

impl fmt::Display for AddressGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AddressGroup {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        AddressGroup::parse(s)
    }
}

impl TryFrom<String> for AddressGroup {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        AddressGroup::parse(&s)
    }
}

impl From<AddressGroup> for String {
    fn from(g: AddressGroup) -> String {
        g.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trips<T>(v: &T)
    where
        T: Serialize + for<'de> Deserialize<'de> + fmt::Display + FromStr + PartialEq + fmt::Debug,
        <T as FromStr>::Err: fmt::Debug,
    {
        let json = serde_json::to_string(v).unwrap();
        assert_eq!(json, serde_json::to_string(&v.to_string()).unwrap());
        assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), v);
        assert_eq!(&v.to_string().parse::<T>().unwrap(), v);
    }

    #[test]
    fn the_forms_the_api_and_the_events_carry_are_accepted() {
        for key in ["berita-1", "a", "2022:11.x_y", &"k".repeat(128)] {
            assert_eq!(ThreadKey::parse(key).unwrap().as_str(), key);
        }
        assert_eq!(
            Email::parse("Budi@Contoh.id").unwrap().as_str(),
            "Budi@Contoh.id"
        );
        let id = Uuid::new_v4();
        assert_eq!(CommentId::parse(&id.to_string()).unwrap().uuid(), id);
        assert_eq!(
            AddressGroup::of("2001:db8:1:2:ffff::9".parse().unwrap()).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            AddressGroup::parse("203.0.113.7/32").unwrap(),
            AddressGroup::of("::ffff:203.0.113.7".parse().unwrap())
        );
    }

    #[test]
    fn each_kind_of_bad_value_gets_its_own_refusal() {
        for key in ["", "a b", "é", "a/b", "<x>", &"k".repeat(129)] {
            assert_eq!(ThreadKey::parse(key), Err(ValueError::ThreadKey), "{key:?}");
        }
        assert_eq!(Email::parse(""), Err(ValueError::EmailEmpty));
        assert_eq!(
            Email::parse(&format!("{}@b.id", "a".repeat(260))),
            Err(ValueError::EmailTooLong)
        );
        for e in ["bukan-email", "a@b", " a@b.id", "a@@b.id"] {
            assert_eq!(Email::parse(e), Err(ValueError::EmailInvalid), "{e:?}");
        }
        assert_eq!(CommentId::parse("12"), Err(ValueError::CommentId));
        for g in [
            "203.0.113.0/24",
            "2001:db8::1/128",
            "2001:db8::/48",
            "x",
            "",
        ] {
            assert_eq!(
                AddressGroup::parse(g),
                Err(ValueError::AddressGroup),
                "{g:?}"
            );
        }
        assert!(serde_json::from_str::<ThreadKey>("\"a b\"").is_err());
        assert!(serde_json::from_str::<Email>("\"x\"").is_err());
        assert_eq!(
            ValueError::ThreadKey.problem(),
            FieldProblem::InvalidThreadKey
        );
    }

    #[test]
    fn an_email_stays_out_of_debug_output() {
        let e = Email::parse("rahasia@contoh.id").unwrap();
        assert!(!format!("{e:?}").contains("rahasia"));
    }

    proptest! {
        #[test]
        fn thread_keys_are_accepted_exactly_when_the_rule_says(key in "[a-zA-Z0-9._:-]{0,130}|.{0,20}") {
            let rule = !key.is_empty()
                && key.len() <= MAX_THREAD_KEY
                && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
            match ThreadKey::parse(&key) {
                Ok(k) => {
                    prop_assert!(rule);
                    prop_assert_eq!(k.as_str(), key.as_str());
                    round_trips(&k);
                }
                Err(e) => {
                    prop_assert!(!rule);
                    prop_assert_eq!(e, ValueError::ThreadKey);
                    prop_assert!(serde_json::from_value::<ThreadKey>(key.into()).is_err());
                }
            }
        }

        #[test]
        fn moderator_names_are_accepted_exactly_when_the_rule_says(name in "[ a-zA-Zé0-9_.-]{0,70}|.{0,10}") {
            let trimmed = name.trim();
            let rule = !trimmed.is_empty()
                && trimmed.chars().count() <= MAX_MODERATOR_NAME
                && !trimmed.chars().any(char::is_control);
            match ModeratorName::parse(&name) {
                Ok(n) => {
                    prop_assert!(rule);
                    prop_assert_eq!(n.as_str(), trimmed);
                    round_trips(&n);
                }
                Err(e) => {
                    prop_assert!(!rule);
                    prop_assert_eq!(e, ValueError::ModeratorName);
                    prop_assert!(serde_json::from_value::<ModeratorName>(trimmed.into()).is_err());
                }
            }
        }

        #[test]
        fn emails_are_accepted_exactly_when_the_input_rule_says(
            email in "[a-z0-9.+]{0,8}@[a-z0-9-]{0,6}(\\.[a-z]{0,4}){0,2}|.{0,30}"
        ) {
            match Email::parse(&email) {
                Ok(e) => {
                    prop_assert!(input::is_valid_email(&email));
                    prop_assert_eq!(e.as_str(), email.as_str());
                    round_trips(&e);
                }
                Err(err) => {
                    prop_assert!(email.is_empty() || !input::is_valid_email(&email));
                    prop_assert!(matches!(
                        err,
                        ValueError::EmailEmpty | ValueError::EmailTooLong | ValueError::EmailInvalid
                    ));
                    prop_assert!(serde_json::from_value::<Email>(email.into()).is_err());
                }
            }
        }

        #[test]
        fn comment_ids_round_trip_and_other_text_is_refused(bytes in any::<[u8; 16]>(), junk in "[^-]{0,40}") {
            let id = CommentId::from(Uuid::from_bytes(bytes));
            round_trips(&id);
            prop_assert_eq!(CommentId::parse(&id.to_string()), Ok(id));
            if Uuid::parse_str(&junk).is_err() {
                prop_assert_eq!(CommentId::parse(&junk), Err(ValueError::CommentId));
            }
        }

        #[test]
        fn every_address_has_a_group_that_round_trips(v4 in any::<u32>(), v6 in any::<u128>(), prefix in 0u8..=128) {
            for ip in [IpAddr::from(std::net::Ipv4Addr::from(v4)), IpAddr::from(std::net::Ipv6Addr::from(v6))] {
                let g = AddressGroup::of(ip);
                round_trips(&g);
                prop_assert!(g.net().contains(&ip.to_canonical()));
            }
            let net = IpNet::new(std::net::Ipv6Addr::from(v6).into(), prefix).unwrap().trunc();
            let parsed = AddressGroup::parse(&net.to_string());
            if prefix == 64 && AddressGroup::of(net.network()).net() == net {
                prop_assert_eq!(parsed.map(|g| g.net()), Ok(net));
            } else if prefix != 64 {
                prop_assert_eq!(parsed, Err(ValueError::AddressGroup));
            }
        }
    }
}
