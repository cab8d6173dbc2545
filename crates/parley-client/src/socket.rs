//! A WebSocket session: frames in (`ServerFrame`), frames out (`ClientFrame`), and the raw
//! text either way for what the typed frames cannot say.

use actix_codec::Framed;
use awc::ws::{Codec, Frame, Message};
use awc::BoxedSocket;
use futures_util::{SinkExt, StreamExt};
use parley_types::{ClientFrame, ServerFrame};

use crate::{Client, Error};

/// Largest frame read (a replay batch is many frames, each well under it).
const MAX_FRAME: usize = 1024 * 1024;

pub struct Socket {
    framed: Framed<BoxedSocket, Codec>,
    /// The close code, once the server closed the session.
    closed_with: Option<u16>,
    /// Whether pings are answered (as every client should; a test of dead peers does not).
    answer_pings: bool,
}

/// What arrived on the socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(String),
    /// A ping, when pings are not answered (`answer_pings(false)`).
    Ping,
    /// The server closed the session, with this code.
    Closed(Option<u16>),
}

impl Socket {
    pub(crate) async fn open(client: &Client) -> Result<Socket, Error> {
        let mut request = client
            .http()
            .ws(format!("{}/api/v1/ws", client.base()))
            .max_frame_size(MAX_FRAME);
        if let Some(token) = client.token() {
            request = request.bearer_auth(token);
        }
        let (_, framed) = request.connect().await.map_err(|e| match e {
            awc::error::WsClientError::InvalidResponseStatus(status) => Error::Api {
                status: status.as_u16(),
                code: None,
                detail: "the WebSocket upgrade was refused".into(),
            },
            other => Error::Transport(other.to_string()),
        })?;
        Ok(Socket::from_framed(framed))
    }

    /// A session over a connection opened elsewhere (with its own request settings).
    pub fn from_framed(framed: Framed<BoxedSocket, Codec>) -> Socket {
        Socket {
            framed,
            closed_with: None,
            answer_pings: true,
        }
    }

    /// Whether to answer the server's pings (yes, unless a test plays a dead client).
    pub fn answer_pings(&mut self, answer: bool) {
        self.answer_pings = answer;
    }

    /// The next text frame or the close, answering pings on the way; `None` when the
    /// connection ended without a close frame. Cancel-safe while pings are not answered.
    pub async fn next_incoming(&mut self) -> Result<Option<Incoming>, Error> {
        loop {
            let Some(frame) = self.framed.next().await else {
                return Ok(None);
            };
            match frame.map_err(|e| Error::Transport(e.to_string()))? {
                Frame::Text(bytes) => {
                    let text = String::from_utf8(bytes.to_vec())
                        .map_err(|e| Error::Decode(e.to_string()))?;
                    return Ok(Some(Incoming::Text(text)));
                }
                Frame::Ping(_) if !self.answer_pings => return Ok(Some(Incoming::Ping)),
                Frame::Ping(payload) => {
                    self.framed
                        .send(Message::Pong(payload))
                        .await
                        .map_err(|e| Error::Transport(e.to_string()))?;
                }
                Frame::Close(reason) => {
                    let code = reason.map(|r| u16::from(r.code));
                    self.closed_with = code;
                    return Ok(Some(Incoming::Closed(code)));
                }
                Frame::Binary(_) | Frame::Pong(_) | Frame::Continuation(_) => {}
            }
        }
    }

    /// The next server frame; `None` once the session is closed.
    pub async fn next_frame(&mut self) -> Result<Option<ServerFrame>, Error> {
        loop {
            match self.next_incoming().await? {
                Some(Incoming::Text(text)) => {
                    return serde_json::from_str(&text)
                        .map(Some)
                        .map_err(|e| Error::Decode(format!("{e}: {text}")))
                }
                Some(Incoming::Ping) => continue,
                Some(Incoming::Closed(_)) | None => return Ok(None),
            }
        }
    }

    /// The close code, once the server closed the session.
    pub fn closed_with(&self) -> Option<u16> {
        self.closed_with
    }

    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), Error> {
        let text = serde_json::to_string(frame).map_err(|e| Error::Decode(e.to_string()))?;
        self.send_text(&text).await
    }

    /// Sends any text, as a client that does not follow the protocol might.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.framed
            .send(Message::Text(text.to_owned().into()))
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }

    /// Sends a binary frame (which the protocol does not use).
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        self.framed
            .send(Message::Binary(bytes.into()))
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }

    /// Closes the session normally: a close frame, then the connection.
    pub async fn close(mut self) -> Result<(), Error> {
        self.framed
            .send(Message::Close(None))
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        self.framed
            .close()
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }
}
