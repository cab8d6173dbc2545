//! A bound on the requests one client address has in flight (from its head being read to its
//! answer). A client that opens requests and never finishes their bodies holds a connection,
//! a file descriptor and a worker's attention each; past the bound its further requests are
//! refused at once (`429`, and the connection closed), so it cannot starve everyone else.
//! WebSockets count only during their handshake: open sessions have caps of their own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::Error;

use super::error::ApiError;
use super::AppState;
use crate::error::AppError;

/// How many requests each address has in flight, under a cap.
#[derive(Clone)]
pub struct InFlight {
    per_address: usize,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One request's place under the cap, given back when it is dropped (however the request ends).
pub struct InFlightPermit {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    address: IpAddr,
}

fn lock(counts: &Mutex<HashMap<IpAddr, usize>>) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
    // Each critical section is one counter update: a poisoned lock is still consistent.
    counts.lock().unwrap_or_else(|p| p.into_inner())
}

impl InFlight {
    /// A cap of 0 means no cap.
    pub fn new(per_address: usize) -> Self {
        InFlight {
            per_address,
            counts: Arc::default(),
        }
    }

    /// A permit for one more request from `address`, or `None` past the cap.
    pub fn try_acquire(&self, address: IpAddr) -> Option<InFlightPermit> {
        let mut counts = lock(&self.counts);
        let count = counts.entry(address).or_default();
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(InFlightPermit {
            counts: self.counts.clone(),
            address,
        })
    }
}

impl Drop for InFlightPermit {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(count) = counts.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// The middleware: holds a permit while the request is handled, or refuses it.
pub async fn limit_in_flight(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let permit = admit(&req)?;
    let response = next.call(req).await?.map_into_boxed_body();
    drop(permit);
    Ok(response)
}

/// A permit for the request, `None` when there is no cap (or no address to count it under),
/// or the refusal past the cap.
fn admit(req: &ServiceRequest) -> Result<Option<InFlightPermit>, ApiError> {
    let Some(state) = req.app_data::<Data<AppState>>() else {
        return Ok(None);
    };
    if state.in_flight.per_address == 0 {
        return Ok(None);
    }
    let Some(address) = super::client_address::client_ip(req.request(), &state.trusted_proxies)
    else {
        return Ok(None);
    };
    match state.in_flight.try_acquire(address) {
        Some(permit) => Ok(Some(permit)),
        None => {
            state.actors.metrics.rate_limited.inc();
            Err(ApiError(AppError::TooManyInFlight))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_counted_per_address_and_given_back() {
        let in_flight = InFlight::new(2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = in_flight.try_acquire(a);
        let second = in_flight.try_acquire(a);
        assert!(first.is_some() && second.is_some());
        assert!(in_flight.try_acquire(a).is_none());
        assert!(in_flight.try_acquire(b).is_some());
        drop(first);
        assert!(in_flight.try_acquire(a).is_some());
    }
}
