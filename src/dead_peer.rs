//! Bounds how long a connection whose peer stopped acknowledging can hold its socket.
//!
//! Without this, a client that vanished (no FIN, no RST) or stopped reading keeps its socket,
//! and whatever the server had queued for it, until TCP's own retransmission limits give up,
//! which on Linux takes about fifteen minutes, and never for a peer that keeps advertising a
//! zero window. Keep-alive probes find an idle dead peer; `TCP_USER_TIMEOUT` drops a connection
//! whose sent data (or probes) stay unacknowledged, or whose peer's window stays shut, for
//! longer than the limit.

use std::time::Duration;

use actix_web::rt::net::TcpStream;
use socket2::{SockRef, TcpKeepalive};

/// Keep-alive probes sent before a silent peer is given up; the user timeout, which also
/// covers probes, ends the connection at the stated limit whatever the count.
const PROBES: u32 = 3;

/// The keep-alive timings that find a dead peer within `limit`: first probe after a third of
/// it, then evenly spaced probes.
fn keepalive_for(limit: Duration) -> TcpKeepalive {
    let idle = (limit / 3).max(Duration::from_secs(1));
    let interval = ((limit - idle.min(limit)) / PROBES).max(Duration::from_secs(1));
    TcpKeepalive::new()
        .with_time(idle)
        .with_interval(interval)
        .with_retries(PROBES)
}

/// Applies the limit to a newly accepted connection (the HTTP service's `on_connect_ext`). A
/// socket that refuses the options keeps the kernel's defaults; that is logged, not fatal.
pub fn bound(stream: &TcpStream, limit: Duration) {
    let socket = SockRef::from(stream);
    let applied = socket
        .set_tcp_keepalive(&keepalive_for(limit))
        .and_then(|()| socket.set_tcp_user_timeout(Some(limit)));
    if let Err(e) = applied {
        tracing::warn!(error = %e, "could not bound the connection's dead-peer time");
    }
}
