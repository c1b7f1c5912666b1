//! Rate limits: one token bucket per (app, client address) so one noisy client cannot starve
//! the others, plus one per app for its total. A refused request gets 429 with the whole
//! seconds until it would be accepted. The per-client table is bounded: when it is full the
//! least recently seen client is forgotten (its next request starts with a full bucket, and
//! still counts against the app's total).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Requests per second and burst, for each client and for each app in total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    pub client_rate: f64,
    pub client_burst: f64,
    pub app_rate: f64,
    pub app_burst: f64,
    /// Most clients tracked at once.
    pub max_clients: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, rate: f64, burst: f64) {
        self.tokens = (self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * rate).min(burst);
        self.last = now;
    }

    /// Whole seconds until one token is there (at least 1).
    fn wait(&self, rate: f64) -> u64 {
        ((1.0 - self.tokens) / rate).ceil().max(1.0) as u64
    }
}

type ClientKey = (String, IpAddr);

struct Clients {
    buckets: HashMap<ClientKey, (Bucket, u64)>,
    /// Recency order: sequence number of the last request -> client.
    order: BTreeMap<u64, ClientKey>,
    next_seq: u64,
}

/// The limiter shared by every ingest request.
pub struct RateLimiter {
    config: RateConfig,
    clients: Mutex<Clients>,
    apps: Mutex<HashMap<String, Bucket>>,
}

/// IPv6 clients are limited per /64, the block one host usually gets.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl RateLimiter {
    pub fn new(config: RateConfig) -> Self {
        RateLimiter {
            config,
            clients: Mutex::new(Clients { buckets: HashMap::new(), order: BTreeMap::new(), next_seq: 0 }),
            apps: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when `ip` may send for `app` now, else the whole seconds to wait. Only an accepted
    /// request takes a token from the app's total, so refused noise does not drain it.
    pub fn check(&self, app: &str, ip: IpAddr) -> Result<(), u64> {
        self.check_at(app, ip, Instant::now())
    }

    fn check_at(&self, app: &str, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let c = &self.config;
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let key = (app.to_string(), client_of(ip));
        let seq = clients.next_seq;
        clients.next_seq += 1;
        let fresh = Bucket { tokens: c.client_burst, last: now };
        let mut bucket = match clients.buckets.remove(&key) {
            Some((bucket, old_seq)) => {
                clients.order.remove(&old_seq);
                bucket
            }
            None => fresh,
        };
        bucket.refill(now, c.client_rate, c.client_burst);
        let granted = bucket.tokens >= 1.0;
        let result = if !granted {
            Err(bucket.wait(c.client_rate))
        } else {
            let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
            let total = apps.entry(app.to_string()).or_insert(Bucket { tokens: c.app_burst, last: now });
            total.refill(now, c.app_rate, c.app_burst);
            if total.tokens >= 1.0 {
                total.tokens -= 1.0;
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(total.wait(c.app_rate))
            }
        };
        while clients.buckets.len() >= c.max_clients.max(1) {
            match clients.order.pop_first() {
                Some((_, oldest)) => {
                    clients.buckets.remove(&oldest);
                }
                None => break,
            }
        }
        clients.order.insert(seq, key.clone());
        clients.buckets.insert(key, (bucket, seq));
        result
    }

    /// Clients tracked now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.lock().unwrap().buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(client_rate: f64, client_burst: f64, app_rate: f64, app_burst: f64, max_clients: usize) -> RateLimiter {
        RateLimiter::new(RateConfig { client_rate, client_burst, app_rate, app_burst, max_clients })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_refused_with_a_wait() {
        let limiter = limiter(1.0, 3.0, 100.0, 100.0, 10);
        for _ in 0..3 {
            assert!(limiter.check("k", ip("10.0.0.1")).is_ok());
        }
        assert_eq!(limiter.check("k", ip("10.0.0.1")), Err(1));
        assert!(limiter.check("other", ip("10.0.0.1")).is_ok(), "apps are limited separately");
    }

    #[test]
    fn a_noisy_client_does_not_starve_another() {
        let limiter = limiter(10.0, 20.0, 1000.0, 2000.0, 100);
        let t = Instant::now();
        let noisy = (0..10_000).filter(|_| limiter.check_at("app", ip("10.0.0.1"), t).is_ok()).count();
        assert_eq!(noisy, 20, "the noisy client gets its burst and no more");
        for i in 0..20 {
            assert_eq!(limiter.check_at("app", ip("10.0.0.2"), t), Ok(()), "quiet client's request {i}");
        }
        // Tokens come back with time.
        assert!(limiter.check_at("app", ip("10.0.0.1"), t + Duration::from_millis(200)).is_ok());
    }

    #[test]
    fn the_app_total_caps_many_clients_together() {
        let limiter = limiter(10.0, 10.0, 1.0, 25.0, 1000);
        let t = Instant::now();
        let accepted = (0..100).filter(|i| limiter.check_at("app", ip(&format!("10.0.1.{i}")), t).is_ok()).count();
        assert_eq!(accepted, 25);
        assert_eq!(limiter.check_at("app", ip("10.0.2.1"), t), Err(1), "a new client waits for the total too");
    }

    #[test]
    fn tracked_clients_are_bounded_and_the_oldest_go_first() {
        let limiter = limiter(1.0, 2.0, 1e9, 1e9, 3);
        let t = Instant::now();
        for _ in 0..2 {
            limiter.check_at("app", ip("10.0.0.1"), t).unwrap();
        }
        assert!(limiter.check_at("app", ip("10.0.0.1"), t).is_err());
        for i in 2..200 {
            let _ = limiter.check_at("app", ip(&format!("10.0.0.{}", i % 250)), t);
            // 10.0.0.1 keeps being seen, so it stays tracked (and limited) while others churn.
            assert!(limiter.check_at("app", ip("10.0.0.1"), t).is_err(), "at {i}");
            assert!(limiter.tracked() <= 3);
        }
    }

    #[test]
    fn ipv6_clients_share_their_64_block() {
        let limiter = limiter(1.0, 2.0, 1e9, 1e9, 10);
        let t = Instant::now();
        assert!(limiter.check_at("app", ip("2001:db8:1:2::1"), t).is_ok());
        assert!(limiter.check_at("app", ip("2001:db8:1:2::ffff"), t).is_ok());
        assert!(limiter.check_at("app", ip("2001:db8:1:2:abcd::7"), t).is_err());
        assert!(limiter.check_at("app", ip("2001:db8:1:3::1"), t).is_ok());
        // An IPv4 client seen through a dual-stack socket is the same client.
        assert!(limiter.check_at("app", ip("10.9.9.9"), t).is_ok());
        assert!(limiter.check_at("app", ip("::ffff:10.9.9.9"), t).is_ok());
        assert!(limiter.check_at("app", ip("10.9.9.9"), t).is_err());
    }
}
