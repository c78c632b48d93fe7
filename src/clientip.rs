//! Which address a request really came from.
//!
//! Behind a reverse proxy every request arrives from the proxy, so the reader's address has to be
//! read from `X-Forwarded-For`. That header is written by whoever sent the request: a reader can
//! put anything at its left end, and each proxy on the way appends the address it saw at the right
//! end. So the header is believed only when the socket peer is a configured trusted proxy, and
//! then only from the right: the right-most hop that is not one of our own proxies is the address
//! the outermost trusted proxy saw, the last one nobody could forge. The left-most entry is the
//! one a client chooses and is never used.

use std::net::IpAddr;

use ipnet::IpNet;

/// At most this many hops are examined; a longer chain stops at the last good address so a huge
/// header cannot make the walk expensive.
pub const MAX_HOPS: usize = 32;

/// A trusted-proxy list that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustedProxyError {
    /// One entry is neither an address nor a CIDR network.
    #[error("trusted proxy entry {position} ({entry:?}) is not an IP address or CIDR network")]
    Invalid {
        /// The entry as written (truncated to 64 characters).
        entry: String,
        /// Its position in the list, counting from 1.
        position: usize,
    },
}

/// Parses `SARING_TRUSTED_PROXIES`: networks and bare addresses separated by commas or spaces,
/// e.g. `"10.0.0.0/8, 127.0.0.1 ::1"`. A bare address means that one host (`/32` or `/128`);
/// IPv4-mapped IPv6 entries are read as IPv4. An empty list trusts nobody.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, TrustedProxyError> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, entry)| {
            parse_net(entry).ok_or_else(|| TrustedProxyError::Invalid {
                entry: entry.chars().take(64).collect(),
                position: i + 1,
            })
        })
        .collect()
}

fn parse_net(entry: &str) -> Option<IpNet> {
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(IpNet::from(addr.to_canonical()));
    }
    let net = entry.parse::<IpNet>().ok()?;
    // An IPv4-mapped network such as ::ffff:10.0.0.0/104 is the IPv4 network 10.0.0.0/8, and
    // addresses are compared after the same normalisation.
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
    {
        return ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
            .ok()
            .map(|n| IpNet::V4(n.trunc()));
    }
    Some(net.trunc())
}

/// Returns the reader's address for a request that arrived from `peer` (the socket address)
/// carrying the given `X-Forwarded-For` header values (all of them, in the order received).
///
/// The header is ignored unless `peer` is inside `trusted`. When it is believed, hops are examined
/// from the right, skipping trusted proxies; the first untrusted hop is the answer. A malformed
/// hop (or more than [`MAX_HOPS`]) stops the walk at the last good address. If every hop is
/// trusted, the left-most of them is returned. IPv4-mapped IPv6 addresses come back as IPv4.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut last_good = peer;
    let hops = forwarded_for
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(','))
        .take(MAX_HOPS);
    for hop in hops {
        let Some(addr) = parse_hop(hop) else {
            return last_good;
        };
        if !is_trusted(addr, trusted) {
            return addr;
        }
        last_good = addr;
    }
    last_good
}

fn is_trusted(addr: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&addr))
}

/// Reads one hop: `1.2.3.4`, `2001:db8::1`, and the forms with a port some proxies write,
/// `1.2.3.4:5678` and `[2001:db8::1]:443`. Anything else (`unknown`, obfuscated identifiers from
/// RFC 7239, empty entries) is malformed.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if hop.len() > 64 {
        return None;
    }
    if let Ok(addr) = hop.parse::<IpAddr>() {
        return Some(addr.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || valid_port(after.strip_prefix(':')?)) {
            return None;
        }
        return inside
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|a| IpAddr::V6(a).to_canonical());
    }
    let (host, port) = hop.rsplit_once(':')?;
    if !valid_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(s: &str) -> Vec<IpNet> {
        parse_trusted(s).unwrap()
    }

    #[test]
    fn parses_networks_and_bare_addresses() {
        let t = nets("10.0.0.0/8, 127.0.0.1 ::1,fd00::/8");
        assert_eq!(t.len(), 4);
        assert_eq!(t[1].to_string(), "127.0.0.1/32");
        assert_eq!(t[2].to_string(), "::1/128");
        assert!(parse_trusted("").unwrap().is_empty());
        assert!(parse_trusted(" , ").unwrap().is_empty());
    }

    #[test]
    fn mapped_entries_become_ipv4() {
        let t = nets("::ffff:10.0.0.1, ::ffff:192.168.0.0/112");
        assert_eq!(t[0].to_string(), "10.0.0.1/32");
        assert_eq!(t[1].to_string(), "192.168.0.0/16");
    }

    #[test]
    fn rejects_garbage_with_position() {
        let err = parse_trusted("10.0.0.0/8, localhost").unwrap_err();
        assert_eq!(
            err,
            TrustedProxyError::Invalid {
                entry: "localhost".into(),
                position: 2
            }
        );
        assert!(parse_trusted("10.0.0.0/33").is_err());
    }

    #[test]
    fn untrusted_peer_header_ignored() {
        let t = nets("10.0.0.0/8");
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["1.2.3.4"], &t),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn no_header_gives_peer() {
        let t = nets("10.0.0.0/8");
        assert_eq!(client_ip(ip("10.0.0.2"), &[], &t), ip("10.0.0.2"));
    }

    #[test]
    fn takes_rightmost_untrusted_hop_not_leftmost() {
        let t = nets("10.0.0.0/8");
        // The reader forged "1.1.1.1"; the edge proxy appended the real address, an inner proxy
        // appended the edge proxy's.
        let got = client_ip(ip("10.0.0.3"), &["1.1.1.1, 198.51.100.7, 10.0.0.2"], &t);
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn multiple_header_values_are_one_list() {
        let t = nets("10.0.0.0/8");
        let got = client_ip(ip("10.0.0.3"), &["1.1.1.1", "198.51.100.7", "10.0.0.2"], &t);
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn malformed_hop_stops_at_last_good() {
        let t = nets("10.0.0.0/8");
        assert_eq!(
            client_ip(ip("10.0.0.3"), &["198.51.100.7, unknown, 10.0.0.2"], &t),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.3"), &["198.51.100.7, garbage"], &t),
            ip("10.0.0.3")
        );
        assert_eq!(client_ip(ip("10.0.0.3"), &[""], &t), ip("10.0.0.3"));
    }

    #[test]
    fn all_trusted_gives_leftmost_trusted() {
        let t = nets("10.0.0.0/8");
        assert_eq!(
            client_ip(ip("10.0.0.3"), &["10.0.0.1, 10.0.0.2"], &t),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ports_and_brackets_and_mapped() {
        let t = nets("10.0.0.0/8, ::1");
        assert_eq!(
            client_ip(ip("10.0.0.3"), &["198.51.100.7:5123"], &t),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("::1"), &["[2001:db8::5]:443"], &t),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.3"), &["::ffff:198.51.100.7"], &t),
            ip("198.51.100.7")
        );
        // A mapped form of a trusted address is still trusted.
        assert_eq!(
            client_ip(ip("10.0.0.3"), &["198.51.100.7, ::ffff:10.0.0.9"], &t),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(ip("::ffff:8.8.8.8"), &[], &t), ip("8.8.8.8"));
    }

    #[test]
    fn huge_chain_is_cut_off() {
        let t = nets("10.0.0.0/8");
        let chain = vec!["10.0.0.1"; 10_000].join(",");
        let forged = format!("6.6.6.6,{chain}");
        assert_eq!(
            client_ip(ip("10.0.0.3"), &[forged.as_str()], &t),
            ip("10.0.0.1")
        );
    }

    fn untrusted_v4() -> impl Strategy<Value = IpAddr> {
        // Everything outside 10.0.0.0/8.
        (11u8..=223, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| IpAddr::from([a, b, c, d]))
    }

    fn trusted_v4() -> impl Strategy<Value = IpAddr> {
        any::<[u8; 3]>().prop_map(|[b, c, d]| IpAddr::from([10, b, c, d]))
    }

    fn forged_entry() -> impl Strategy<Value = String> {
        prop_oneof![
            untrusted_v4().prop_map(|a| a.to_string()),
            trusted_v4().prop_map(|a| a.to_string()),
            "[ -~]{0,20}",
            any::<u128>().prop_map(|v| std::net::Ipv6Addr::from(v).to_string()),
        ]
    }

    proptest! {
        /// Whatever a reader writes into the header, behind a chain of trusted proxies the result
        /// is the address the first proxy saw.
        #[test]
        fn client_cannot_choose_its_address(
            forged in proptest::collection::vec(forged_entry(), 0..6),
            real in untrusted_v4(),
            proxies in proptest::collection::vec(trusted_v4(), 1..6),
            split_values in any::<bool>(),
        ) {
            let trusted = nets("10.0.0.0/8");
            // The first proxy appends the reader's address, every later proxy the previous one's;
            // the last proxy is the socket peer.
            let mut appended = vec![real.to_string()];
            for p in &proxies[..proxies.len() - 1] {
                appended.push(p.to_string());
            }
            let peer = proxies[proxies.len() - 1];
            let mut values: Vec<String> = Vec::new();
            if !forged.is_empty() {
                values.push(forged.join(","));
            }
            if split_values {
                values.extend(appended);
            } else {
                values.push(appended.join(", "));
            }
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            prop_assert_eq!(client_ip(peer, &refs, &trusted), real);
        }

        /// Without a trusted peer, no header changes anything.
        #[test]
        fn untrusted_peer_is_the_answer(
            values in proptest::collection::vec("[ -~]{0,40}", 0..4),
            peer in untrusted_v4(),
        ) {
            let trusted = nets("10.0.0.0/8");
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            prop_assert_eq!(client_ip(peer, &refs, &trusted), peer);
        }
    }
}
