//! A peer that stops reading (or vanishes) loses its connection within the configured
//! dead-peer time, instead of holding its socket and everything queued for it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{Backend, TestServer};

/// Whether the kernel still has the server's end of the connection from `client`: an entry in
/// `/proc/net/tcp` whose local port is the server's and whose remote port is the client's.
fn server_end_exists(server: SocketAddr, client: SocketAddr) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!(":{:04X}", server.port());
    let remote = format!(":{:04X}", client.port());
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3 && fields[1].ends_with(&local) && fields[2].ends_with(&remote)
    })
}

/// Opens a WebSocket with a tiny receive buffer and returns the socket, never to be read
/// again after the handshake.
async fn connect_and_stop_reading(server: SocketAddr, token: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let request = format!(
        "GET /api/v1/ws HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "handshake cut short"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

#[actix_rt::test]
async fn a_client_that_never_reads_is_dropped_within_the_dead_peer_time() {
    let limit = Duration::from_secs(2);
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |c| {
        c.dead_peer_timeout = limit;
        // Only TCP can notice: the WebSocket heartbeat would take ten minutes.
        c.ws.ping_every = Duration::from_secs(600);
        c.ws.silence_limit = Duration::from_secs(600);
    })
    .await
    .unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let chat_id = api.group(&alice, &[&bob]).await;
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let stalled = connect_and_stop_reading(addr, &alice.token).await;
    let client = stalled.local_addr().unwrap();
    assert!(server_end_exists(addr, client));

    // Far more than the socket buffers and the session's outbox hold (~6.5 MB).
    let sending = Instant::now();
    let content = "x".repeat(4000);
    let body = json!({"chat_id": chat_id, "type": "text", "content": content});
    for _ in 0..50 {
        let sends = (0..32).map(|_| api.post("/api/v1/messages", &bob.token, &body));
        for answer in futures_util::future::join_all(sends).await {
            answer.expect(200);
        }
    }
    let deadline = Instant::now() + limit + Duration::from_secs(10);
    while server_end_exists(addr, client) {
        assert!(
            Instant::now() < deadline,
            "the server still holds the connection of a client that stopped reading"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "released {:.1} s after the first send",
        sending.elapsed().as_secs_f64()
    );
    // The server itself is unaffected.
    api.send(&bob, chat_id, "still here").await;
    drop(stalled);
}
