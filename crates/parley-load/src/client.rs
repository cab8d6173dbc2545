//! The few API calls the scenarios need, through `parley-client` (with a connector of the
//! tool's own: no connection cap, and a chosen source address).

use std::net::IpAddr;
use std::time::Duration;

use awc::Client;
use parley_types::UserId;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: Client,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub token: String,
}

/// The outcome of one request: its status, or 0 when it never got an answer.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_owned(),
            client: client(),
        }
    }

    /// The typed client, authenticated with `token` when there is one.
    fn parley(&self, token: Option<&str>) -> parley_client::Client {
        let parley = parley_client::Client::with_http(&self.base, self.client.clone());
        match token {
            Some(token) => parley.with_token(token),
            None => parley,
        }
    }

    pub async fn call(
        &self,
        method: awc::http::Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Answer {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let body = body
            .and_then(|b| serde_json::to_vec(b).ok())
            .map(Into::into);
        match self.parley(token).raw(method, path, &headers, body).await {
            Err(_) => Answer {
                status: 0,
                body: Value::Null,
            },
            Ok(raw) => Answer {
                status: raw.status,
                body: serde_json::from_slice(&raw.body).unwrap_or(Value::Null),
            },
        }
    }

    /// A GET whose answer is read into `T` rather than a generic JSON value: for a hot loop
    /// that needs only a few fields, so that the tool spends less on each answer than the
    /// server does. `None` when there was no answer or it did not parse.
    pub async fn get_as<T: DeserializeOwned>(&self, path: &str, token: &str) -> (u16, Option<T>) {
        let get = awc::http::Method::GET;
        match self.parley(Some(token)).raw(get, path, &[], None).await {
            Err(_) => (0, None),
            Ok(raw) => (raw.status, serde_json::from_slice(&raw.body).ok()),
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.call(awc::http::Method::POST, path, token, &[], Some(body))
            .await
    }

    /// A fresh user with a unique name (the run id keeps repeated runs apart).
    pub async fn register(&self, run: &str, n: usize) -> Result<User, String> {
        let username = format!("load{run}u{n}");
        let session = self
            .parley(None)
            .register(&username, "load-password", None)
            .await
            .map_err(|e| format!("registering {username}: {e}"))?;
        Ok(User {
            id: session.user.id.get(),
            token: session.access_token,
        })
    }

    pub async fn group(&self, owner: &User, members: &[i64]) -> Result<i64, String> {
        let members: Vec<UserId> = members.iter().copied().map(UserId).collect();
        self.parley(Some(&owner.token))
            .create_group("load", &members)
            .await
            .map(|chat| chat.id.get())
            .map_err(|e| format!("creating a chat: {e}"))
    }

    /// The direct chat of `one` and `other` (opened by `one`).
    pub async fn direct(&self, one: &User, other: i64) -> Result<i64, String> {
        self.parley(Some(&one.token))
            .direct_chat(UserId(other))
            .await
            .map(|chat| chat.id.get())
            .map_err(|e| format!("opening a direct chat: {e}"))
    }

    pub async fn send(
        &self,
        user: &User,
        chat_id: i64,
        content: &str,
        key: Option<String>,
    ) -> Answer {
        self.send_in(user, chat_id, content, key, None).await
    }

    /// A send, in the thread of `thread_root` when there is one.
    /// Posts `text` through an incoming webhook (`url` is its `/hooks/<secret>`).
    pub async fn post_hook(&self, url: &str, text: &str, key: Option<String>) -> Answer {
        let headers: Vec<(&str, String)> = key
            .map(|k| vec![("Idempotency-Key", k)])
            .unwrap_or_default();
        self.call(
            awc::http::Method::POST,
            url,
            None,
            &headers,
            Some(&json!({ "text": text })),
        )
        .await
    }

    pub async fn send_in(
        &self,
        user: &User,
        chat_id: i64,
        content: &str,
        key: Option<String>,
        thread_root: Option<i64>,
    ) -> Answer {
        let headers: Vec<(&str, String)> = key
            .map(|k| vec![("Idempotency-Key", k)])
            .unwrap_or_default();
        let body = json!({
            "chat_id": chat_id, "type": "text", "content": content, "thread_root_id": thread_root,
        });
        self.call(
            awc::http::Method::POST,
            "/api/v1/messages",
            Some(&user.token),
            &headers,
            Some(&body),
        )
        .await
    }
}

/// A client without awc's default cap of 100 connections.
pub fn client() -> Client {
    client_from(None)
}

/// The same, connecting from the given local address.
pub fn client_from(source: Option<IpAddr>) -> Client {
    let mut connector = awc::Connector::new().limit(0);
    if let Some(source) = source {
        connector = connector.local_address(source);
    }
    Client::builder()
        .connector(connector)
        .timeout(Duration::from_secs(30))
        .finish()
}

/// A short random id for this run's user names.
pub fn run_id() -> String {
    // The first 8 of the simple form's 32 hex digits, taken as chars so that nothing slices.
    uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(8)
        .collect()
}
