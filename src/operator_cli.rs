//! `parley users …`: operator commands, run as a client of the running server's admin API, so
//! that what they change takes effect in that server at once (open sockets closed, tokens out
//! of its cache) on every node.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::{Config, UsersCommand};

pub async fn run(
    config: &Config,
    server: Option<String>,
    action: UsersCommand,
) -> Result<(), String> {
    let token = config
        .admin_token
        .clone()
        .ok_or("PARLEY_ADMIN_TOKEN must be set to the running server's admin token")?;
    let base = server.unwrap_or_else(|| {
        // A server listening on every address is reached on the loopback one.
        let mut addr = config.bind;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    });
    let admin = AdminClient {
        base: base.trim_end_matches('/').to_owned(),
        token,
        http: awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish(),
    };
    match action {
        UsersCommand::List { query } => {
            for user in admin.search(query.as_deref().unwrap_or_default()).await? {
                println!("{}", describe(&user));
            }
        }
        UsersCommand::Deactivate { username } => {
            let id = admin.id_of(&username).await?;
            let user = admin.post(&format!("/admin/users/{id}/deactivate")).await?;
            println!(
                "deactivated: {} (tokens revoked, sessions closed)",
                describe(&user)
            );
        }
        UsersCommand::Reactivate { username } => {
            let id = admin.id_of(&username).await?;
            let user = admin.post(&format!("/admin/users/{id}/reactivate")).await?;
            println!("reactivated: {}", describe(&user));
        }
    }
    Ok(())
}

/// The parts of the admin API's `AccountStatus` this command shows.
#[derive(Deserialize)]
struct Account {
    id: i64,
    username: String,
    deactivated_at: Option<String>,
}

#[derive(Deserialize)]
struct AccountList {
    users: Vec<Account>,
}

#[derive(Deserialize)]
struct ErrorBody {
    detail: String,
}

fn describe(user: &Account) -> String {
    let state = match &user.deactivated_at {
        Some(at) => format!("deactivated since {at}"),
        None => "active".to_owned(),
    };
    format!("{} (id {}, {state})", user.username, user.id)
}

struct AdminClient {
    base: String,
    token: String,
    http: awc::Client,
}

impl AdminClient {
    async fn call<T: DeserializeOwned>(&self, request: awc::ClientRequest) -> Result<T, String> {
        let mut response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("cannot reach the server at {}: {e}", self.base))?;
        let body = response
            .body()
            .await
            .map_err(|e| format!("the server's answer was cut short: {e}"))?;
        match response.status().as_u16() {
            200 => serde_json::from_slice(&body)
                .map_err(|e| format!("the server's answer is not what this version expects: {e}")),
            401 => Err("the server refused PARLEY_ADMIN_TOKEN".to_owned()),
            status => Err(format!(
                "the server answered {status}: {}",
                serde_json::from_slice::<ErrorBody>(&body)
                    .map_or_else(|_| "no detail".to_owned(), |e| e.detail)
            )),
        }
    }

    async fn search(&self, query: &str) -> Result<Vec<Account>, String> {
        let params = serde_urlencoded::to_string([("query", query), ("limit", "200")])
            .map_err(|e| e.to_string())?;
        let found: AccountList = self
            .call(self.http.get(format!("{}/admin/users?{params}", self.base)))
            .await?;
        Ok(found.users)
    }

    /// The id of the account with exactly this username.
    async fn id_of(&self, username: &str) -> Result<i64, String> {
        let params =
            serde_urlencoded::to_string([("username", username)]).map_err(|e| e.to_string())?;
        let found: AccountList = self
            .call(self.http.get(format!("{}/admin/users?{params}", self.base)))
            .await?;
        found
            .users
            .iter()
            .find(|u| u.username == username)
            .map(|u| u.id)
            .ok_or_else(|| format!("no account named {username:?}"))
    }

    async fn post(&self, path: &str) -> Result<Account, String> {
        self.call(self.http.post(format!("{}{path}", self.base)))
            .await
    }
}
