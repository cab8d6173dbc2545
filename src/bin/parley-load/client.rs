//! The few API calls the scenarios need, over awc.

use std::net::IpAddr;
use std::time::Duration;

use awc::Client;
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

    pub async fn call(
        &self,
        method: awc::http::Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (name, value) in headers {
            req = req.insert_header((*name, value.as_str()));
        }
        let sent = match body {
            Some(body) => req.send_json(body).await,
            None => req.send().await,
        };
        match sent {
            Err(_) => Answer {
                status: 0,
                body: Value::Null,
            },
            Ok(mut res) => {
                let status = res.status().as_u16();
                let body = res
                    .json::<Value>()
                    .limit(16 * 1024 * 1024)
                    .await
                    .unwrap_or(Value::Null);
                Answer { status, body }
            }
        }
    }

    /// A GET whose answer is read into `T` rather than a generic JSON value: for a hot loop
    /// that needs only a few fields, so that the tool spends less on each answer than the
    /// server does. `None` when there was no answer or it did not parse.
    pub async fn get_as<T: DeserializeOwned>(&self, path: &str, token: &str) -> (u16, Option<T>) {
        let sent = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await;
        match sent {
            Err(_) => (0, None),
            Ok(mut res) => {
                let status = res.status().as_u16();
                let body = res.json::<T>().limit(16 * 1024 * 1024).await.ok();
                (status, body)
            }
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.call(awc::http::Method::POST, path, token, &[], Some(body))
            .await
    }

    /// A fresh user with a unique name (the run id keeps repeated runs apart).
    pub async fn register(&self, run: &str, n: usize) -> Result<User, String> {
        let username = format!("load{run}u{n}");
        let answer = self
            .post(
                "/api/v1/auth/register",
                None,
                &json!({"username": username, "password": "load-password"}),
            )
            .await;
        if answer.status != 201 {
            return Err(format!(
                "registering {username} answered {} {}",
                answer.status, answer.body
            ));
        }
        Ok(User {
            id: answer.body["user"]["id"].as_i64().unwrap_or_default(),
            token: answer.body["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    pub async fn group(&self, owner: &User, members: &[i64]) -> Result<i64, String> {
        let answer = self
            .post(
                "/api/v1/chats",
                Some(&owner.token),
                &json!({"kind": "group", "title": "load", "member_ids": members}),
            )
            .await;
        match answer.body["id"].as_i64() {
            Some(id) if answer.status == 201 => Ok(id),
            _ => Err(format!(
                "creating a chat answered {} {}",
                answer.status, answer.body
            )),
        }
    }

    pub async fn send(
        &self,
        user: &User,
        chat_id: i64,
        content: &str,
        key: Option<String>,
    ) -> Answer {
        let headers: Vec<(&str, String)> = key
            .map(|k| vec![("Idempotency-Key", k)])
            .unwrap_or_default();
        self.call(
            awc::http::Method::POST,
            "/api/v1/messages",
            Some(&user.token),
            &headers,
            Some(&json!({"chat_id": chat_id, "type": "text", "content": content})),
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
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}
