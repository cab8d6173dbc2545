//! `parley users …`: operator commands, run as a client of the running server's admin API, so
//! that what they change takes effect in that server at once (open sockets closed, tokens out
//! of its cache) on every node.

use crate::config::{Config, UsersCommand};
use crate::domain::{AccountStatus, UserId};

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
    let admin = parley_client::Client::new(&base).with_token(&token);
    match action {
        UsersCommand::List { query } => {
            let query = query.as_deref().unwrap_or_default();
            for user in admin.admin_users(query, 200).await.map_err(say)?.users {
                println!("{}", describe(&user));
            }
        }
        UsersCommand::Deactivate { username } => {
            let id = id_of(&admin, &username).await?;
            let user = admin.admin_deactivate(id).await.map_err(say)?;
            println!(
                "deactivated: {} (tokens revoked, sessions closed)",
                describe(&user)
            );
        }
        UsersCommand::Reactivate { username } => {
            let id = id_of(&admin, &username).await?;
            let user = admin.admin_reactivate(id).await.map_err(say)?;
            println!("reactivated: {}", describe(&user));
        }
    }
    Ok(())
}

fn describe(user: &AccountStatus) -> String {
    let state = match &user.deactivated_at {
        Some(at) => format!("deactivated since {}", at.to_rfc3339()),
        None => "active".to_owned(),
    };
    format!("{} (id {}, {state})", user.username, user.id)
}

/// The account with exactly this username.
async fn id_of(admin: &parley_client::Client, username: &str) -> Result<UserId, String> {
    admin
        .admin_user_named(username)
        .await
        .map_err(say)?
        .map(|u| u.id)
        .ok_or_else(|| format!("no account named {username:?}"))
}

/// What an operator reads when a call fails.
fn say(error: parley_client::Error) -> String {
    match error {
        parley_client::Error::Api { status: 401, .. } => {
            "the server refused PARLEY_ADMIN_TOKEN".to_owned()
        }
        parley_client::Error::Api { status, detail, .. } => {
            format!("the server answered {status}: {detail}")
        }
        parley_client::Error::Transport(e) => format!("cannot reach the server: {e}"),
        parley_client::Error::Decode(e) => {
            format!("the server's answer is not what this version expects: {e}")
        }
    }
}
