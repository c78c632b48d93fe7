//! Limits on login attempts, per address group (`crate::limits::address_group`: an IPv4
//! address or an IPv6 /64) and per account name, with governor. Every attempt counts, so the
//! limit also bounds the argon2 work one client can cause; a moderator logs in rarely enough
//! that counting the successful attempt too costs nothing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use parking_lot::RwLock;

/// The window the allowance of attempts refills over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys tracked per map before idle ones are swept (and, if still full, all forgotten).
const MAX_KEYS: usize = 20_000;

/// Login attempt limits.
pub struct LoginLimiter {
    by_address: RwLock<DefaultKeyedRateLimiter<IpNet>>,
    by_name: RwLock<DefaultKeyedRateLimiter<[u8; 16]>>,
    quota: Quota,
}

fn name_key(name: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(name.trim().to_lowercase().as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

fn bounded<K: std::hash::Hash + Eq + Clone>(
    map: &RwLock<DefaultKeyedRateLimiter<K>>,
    quota: Quota,
) {
    if map.read().len() < MAX_KEYS {
        return;
    }
    let mut limiter = map.write();
    limiter.retain_recent();
    if limiter.len() >= MAX_KEYS {
        *limiter = RateLimiter::keyed(quota);
    }
}

impl LoginLimiter {
    /// `attempts` per [`WINDOW`] per address group and per name.
    pub fn new(attempts: u32) -> LoginLimiter {
        let n = NonZeroU32::new(attempts.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = WINDOW / n.get();
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_minute(n))
            .allow_burst(n);
        LoginLimiter {
            by_address: RwLock::new(RateLimiter::keyed(quota)),
            by_name: RwLock::new(RateLimiter::keyed(quota)),
            quota,
        }
    }

    /// Counts an attempt; `Err(seconds)` when the address group or the name has none left.
    pub fn attempt(&self, ip: IpAddr, name: &str) -> Result<(), u64> {
        bounded(&self.by_address, self.quota);
        bounded(&self.by_name, self.quota);
        let clock = governor::clock::DefaultClock::default();
        use governor::clock::Clock;
        let wait = |e: governor::NotUntil<_>| e.wait_time_from(clock.now()).as_secs().max(1);
        let group = crate::limits::address_group(ip);
        self.by_address.read().check_key(&group).map_err(wait)?;
        self.by_name
            .read()
            .check_key(&name_key(name))
            .map_err(wait)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_past_the_limit_are_refused_per_group_and_per_name() {
        let l = LoginLimiter::new(3);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::2".parse().unwrap();
        let other: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        for _ in 0..3 {
            l.attempt(a, "ani").unwrap();
        }
        assert!(l.attempt(same_64, "budi").is_err(), "same /64");
        // Another network guessing the same name is stopped by the per-name limit.
        assert!(l.attempt(other, "ANI").is_err());
        assert!(l.attempt(other, "citra").is_ok());
    }
}
