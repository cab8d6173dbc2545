//! The tests' WebSocket client: `parley_client::Socket`, read as JSON values (the tests check
//! the wire itself), silent to pings unless a test speaks.

use std::time::Duration;

use parley_client::{Incoming, Socket};
use serde_json::Value;

use super::TestServer;

/// The `presence` frame that says `user_id` is `status` (`online` or `offline`).
pub fn presence_frame(user_id: i64, status: &str) -> Value {
    serde_json::json!({"type": "presence", "data": {"user_id": user_id, "status": status}})
}

pub struct WsClient {
    conn: Socket,
    pub session_id: String,
    /// WebSocket pings the server has sent so far (skipped, never answered).
    pub pings: usize,
    /// `presence` frames, set aside as they come (they depend on who else connects when), for
    /// the tests about presence to read with `next_presence`.
    presence: std::collections::VecDeque<Value>,
    /// Events that arrived between `ready` and the handshake's `pong`, read first.
    early: std::collections::VecDeque<Value>,
}

/// What the next frame turned out to be.
#[derive(Debug)]
pub enum Next {
    Json(Value),
    Closed(Option<u16>),
    Silent,
}

impl WsClient {
    /// Connects with a bearer header and checks that `ready` comes first.
    pub async fn connect(server: &TestServer, token: &str) -> WsClient {
        Self::connect_to(&server.base, token).await
    }

    pub async fn connect_to(base: &str, token: &str) -> WsClient {
        let conn = parley_client::Client::new(base)
            .with_token(token)
            .connect()
            .await
            .expect("websocket connects");
        Self::after_handshake(conn).await
    }

    pub async fn connect_with_query(server: &TestServer, token: &str) -> WsClient {
        // The token in the query, as browsers send it (they cannot set headers).
        let (_, conn) = awc::Client::new()
            .ws(server.url(&format!("/api/v1/ws?token={token}")))
            .max_frame_size(1024 * 1024)
            .connect()
            .await
            .expect("websocket connects");
        Self::after_handshake(Socket::from_framed(conn)).await
    }

    fn new(mut conn: Socket) -> WsClient {
        conn.answer_pings(false);
        WsClient {
            conn,
            session_id: String::new(),
            pings: 0,
            presence: std::collections::VecDeque::new(),
            early: std::collections::VecDeque::new(),
        }
    }

    async fn after_handshake(conn: Socket) -> WsClient {
        let mut client = Self::new(conn);
        let ready = client.next_json().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        client.session_id = ready["data"]["session_id"]
            .as_str()
            .expect("session id")
            .to_owned();
        client.send(&serde_json::json!({"type": "ping"})).await;
        // Events may come before the pong (a chat's events reaching this node over the bus as
        // the session binds): they are kept, in order, for the test to read.
        let mut early = std::collections::VecDeque::new();
        loop {
            let frame = client.next_json().await;
            if frame["type"] == "pong" {
                break;
            }
            assert!(
                frame.get("seq").is_some(),
                "only events may come before the pong: {frame}"
            );
            early.push_back(frame);
        }
        client.early = early;
        client
    }

    /// Opens a session that may be refused or closed at once: `Err(status)` for an upgrade
    /// refused with that status, `Ok(Err(code))` for a session closed before `ready`, else the
    /// ready session.
    pub async fn try_open(base: &str, token: &str) -> Result<Result<WsClient, Option<u16>>, u16> {
        let conn = match parley_client::Client::new(base)
            .with_token(token)
            .connect()
            .await
        {
            Ok(conn) => conn,
            Err(parley_client::Error::Api { status, .. }) => return Err(status),
            Err(e) => panic!("unexpected client error: {e}"),
        };
        let mut client = Self::new(conn);
        match client.next_within(Duration::from_secs(10)).await {
            Next::Json(ready) if ready["type"] == "ready" => Ok(Ok(client)),
            Next::Closed(code) => Ok(Err(code)),
            other => panic!("expected ready or a close, got {other:?}"),
        }
    }

    /// The status the server answers an upgrade with (for refused ones).
    pub async fn refused_status(server: &TestServer, token: Option<&str>) -> u16 {
        Self::upgrade_status(server, token, None).await
    }

    /// The status of an upgrade with this token and `Origin` (either may be absent): 101 for
    /// one that is accepted.
    pub async fn upgrade_status(
        server: &TestServer,
        token: Option<&str>,
        origin: Option<&str>,
    ) -> u16 {
        let mut request = awc::Client::new().ws(server.url("/api/v1/ws"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(origin) = origin {
            request = request.origin(origin);
        }
        match request.connect().await {
            Ok(_) => 101,
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => status.as_u16(),
            Err(e) => panic!("unexpected client error: {e}"),
        }
    }

    /// Closes the session as a browser leaving the page does: a close frame, then the
    /// connection. (Dropping the client alone leaves the socket to awc, which may hold it.)
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }

    pub async fn send(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.conn.send_text(text).await.expect("frame sent");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.conn.send_binary(bytes).await.expect("frame sent");
    }

    /// The next text frame as JSON, a close, or nothing within `wait`. Pings are skipped
    /// without an answer: the client is silent unless a test speaks. `presence` frames are set
    /// aside for `next_presence`.
    pub async fn next_within(&mut self, wait: Duration) -> Next {
        if let Some(frame) = self.early.pop_front() {
            return Next::Json(frame);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.read_until(deadline).await {
                Next::Json(value) if value["type"] == "presence" => self.presence.push_back(value),
                other => return other,
            }
        }
    }

    /// The next `presence` frame, or `None` if none comes within `wait` (other frames that
    /// arrive meanwhile are dropped).
    pub async fn next_presence(&mut self, wait: Duration) -> Option<Value> {
        if let Some(frame) = self.presence.pop_front() {
            return Some(frame);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.read_until(deadline).await {
                Next::Json(value) if value["type"] == "presence" => return Some(value),
                Next::Json(_) => continue,
                Next::Silent | Next::Closed(_) => return None,
            }
        }
    }

    /// The next `presence` frame about this user (others are dropped: whether a session that
    /// opens while someone's announcement is under way hears it too is a race, and harmless).
    pub async fn next_presence_of(&mut self, user_id: i64, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next_presence(left).await?;
            if frame["data"]["user_id"] == user_id {
                return Some(frame);
            }
        }
    }

    /// The next text frame, whatever its type.
    async fn read_until(&mut self, deadline: tokio::time::Instant) -> Next {
        loop {
            let incoming = match tokio::time::timeout_at(deadline, self.conn.next_incoming()).await
            {
                Err(_) => return Next::Silent,
                Ok(Err(e)) => panic!("websocket error: {e}"),
                Ok(Ok(incoming)) => incoming,
            };
            match incoming {
                None => return Next::Closed(None),
                Some(Incoming::Text(text)) => {
                    return Next::Json(serde_json::from_str(&text).expect("server frames are JSON"))
                }
                Some(Incoming::Closed(code)) => return Next::Closed(code),
                Some(Incoming::Ping) => self.pings += 1,
            }
        }
    }

    pub async fn next_json(&mut self) -> Value {
        match self.next_within(Duration::from_secs(20)).await {
            Next::Json(value) => value,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next frame that is not `typing`/`read` (those are ephemeral and timing-dependent).
    pub async fn next_event(&mut self) -> Value {
        loop {
            let frame = self.next_json().await;
            if frame["type"] != "typing" && frame["type"] != "read" {
                return frame;
            }
        }
    }

    /// Waits for the server to close the connection; returns the close code.
    pub async fn closed(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Next::Closed(code) => return code,
                Next::Silent => panic!("the server did not close the session"),
                Next::Json(_) => continue,
            }
        }
    }

    /// Asserts that no text frame arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        match self.next_within(wait).await {
            Next::Silent => {}
            other => panic!("expected silence, got {other:?}"),
        }
    }
}
