//! The guard: which URLs and addresses may be fetched. It checks each URL before it is
//! requested (scheme, user info, host names and IP literals) and, as the client's DNS resolver,
//! every address a host name resolves to, so that the address checked is the address the
//! connection goes to.

use crate::errors;
use assetlib_core::Result;
use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use url::{Host, Url};

const LOOPBACK: &str = "a loopback address";
const PRIVATE: &str = "a private address";
const LINK_LOCAL: &str = "a link-local address";
const METADATA: &str = "a cloud metadata address";
const UNSPECIFIED: &str = "an unspecified address";
const MULTICAST: &str = "a multicast address";
const BROADCAST: &str = "a broadcast address";
const SHARED: &str = "a shared (carrier-grade NAT) address";
const DOCUMENTATION: &str = "a documentation address";
const BENCHMARKING: &str = "a benchmarking address";
const RESERVED: &str = "a reserved address";

/// Instance metadata services: AWS, GCP, Azure, OpenStack and Oracle (169.254.169.254), AWS
/// ECS tasks, Azure's WireServer (a public address only Azure routes), Alibaba Cloud.
const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(168, 63, 129, 16),
    Ipv4Addr::new(100, 100, 100, 200),
];
/// AWS's IPv6 instance metadata endpoint.
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)];
/// Names that reach a metadata service without being a metadata address in public DNS.
const METADATA_NAMES: [&str; 4] = ["metadata.google.internal", "metadata.goog", "metadata", "instance-data"];

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// Refused IPv4 ranges; the first match names the reason.
const REFUSED_V4: [(Ipv4Net, &str); 17] = [
    (v4(0, 0, 0, 0, 32), UNSPECIFIED),
    (v4(0, 0, 0, 0, 8), RESERVED), // "this network"; Linux connects 0.0.0.0 to the local host
    (v4(10, 0, 0, 0, 8), PRIVATE),
    (v4(100, 64, 0, 0, 10), SHARED),
    (v4(127, 0, 0, 0, 8), LOOPBACK),
    (v4(169, 254, 0, 0, 16), LINK_LOCAL),
    (v4(172, 16, 0, 0, 12), PRIVATE),
    (v4(192, 0, 0, 0, 24), RESERVED), // IETF protocol assignments
    (v4(192, 0, 2, 0, 24), DOCUMENTATION),
    (v4(192, 88, 99, 0, 24), RESERVED), // 6to4 relay anycast, deprecated
    (v4(192, 168, 0, 0, 16), PRIVATE),
    (v4(198, 18, 0, 0, 15), BENCHMARKING),
    (v4(198, 51, 100, 0, 24), DOCUMENTATION),
    (v4(203, 0, 113, 0, 24), DOCUMENTATION),
    (v4(224, 0, 0, 0, 4), MULTICAST),
    (v4(255, 255, 255, 255, 32), BROADCAST),
    (v4(240, 0, 0, 0, 4), RESERVED),
];

/// Refused IPv6 ranges, checked after the forms that embed an IPv4 address; the first match
/// names the reason. Anything outside 2000::/3 (global unicast) is refused as well.
const REFUSED_V6: [(Ipv6Net, &str); 13] = [
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), UNSPECIFIED),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), LOOPBACK),
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 96), RESERVED), // IPv4-compatible, deprecated
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), PRIVATE), // local-use NAT64
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), RESERVED), // discard-only
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), RESERVED), // Teredo
    (v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), BENCHMARKING),
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), DOCUMENTATION),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), DOCUMENTATION),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), PRIVATE), // unique local
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), LINK_LOCAL),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), PRIVATE), // site-local, deprecated
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), MULTICAST),
];
const GLOBAL_UNICAST_V6: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);
const NAT64_V6: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const SIX_TO_FOUR_V6: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

/// Why `ip` may not be fetched, as a phrase for a message ("a loopback address"); `None` if
/// it may.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => refusal_v4(ip),
        IpAddr::V6(ip) => refusal_v6(ip),
    }
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if METADATA_V4.contains(&ip) {
        return Some(METADATA);
    }
    REFUSED_V4.iter().find(|(net, _)| net.contains(&ip)).map(|(_, reason)| *reason)
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if METADATA_V6.contains(&ip) {
        return Some(METADATA);
    }
    // Forms that reach an IPv4 address are judged by that address: IPv4-mapped (the socket
    // connects to it), NAT64 (a gateway translates to it) and 6to4 (a relay tunnels to it).
    if let Some(embedded) = ip.to_ipv4_mapped() {
        return refusal_v4(embedded);
    }
    let bits = ip.to_bits();
    if NAT64_V6.contains(&ip) {
        return refusal_v4(Ipv4Addr::from_bits(bits as u32));
    }
    if SIX_TO_FOUR_V6.contains(&ip) {
        return refusal_v4(Ipv4Addr::from_bits((bits >> 80) as u32));
    }
    let listed = REFUSED_V6.iter().find(|(net, _)| net.contains(&ip)).map(|(_, reason)| *reason);
    listed.or_else(|| (!GLOBAL_UNICAST_V6.contains(&ip)).then_some(RESERVED))
}

/// What the guard checks against: the hosts allowed despite the rules (for tests).
#[derive(Debug, Default)]
pub(crate) struct Policy {
    allowed_names: HashSet<String>,
    allowed_ips: HashSet<IpAddr>,
}

/// `Example.COM.` and `example.com` are one host; `[::1]` and `::1` one address.
fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase()
}

impl Policy {
    pub(crate) fn new(allow_hosts: &[String]) -> Self {
        let mut policy = Self::default();
        for host in allow_hosts.iter().map(|host| normalize_host(host)) {
            match host.parse::<IpAddr>() {
                Ok(ip) => policy.allowed_ips.insert(ip),
                Err(_) => policy.allowed_names.insert(host),
            };
        }
        policy
    }

    fn name_allowed(&self, name: &str) -> bool {
        !self.allowed_names.is_empty() && self.allowed_names.contains(&normalize_host(name))
    }

    /// Checks what can be checked before connecting: the scheme, the user info, a host that is
    /// an IP literal (which is never resolved) and names that are refused whatever they resolve
    /// to. Addresses that names resolve to are checked by the [`GuardedResolver`].
    pub(crate) fn check_url(&self, url: &Url) -> Result<()> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(errors::scheme());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(errors::userinfo());
        }
        // std writes an IPv4-mapped address as `::ffff:127.0.0.1`; the URL parser in hex.
        let (shown, refused) = match url.host() {
            None => return Err(errors::invalid_url("it has no host")),
            Some(Host::Ipv4(ip)) => (ip.to_string(), self.refusal(ip.into())),
            Some(Host::Ipv6(ip)) => (format!("[{ip}]"), self.refusal(ip.into())),
            Some(Host::Domain(name)) if self.name_allowed(name) => (name.to_owned(), None),
            Some(Host::Domain(name)) => (name.to_owned(), {
                let name = normalize_host(name);
                if name == "localhost" || name.ends_with(".localhost") {
                    Some(LOOPBACK)
                } else if METADATA_NAMES.contains(&name.as_str()) {
                    Some(METADATA)
                } else {
                    None
                }
            }),
        };
        match refused {
            Some(reason) => Err(errors::host_refused(&shown, reason)),
            None => Ok(()),
        }
    }

    /// Why `ip` may not be fetched, unless it is allowed.
    fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allowed_ips.contains(&ip) { None } else { refusal(ip) }
    }
}

/// The client's DNS resolver: resolves with the system resolver and refuses the name if any of
/// its addresses is refused, so that the connection can only go to addresses that passed.
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<Policy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(addrs) => addrs.collect(),
                Err(error) => {
                    tracing::debug!(%host, %error, "URL host not resolved");
                    Vec::new()
                }
            };
            if addrs.is_empty() {
                return Err(Box::new(errors::unresolved(&host)) as _);
            }
            if !policy.name_allowed(&host) {
                for addr in &addrs {
                    if let Some(reason) = policy.refusal(addr.ip()) {
                        return Err(Box::new(errors::resolved_refused(&host, addr.ip(), reason)) as _);
                    }
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        let table: &[(&str, Option<&str>)] = &[
            // IPv4
            ("127.0.0.1", Some(LOOPBACK)),
            ("127.255.255.254", Some(LOOPBACK)),
            ("10.0.0.1", Some(PRIVATE)),
            ("172.16.0.1", Some(PRIVATE)),
            ("172.31.255.255", Some(PRIVATE)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(PRIVATE)),
            ("169.254.169.254", Some(METADATA)),
            ("169.254.170.2", Some(METADATA)),
            ("168.63.129.16", Some(METADATA)),
            ("100.100.100.200", Some(METADATA)),
            ("169.254.1.1", Some(LINK_LOCAL)),
            ("0.0.0.0", Some(UNSPECIFIED)),
            ("0.1.2.3", Some(RESERVED)),
            ("100.64.0.1", Some(SHARED)),
            ("100.127.255.255", Some(SHARED)),
            ("100.128.0.1", None),
            ("192.0.0.8", Some(RESERVED)),
            ("192.0.2.1", Some(DOCUMENTATION)),
            ("198.51.100.7", Some(DOCUMENTATION)),
            ("203.0.113.9", Some(DOCUMENTATION)),
            ("198.18.0.1", Some(BENCHMARKING)),
            ("198.19.255.255", Some(BENCHMARKING)),
            ("224.0.0.1", Some(MULTICAST)),
            ("239.255.255.250", Some(MULTICAST)),
            ("255.255.255.255", Some(BROADCAST)),
            ("240.0.0.1", Some(RESERVED)),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.215.14", None),
            ("11.0.0.1", None),
            ("169.255.0.1", None),
            ("192.169.0.1", None),
            // IPv6
            ("::1", Some(LOOPBACK)),
            ("::", Some(UNSPECIFIED)),
            ("::ffff:127.0.0.1", Some(LOOPBACK)),
            ("::ffff:10.0.0.1", Some(PRIVATE)),
            ("::ffff:169.254.169.254", Some(METADATA)),
            ("::ffff:0.0.0.0", Some(UNSPECIFIED)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(RESERVED)),
            ("64:ff9b::7f00:1", Some(LOOPBACK)),
            ("64:ff9b::a9fe:a9fe", Some(METADATA)),
            ("64:ff9b::808:808", None),
            ("64:ff9b:1::1", Some(PRIVATE)),
            ("2002:7f00:1::1", Some(LOOPBACK)),
            ("2002:a00:1::", Some(PRIVATE)),
            ("2002:808:808::1", None),
            ("fd00:ec2::254", Some(METADATA)),
            ("fd12:3456::1", Some(PRIVATE)),
            ("fc00::1", Some(PRIVATE)),
            ("fe80::1", Some(LINK_LOCAL)),
            ("febf::1", Some(LINK_LOCAL)),
            ("fec0::1", Some(PRIVATE)),
            ("ff02::1", Some(MULTICAST)),
            ("100::1", Some(RESERVED)),
            ("2001::1", Some(RESERVED)),
            ("2001:2::1", Some(BENCHMARKING)),
            ("2001:db8::1", Some(DOCUMENTATION)),
            ("3fff::1", Some(DOCUMENTATION)),
            ("4000::1", Some(RESERVED)),
            ("1::1", Some(RESERVED)),
            ("2606:4700:4700::1111", None),
            ("2001:4860:4860::8888", None),
            ("2a00:1450:4001::1", None),
        ];
        for (ip, expected) in table {
            let parsed: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip} parses"));
            assert_eq!(refusal(parsed), *expected, "{ip}");
        }
    }

    fn check(policy: &Policy, url: &str) -> std::result::Result<(), String> {
        let url = Url::parse(url).map_err(|e| e.to_string())?;
        policy.check_url(&url).map_err(|e| e.message)
    }

    #[test]
    fn checks_urls_before_connecting() {
        let policy = Policy::new(&[]);
        let refused = |url: &str, message: &str| assert_eq!(check(&policy, url), Err(message.to_owned()), "{url}");
        refused("http://127.0.0.1/x", "The URL's host 127.0.0.1 is a loopback address and may not be fetched.");
        // The URL parser reads every IPv4 spelling into one address.
        for url in
            ["http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://127.0.0.1./", "http://%31%32%37.0.0.1/"]
        {
            refused(url, "The URL's host 127.0.0.1 is a loopback address and may not be fetched.");
        }
        refused("http://[::1]:8080/", "The URL's host [::1] is a loopback address and may not be fetched.");
        refused(
            "http://[::ffff:127.0.0.1]/",
            "The URL's host [::ffff:127.0.0.1] is a loopback address and may not be fetched.",
        );
        refused("http://localhost/", "The URL's host localhost is a loopback address and may not be fetched.");
        refused("http://LocalHost./", "The URL's host localhost. is a loopback address and may not be fetched.");
        refused("http://api.localhost/", "The URL's host api.localhost is a loopback address and may not be fetched.");
        refused(
            "http://metadata.google.internal/computeMetadata/v1/",
            "The URL's host metadata.google.internal is a cloud metadata address and may not be fetched.",
        );
        refused("ftp://example.com/a", "The URL must use http or https.");
        refused("file:///etc/passwd", "The URL must use http or https.");
        refused("gopher://example.com/", "The URL must use http or https.");
        refused("http://user:pw@example.com/", "The URL may not contain a user name or password.");
        refused("http://user@example.com/", "The URL may not contain a user name or password.");
        assert_eq!(check(&policy, "https://example.com/a.jpg"), Ok(()));
        assert_eq!(check(&policy, "http://8.8.8.8:8080/a.jpg"), Ok(()));
        assert_eq!(check(&policy, "http://[2606:4700:4700::1111]/"), Ok(()));
    }

    #[test]
    fn allowed_hosts_pass() {
        let policy = Policy::new(&["127.0.0.1".into(), "[::1]".into(), "Localhost.".into()]);
        assert_eq!(check(&policy, "http://127.0.0.1:3000/"), Ok(()));
        assert_eq!(check(&policy, "http://[::1]:3000/"), Ok(()));
        assert_eq!(check(&policy, "http://localhost:3000/"), Ok(()));
        assert!(check(&policy, "http://127.0.0.2:3000/").is_err());
        assert!(check(&policy, "http://10.0.0.1/").is_err());
        assert!(check(&policy, "http://api.localhost/").is_err());
    }

    fn name(host: &str) -> Name {
        let Ok(name) = host.parse() else { panic!("{host} is a name") };
        name
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_with_refused_addresses() {
        let resolver = GuardedResolver { policy: Arc::new(Policy::new(&[])) };
        let Err(error) = resolver.resolve(name("localhost")).await else { panic!("localhost resolved") };
        let error = error.downcast_ref::<assetlib_core::Error>().expect("the guard's error");
        assert!(error.message.starts_with("The URL's host localhost resolves to "), "{}", error.message);
        assert!(error.message.ends_with(", a loopback address, and may not be fetched."), "{}", error.message);

        let resolver = GuardedResolver { policy: Arc::new(Policy::new(&["LOCALHOST".into()])) };
        let Ok(addrs) = resolver.resolve(name("localhost")).await else { panic!("localhost refused") };
        assert!(addrs.into_iter().all(|addr| addr.ip().is_loopback()));
    }
}
