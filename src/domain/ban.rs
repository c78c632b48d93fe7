//! Bans as a decider: who may not comment (by email, email domain, address, address range,
//! website domain or display name), why, and until when.
//!
//! Every ban and every lift is an event of the one [`BANS_STREAM`], so bans come back after a
//! restart from the log like everything else. Pure: time arrives in the commands, and the
//! index that answers "is this submission banned?" is built from the folded state.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::events::{Actor, DomainEvent};

/// The stream holding every ban and lift.
pub const BANS_STREAM: &str = "bans";

/// Bans in force at once. A moderator's script cannot grow the list (and the per-submission
/// check) without end; lifted and expired bans do not count.
pub const MAX_ACTIVE_BANS: usize = 5_000;

/// Longest value of a ban (an email address is at most 254 characters).
pub const MAX_BAN_VALUE_CHARS: usize = 254;

/// Shortest CIDR prefixes accepted: a wider range is almost surely a typing mistake that would
/// silence a whole country's carrier.
pub const MIN_PREFIX_V4: u8 = 8;
/// See [`MIN_PREFIX_V4`].
pub const MIN_PREFIX_V6: u8 = 24;

/// What a ban matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum BanTarget {
    /// One email address, lowercased.
    Email(String),
    /// Every address at this domain or its subdomains (`contoh.id` covers `a@mail.contoh.id`).
    EmailDomain(String),
    /// One client address: an IPv4 address (`/32`) or an IPv6 `/64`, as address groups are kept.
    Address(IpNet),
    /// A range of addresses.
    Cidr(IpNet),
    /// Authors whose website is at this domain or its subdomains (`www.` ignored).
    UrlDomain(String),
    /// A display name, compared without case and with runs of spaces as one.
    Name(String),
}

/// Why a ban's value was refused; each names the field's problem for the moderator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BanInputError {
    /// The kind is none of `email`, `email_domain`, `address`, `cidr`, `url_domain`, `name`.
    #[error("unknown ban kind")]
    UnknownKind,
    /// The value is empty.
    #[error("the value is empty")]
    Empty,
    /// The value is longer than [`MAX_BAN_VALUE_CHARS`].
    #[error("the value is too long")]
    TooLong,
    /// Not an email address.
    #[error("not an email address")]
    Email,
    /// Not a domain name.
    #[error("not a domain name")]
    Domain,
    /// Not an IP address.
    #[error("not an IP address")]
    Address,
    /// Not a CIDR range (`203.0.113.0/24`, `2001:db8::/48`).
    #[error("not a CIDR range")]
    Cidr,
    /// A range wider than [`MIN_PREFIX_V4`] / [`MIN_PREFIX_V6`].
    #[error("the range is too wide")]
    TooWide,
}

impl BanInputError {
    /// Every refusal, for the message catalogue's test (`http::messages`).
    pub const ALL: &'static [BanInputError] = &[
        BanInputError::UnknownKind,
        BanInputError::Empty,
        BanInputError::TooLong,
        BanInputError::Email,
        BanInputError::Domain,
        BanInputError::Address,
        BanInputError::Cidr,
        BanInputError::TooWide,
    ];
}

/// A domain as bans compare it: lowercased, without a trailing dot or a leading `www.`/`@`.
fn domain_key(raw: &str) -> Result<String, BanInputError> {
    let d = raw
        .trim()
        .trim_start_matches('@')
        .trim_end_matches('.')
        .to_lowercase();
    let d = d.strip_prefix("www.").unwrap_or(&d).to_string();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(d)
    } else {
        Err(BanInputError::Domain)
    }
}

/// A display name as bans compare it.
pub fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl BanTarget {
    /// Reads a moderator's `kind` and `value`, normalised so that equal bans compare equal.
    pub fn parse(kind: &str, value: &str) -> Result<BanTarget, BanInputError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(BanInputError::Empty);
        }
        if value.chars().count() > MAX_BAN_VALUE_CHARS {
            return Err(BanInputError::TooLong);
        }
        match kind.trim() {
            "email" => {
                let lower = value.to_lowercase();
                match lower.rsplit_once('@') {
                    Some((local, domain)) if !local.is_empty() && !local.contains(' ') => {
                        Ok(BanTarget::Email(format!("{local}@{}", domain_key(domain)?)))
                    }
                    _ => Err(BanInputError::Email),
                }
            }
            "email_domain" => Ok(BanTarget::EmailDomain(domain_key(value)?)),
            "url_domain" => {
                let host = crate::projections::search::url_host(value)
                    .unwrap_or_else(|| value.to_string());
                Ok(BanTarget::UrlDomain(domain_key(&host)?))
            }
            "name" => Ok(BanTarget::Name(name_key(value))),
            "address" => {
                let ip: IpAddr = value.parse().map_err(|_| BanInputError::Address)?;
                Ok(BanTarget::Address(crate::limits::address_group(ip)))
            }
            "cidr" => {
                let net: IpNet = value.parse().map_err(|_| BanInputError::Cidr)?;
                let min = match net {
                    IpNet::V4(_) => MIN_PREFIX_V4,
                    IpNet::V6(_) => MIN_PREFIX_V6,
                };
                if net.prefix_len() < min {
                    return Err(BanInputError::TooWide);
                }
                Ok(BanTarget::Cidr(net.trunc()))
            }
            _ => Err(BanInputError::UnknownKind),
        }
    }

    /// The kind's name, as the API takes it.
    pub fn kind(&self) -> &'static str {
        match self {
            BanTarget::Email(_) => "email",
            BanTarget::EmailDomain(_) => "email_domain",
            BanTarget::Address(_) => "address",
            BanTarget::Cidr(_) => "cidr",
            BanTarget::UrlDomain(_) => "url_domain",
            BanTarget::Name(_) => "name",
        }
    }

    /// The value as shown to moderators.
    pub fn value(&self) -> String {
        match self {
            BanTarget::Email(v)
            | BanTarget::EmailDomain(v)
            | BanTarget::UrlDomain(v)
            | BanTarget::Name(v) => v.clone(),
            BanTarget::Address(n) | BanTarget::Cidr(n) => n.to_string(),
        }
    }
}

/// A ban in force (or expired, until the next ban is placed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    /// The ban's id, to lift it.
    pub id: Uuid,
    /// What it matches.
    pub target: BanTarget,
    /// The moderator's reason (private: never shown to the banned reader).
    pub reason: String,
    /// When it ends by itself; `None`: until lifted.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the author's comments were moved to spam when it was placed.
    pub spam_existing: bool,
    /// Who placed it.
    pub by: Actor,
    /// When.
    pub at: DateTime<Utc>,
}

impl Ban {
    /// Whether the ban is in force at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

/// The folded state of the bans stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BanState {
    /// Placed and not lifted, by id. Bans that had expired by the time a later ban was placed
    /// are dropped then, so the map stays near the number in force.
    pub bans: BTreeMap<Uuid, Ban>,
    /// Events folded; the stream revision is `events - 1`.
    pub events: u64,
}

impl BanState {
    /// Bans in force at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Ban> {
        self.bans.values().filter(move |b| b.active_at(now))
    }
}

/// What a moderator can do with bans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanCommand {
    /// Place a ban.
    Place {
        /// The new ban's id (chosen by the caller, so a retry does not place two).
        id: Uuid,
        /// What it matches.
        target: BanTarget,
        /// Why (private).
        reason: String,
        /// When it ends; `None`: until lifted.
        expires_at: Option<DateTime<Utc>>,
        /// Move the author's comments to spam now.
        spam_existing: bool,
        /// Who.
        moderator: crate::domain::values::ModeratorName,
        /// When.
        now: DateTime<Utc>,
    },
    /// Lift a ban.
    Lift {
        /// The ban.
        id: Uuid,
        /// Why.
        reason: String,
        /// Who.
        moderator: crate::domain::values::ModeratorName,
        /// When.
        now: DateTime<Utc>,
    },
}

/// Why a ban command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BanError {
    /// [`MAX_ACTIVE_BANS`] are in force.
    #[error("too many bans in force")]
    TooMany,
    /// A ban of the same target is in force already; carries its id.
    #[error("the same ban is in force already")]
    Duplicate(Uuid),
    /// The expiry is not in the future.
    #[error("the expiry is in the past")]
    ExpiryPast,
    /// No ban in force with that id.
    #[error("no such ban")]
    NotFound,
}

/// Decides which events a ban command produces.
pub fn decide(state: &BanState, command: BanCommand) -> Result<Vec<DomainEvent>, BanError> {
    match command {
        BanCommand::Place {
            id,
            target,
            reason,
            expires_at,
            spam_existing,
            moderator,
            now,
        } => {
            if expires_at.is_some_and(|e| e <= now) {
                return Err(BanError::ExpiryPast);
            }
            if let Some(same) = state.active(now).find(|b| b.target == target) {
                return Err(BanError::Duplicate(same.id));
            }
            if state.active(now).count() >= MAX_ACTIVE_BANS {
                return Err(BanError::TooMany);
            }
            Ok(vec![DomainEvent::BanPlaced {
                id,
                target,
                reason,
                expires_at,
                spam_existing,
                by: Actor::from(&moderator),
                at: now,
            }])
        }
        BanCommand::Lift {
            id,
            reason,
            moderator,
            now,
        } => {
            if !state.bans.contains_key(&id) {
                return Err(BanError::NotFound);
            }
            Ok(vec![DomainEvent::BanLifted {
                id,
                reason,
                by: Actor::from(&moderator),
                at: now,
            }])
        }
    }
}

/// Folds one event into the ban state; events of other streams leave it unchanged.
pub fn evolve(mut state: BanState, event: &DomainEvent) -> BanState {
    match event {
        DomainEvent::BanPlaced {
            id,
            target,
            reason,
            expires_at,
            spam_existing,
            by,
            at,
        } => {
            state.bans.retain(|_, b| b.active_at(*at));
            state.bans.insert(
                *id,
                Ban {
                    id: *id,
                    target: target.clone(),
                    reason: reason.clone(),
                    expires_at: *expires_at,
                    spam_existing: *spam_existing,
                    by: by.clone(),
                    at: *at,
                },
            );
            state.events += 1;
        }
        DomainEvent::BanLifted { id, .. } => {
            state.bans.remove(id);
            state.events += 1;
        }
        _ => {}
    }
    state
}

/// Who is submitting (or wrote a comment), as bans look at it.
#[derive(Debug, Clone, Copy)]
pub struct BanSubject<'a> {
    /// The email typed (any case).
    pub email: &'a str,
    /// The display name typed.
    pub name: &'a str,
    /// The website typed, if any.
    pub url: Option<&'a str>,
    /// The client address (or its group's first address).
    pub ip: Option<IpAddr>,
}

/// The bans in force arranged for lookups: a submission costs a few hash lookups plus one
/// test per address range, not one comparison per ban.
#[derive(Debug, Clone, Default)]
pub struct BanIndex {
    exact: HashMap<BanTarget, Uuid>,
    email_domains: HashMap<String, Uuid>,
    url_domains: HashMap<String, Uuid>,
    nets: Vec<(IpNet, Uuid)>,
    expiry: HashMap<Uuid, Option<DateTime<Utc>>>,
}

/// `a.b.c`, `b.c`, `c`: the domain and every parent, for subdomain matching.
fn suffixes(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |d| d.split_once('.').map(|(_, rest)| rest))
}

impl BanIndex {
    /// The index of every ban in `state` (expiry is checked at lookup).
    pub fn build(state: &BanState) -> BanIndex {
        let mut index = BanIndex::default();
        for ban in state.bans.values() {
            index.expiry.insert(ban.id, ban.expires_at);
            match &ban.target {
                BanTarget::EmailDomain(d) => {
                    index.email_domains.insert(d.clone(), ban.id);
                }
                BanTarget::UrlDomain(d) => {
                    index.url_domains.insert(d.clone(), ban.id);
                }
                BanTarget::Address(n) | BanTarget::Cidr(n) => index.nets.push((*n, ban.id)),
                other => {
                    index.exact.insert(other.clone(), ban.id);
                }
            }
        }
        index
    }

    /// The id of a ban in force at `now` that matches `who`, if any.
    pub fn find(&self, who: &BanSubject<'_>, now: DateTime<Utc>) -> Option<Uuid> {
        let live = |id: &Uuid| {
            self.expiry
                .get(id)
                .is_some_and(|e| e.is_none_or(|e| e > now))
        };
        let email = who.email.trim().to_lowercase();
        if !email.is_empty() {
            if let Some(id) = self.exact.get(&BanTarget::Email(email.clone()))
                && live(id)
            {
                return Some(*id);
            }
            if let Some((_, domain)) = email.rsplit_once('@')
                && let Some(id) = suffixes(domain)
                    .filter_map(|d| self.email_domains.get(d))
                    .find(|id| live(id))
            {
                return Some(*id);
            }
        }
        let name = name_key(who.name);
        if !name.is_empty()
            && let Some(id) = self.exact.get(&BanTarget::Name(name))
            && live(id)
        {
            return Some(*id);
        }
        if let Some(host) = who.url.and_then(crate::projections::search::url_host)
            && let Some(id) = suffixes(&host)
                .filter_map(|d| self.url_domains.get(d))
                .find(|id| live(id))
        {
            return Some(*id);
        }
        let ip = who.ip?.to_canonical();
        self.nets
            .iter()
            .find(|(net, id)| net.contains(&ip) && live(id))
            .map(|(_, id)| *id)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("valid")
    }

    fn place(state: &BanState, kind: &str, value: &str, expires: Option<i64>) -> BanState {
        let command = BanCommand::Place {
            id: Uuid::new_v4(),
            target: BanTarget::parse(kind, value).expect("valid"),
            reason: "uji".into(),
            expires_at: expires.map(|h| now() + chrono::Duration::hours(h)),
            spam_existing: false,
            moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
            now: now(),
        };
        decide(state, command)
            .expect("placed")
            .iter()
            .fold(state.clone(), evolve)
    }

    fn subject<'a>(
        email: &'a str,
        name: &'a str,
        url: Option<&'a str>,
        ip: &str,
    ) -> BanSubject<'a> {
        BanSubject {
            email,
            name,
            url,
            ip: Some(ip.parse().expect("ip")),
        }
    }

    #[test]
    fn every_kind_matches_what_it_names_and_nothing_else() {
        let cases = [
            (
                "email",
                "Spam@Contoh.ID",
                subject("spam@contoh.id", "x", None, "10.0.0.1"),
            ),
            (
                "email_domain",
                "judi.example",
                subject("a@mail.judi.example", "x", None, "10.0.0.1"),
            ),
            (
                "address",
                "203.0.113.7",
                subject("a@b.id", "x", None, "203.0.113.7"),
            ),
            (
                "address",
                "2001:db8:1:2::9",
                subject("a@b.id", "x", None, "2001:db8:1:2:ffff::1"),
            ),
            (
                "cidr",
                "198.51.100.0/24",
                subject("a@b.id", "x", None, "198.51.100.200"),
            ),
            (
                "url_domain",
                "https://www.slot.example/x",
                subject("a@b.id", "x", Some("http://promo.slot.example"), "10.0.0.1"),
            ),
            (
                "name",
                "  Admin   Slot ",
                subject("a@b.id", "admin slot", None, "10.0.0.1"),
            ),
        ];
        let innocent = subject(
            "budi@contoh.id",
            "Budi",
            Some("https://blog.budi.id"),
            "192.0.2.1",
        );
        for (kind, value, banned) in cases {
            let state = place(&BanState::default(), kind, value, None);
            let index = BanIndex::build(&state);
            assert!(index.find(&banned, now()).is_some(), "{kind} {value}");
            assert!(
                index.find(&innocent, now()).is_none(),
                "{kind} {value} caught an innocent"
            );
        }
        // An IPv6 ban covers its /64 and not the next one.
        let state = place(&BanState::default(), "address", "2001:db8:1:2::9", None);
        let index = BanIndex::build(&state);
        assert!(
            index
                .find(&subject("a@b.id", "x", None, "2001:db8:1:3::1"), now())
                .is_none()
        );
        // A domain ban does not catch a longer name that merely ends the same way.
        let state = place(&BanState::default(), "email_domain", "judi.example", None);
        let index = BanIndex::build(&state);
        assert!(
            index
                .find(&subject("a@notjudi.example", "x", None, "10.0.0.1"), now())
                .is_none()
        );
    }

    #[test]
    fn a_ban_ends_at_its_expiry_and_when_lifted() {
        let state = place(&BanState::default(), "email", "a@b.id", Some(2));
        let index = BanIndex::build(&state);
        let who = subject("a@b.id", "x", None, "10.0.0.1");
        assert!(
            index
                .find(&who, now() + chrono::Duration::hours(1))
                .is_some()
        );
        assert!(
            index
                .find(&who, now() + chrono::Duration::hours(3))
                .is_none()
        );
        let id = *state.bans.keys().next().unwrap();
        let lift = BanCommand::Lift {
            id,
            reason: String::new(),
            moderator: crate::domain::values::ModeratorName::parse("budi").unwrap(),
            now: now(),
        };
        let lifted = decide(&state, lift.clone())
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert!(BanIndex::build(&lifted).find(&who, now()).is_none());
        assert_eq!(decide(&lifted, lift), Err(BanError::NotFound));
        assert_eq!(lifted.events, 2);
    }

    #[test]
    fn refuses_duplicates_past_expiries_wide_ranges_and_bad_values() {
        let state = place(&BanState::default(), "email", "a@b.id", None);
        let again = BanCommand::Place {
            id: Uuid::new_v4(),
            target: BanTarget::parse("email", "A@B.ID").unwrap(),
            reason: String::new(),
            expires_at: None,
            spam_existing: false,
            moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
            now: now(),
        };
        assert!(matches!(decide(&state, again), Err(BanError::Duplicate(_))));
        let past = BanCommand::Place {
            id: Uuid::new_v4(),
            target: BanTarget::parse("name", "x").unwrap(),
            reason: String::new(),
            expires_at: Some(now()),
            spam_existing: false,
            moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
            now: now(),
        };
        assert_eq!(decide(&state, past), Err(BanError::ExpiryPast));
        assert_eq!(
            BanTarget::parse("cidr", "10.0.0.0/7"),
            Err(BanInputError::TooWide)
        );
        assert_eq!(
            BanTarget::parse("cidr", "2001:db8::/16"),
            Err(BanInputError::TooWide)
        );
        assert_eq!(
            BanTarget::parse("address", "not-an-ip"),
            Err(BanInputError::Address)
        );
        assert_eq!(
            BanTarget::parse("email", "nobody"),
            Err(BanInputError::Email)
        );
        assert_eq!(
            BanTarget::parse("colour", "red"),
            Err(BanInputError::UnknownKind)
        );
        assert_eq!(BanTarget::parse("name", "   "), Err(BanInputError::Empty));
        assert_eq!(
            BanTarget::parse("cidr", "198.51.100.77/24"),
            Ok(BanTarget::Cidr("198.51.100.0/24".parse().unwrap()))
        );
    }

    #[test]
    fn the_number_in_force_is_bounded() {
        let mut state = BanState::default();
        for i in 0..MAX_ACTIVE_BANS {
            let target = BanTarget::Name(format!("n{i}"));
            let ban = Ban {
                id: Uuid::new_v4(),
                target,
                reason: String::new(),
                expires_at: None,
                spam_existing: false,
                by: Actor::Moderator("ayu".into()),
                at: now(),
            };
            state.bans.insert(ban.id, ban);
        }
        let one_more = BanCommand::Place {
            id: Uuid::new_v4(),
            target: BanTarget::Name("last".into()),
            reason: String::new(),
            expires_at: None,
            spam_existing: false,
            moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
            now: now(),
        };
        assert_eq!(decide(&state, one_more), Err(BanError::TooMany));
    }

    proptest! {
        /// Whatever bans are placed and lifted, the index finds a ban exactly when one in force
        /// names the subject's email, and the state holds exactly the ones not lifted.
        #[test]
        fn index_agrees_with_the_folded_state(ops in proptest::collection::vec((0u8..6, any::<bool>()), 0..40)) {
            let mut state = BanState::default();
            for (n, lift) in ops {
                let email = format!("u{n}@contoh.id");
                let existing = state.bans.values().find(|b| b.target == BanTarget::Email(email.clone())).map(|b| b.id);
                let command = match (lift, existing) {
                    (true, Some(id)) => BanCommand::Lift { id, reason: String::new(), moderator: crate::domain::values::ModeratorName::parse("a").unwrap(), now: now() },
                    (false, None) => BanCommand::Place {
                        id: Uuid::new_v4(),
                        target: BanTarget::Email(email),
                        reason: String::new(),
                        expires_at: None,
                        spam_existing: false,
                        moderator: crate::domain::values::ModeratorName::parse("a").unwrap(),
                        now: now(),
                    },
                    _ => continue,
                };
                state = decide(&state, command).expect("legal").iter().fold(state, evolve);
            }
            let index = BanIndex::build(&state);
            for n in 0u8..6 {
                let email = format!("u{n}@contoh.id");
                let banned = state.bans.values().any(|b| b.target == BanTarget::Email(email.clone()));
                let who = BanSubject { email: &email, name: "", url: None, ip: None };
                prop_assert_eq!(index.find(&who, now()).is_some(), banned);
            }
        }
    }
}
