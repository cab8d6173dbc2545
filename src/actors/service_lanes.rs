//! Bounded concurrency per outside service, shared by the delivery actors (push notifications,
//! outgoing webhooks): at most `per_service` requests in flight to one origin, so that a slow
//! service holds up only its own deliveries.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;

pub struct ServiceLanes {
    per_service: usize,
    lanes: HashMap<String, Arc<Semaphore>>,
}

impl ServiceLanes {
    pub fn new(per_service: usize) -> Self {
        ServiceLanes {
            per_service,
            lanes: HashMap::new(),
        }
    }

    /// The lane of the URL's origin (scheme, host and port), or `None` for a URL without one.
    /// A delivery holds one of its permits while its request is out.
    pub fn lane(&mut self, url: &str) -> Option<Arc<Semaphore>> {
        let origin = origin(url)?;
        let per_service = self.per_service;
        Some(
            self.lanes
                .entry(origin)
                .or_insert_with(|| Arc::new(Semaphore::new(per_service)))
                .clone(),
        )
    }
}

/// `scheme://host:port` of a URL, the unit a service is counted in.
pub fn origin(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            origin("https://fcm.googleapis.com/fcm/send/abc").as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(
            origin("http://localhost:8090/notify/x").as_deref(),
            Some("http://localhost:8090")
        );
        assert_eq!(origin("not a url"), None);
    }

    #[test]
    fn one_origin_shares_one_lane() {
        let mut lanes = ServiceLanes::new(2);
        let a = lanes.lane("https://a.example/x").unwrap();
        let again = lanes.lane("https://a.example/y").unwrap();
        let b = lanes.lane("https://b.example/x").unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a.available_permits(), 2);
    }
}
