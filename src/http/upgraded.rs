//! Upgraded connections (WebSockets) carried outside actix-http's HTTP/1 dispatcher.
//!
//! The dispatcher keeps an 8 KiB read buffer and an 8 KiB write buffer for as long as its
//! connection lives, and a WebSocket upgraded inside it stays a streaming response: those two
//! buffers were most of what an idle session cost. For a request that asks for an upgrade,
//! actix-http can hand over the socket instead, to an `upgrade` service. This module is that
//! service. It runs the request through the same app as any other (authentication, limits,
//! request ids and every error answer stay where they are), with the socket as the request's
//! payload. When the app answers 101, it writes the head and then copies the response body to
//! the socket itself, holding no buffer while the connection is quiet: reads go through a
//! buffer on the stack and become exactly as many bytes as arrived, and a write is attempted
//! straight from the body's own bytes. The WebSocket library still frames and parses both
//! directions (it only sees a byte stream either way).
//!
//! The connection then runs as a task of its own on the worker's thread, and the dispatcher's
//! task (which is sized for the largest request it could serve) ends. Such connections are
//! counted in [`Upgraded`], so that a graceful shutdown can wait for them, as the server waits
//! for the requests in flight.
//!
//! Any other answer to such a request is written with `Connection: close`, and the connection
//! ends with it.

use std::future::{poll_fn, ready, Ready};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{Encoder, Framed};
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::error::PayloadError;
use actix_http::{h1, ConnectionType, Payload, Request, Response, StatusCode};
use actix_service::{Service, ServiceFactory};
use actix_web::rt::net::TcpStream;
use bytes::{Bytes, BytesMut};
use futures_util::future::LocalBoxFuture;
use futures_util::Stream;

/// The most read from the socket at once; the buffer lives on the stack for one read only.
const READ_CHUNK: usize = 8 * 1024;

/// How long a finished connection waits for its peer to close before it is dropped, as the
/// dispatcher's own client disconnect timeout: a socket closed with unread data sends a reset,
/// which could cost the peer the last frames (a close frame) it has not read yet.
const LINGER: Duration = Duration::from_secs(1);

/// How many upgraded connections are open, over all workers.
#[derive(Clone, Default)]
pub struct Upgraded(Arc<AtomicUsize>);

impl Upgraded {
    pub fn open(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Waits until every upgraded connection has ended, or `limit` has passed.
    pub async fn drained(&self, limit: Duration) {
        let deadline = actix_web::rt::time::Instant::now() + limit;
        while self.open() > 0 && actix_web::rt::time::Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn count(&self) -> OpenConnection {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.0.clone())
    }
}

/// One upgraded connection in [`Upgraded`], for as long as it is held.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Makes an [`UpgradeService`] per worker from a factory of the app.
pub struct UpgradeFactory<F> {
    app: F,
    upgraded: Upgraded,
}

impl<F> UpgradeFactory<F> {
    pub fn new(app: F, upgraded: Upgraded) -> UpgradeFactory<F> {
        UpgradeFactory { app, upgraded }
    }
}

impl<F> ServiceFactory<(Request, Framed<TcpStream, h1::Codec>)> for UpgradeFactory<F>
where
    F: ServiceFactory<
        Request,
        Config = (),
        Response = Response<BoxBody>,
        Error = Response<BoxBody>,
    >,
    F::Service: 'static,
    F::Future: 'static,
{
    type Response = ();
    type Error = actix_web::Error;
    type Config = ();
    type Service = UpgradeService<F::Service>;
    type InitError = F::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Service, Self::InitError>>;

    fn new_service(&self, _: ()) -> Self::Future {
        let app = self.app.new_service(());
        let upgraded = self.upgraded.clone();
        Box::pin(async move {
            Ok(UpgradeService {
                app: Rc::new(app.await?),
                upgraded,
            })
        })
    }
}

/// Serves requests that ask for an upgrade; see the module's comment.
pub struct UpgradeService<S> {
    app: Rc<S>,
    upgraded: Upgraded,
}

impl<S> Service<(Request, Framed<TcpStream, h1::Codec>)> for UpgradeService<S>
where
    S: Service<Request, Response = Response<BoxBody>, Error = Response<BoxBody>> + 'static,
{
    type Response = ();
    // Never returned: a connection that fails ends, which is logged here, not as a server
    // error (a peer that goes away mid-write is routine).
    type Error = actix_web::Error;
    type Future = Ready<Result<(), actix_web::Error>>;

    actix_service::always_ready!();

    fn call(&self, (request, framed): (Request, Framed<TcpStream, h1::Codec>)) -> Self::Future {
        let open = self.upgraded.count();
        let served = serve(self.app.clone(), request, framed);
        actix_web::rt::spawn(async move {
            if let Err(e) = served.await {
                tracing::debug!(error = %e, "upgraded connection ended");
            }
            drop(open);
        });
        ready(Ok(()))
    }
}

/// Runs one upgrade request to its end. What only the handshake needs (the app's future, the
/// codec) lives in a box that is freed before the connection settles down to copying, so that
/// the task an open connection keeps is small.
async fn serve<S>(
    app: Rc<S>,
    request: Request,
    framed: Framed<TcpStream, h1::Codec>,
) -> io::Result<()>
where
    S: Service<Request, Response = Response<BoxBody>, Error = Response<BoxBody>>,
{
    let Some((socket, body)) = Box::pin(handshake(app, request, framed)).await? else {
        return Ok(());
    };
    let copied = copy_body(&socket, body).await;
    // The body owned the session and the socket's reader; both are gone now.
    if copied.is_ok() {
        Box::pin(linger(&socket)).await;
    }
    copied
}

/// Runs the request through the app with the socket as its payload. An upgrade's head is
/// written and its body returned; any other answer is written and the connection closed.
async fn handshake<S>(
    app: Rc<S>,
    request: Request,
    framed: Framed<TcpStream, h1::Codec>,
) -> io::Result<Option<(Rc<TcpStream>, BoxBody)>>
where
    S: Service<Request, Response = Response<BoxBody>, Error = Response<BoxBody>>,
{
    let parts = framed.into_parts();
    let socket = Rc::new(parts.io);
    let mut codec = parts.codec;
    // Whatever the client sent right after the head belongs to the upgraded protocol.
    let early = (!parts.read_buf.is_empty()).then(|| parts.read_buf.freeze());
    drop(parts.write_buf);
    let reader = SocketReader {
        socket: socket.clone(),
        early,
        finished: false,
    };
    let (request, _) = request.replace_payload(Payload::Stream {
        payload: Box::pin(reader) as actix_http::BoxedPayloadStream,
    });
    let response = match app.call(request).await {
        Ok(response) | Err(response) => response,
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        answer_and_close(&socket, &mut codec, response).await?;
        return Ok(None);
    }
    let (head, body) = response.into_parts();
    write_all(&socket, &encode_head(&mut codec, head, body.size())?).await?;
    Ok(Some((socket, body)))
}

/// Writes an answer that is not an upgrade, then ends the connection.
async fn answer_and_close(
    socket: &TcpStream,
    codec: &mut h1::Codec,
    response: Response<BoxBody>,
) -> io::Result<()> {
    let (mut head, body) = response.into_parts();
    head.head_mut().set_connection_type(ConnectionType::Close);
    let body = actix_http::body::to_bytes(body)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut out = encode_head(codec, head, BodySize::Sized(body.len() as u64))?;
    out.extend_from_slice(&body);
    write_all(socket, &out).await?;
    linger(socket).await;
    Ok(())
}

fn encode_head(codec: &mut h1::Codec, head: Response<()>, size: BodySize) -> io::Result<BytesMut> {
    let mut out = BytesMut::new();
    codec.encode(h1::Message::Item((head, size)), &mut out)?;
    Ok(out)
}

/// Copies the upgraded response body to the socket until it ends. The body is polled only
/// when the socket took everything before, so a peer that stops reading stops the session's
/// output, and its outbox fills, as it would inside the dispatcher.
async fn copy_body(socket: &TcpStream, body: BoxBody) -> io::Result<()> {
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(|e| io::Error::other(e.to_string()))?;
        write_all(socket, &chunk).await?;
    }
    Ok(())
}

/// Writes all of `data`, trying the socket first and waiting for it only when it is full.
async fn write_all(socket: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match socket.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends FIN, then reads and drops what the peer still sends until it closes, for at most
/// `LINGER`.
async fn linger(socket: &TcpStream) {
    if socket2::SockRef::from(socket)
        .shutdown(std::net::Shutdown::Write)
        .is_err()
    {
        return;
    }
    let drained = async {
        let mut scratch = [0u8; 1024];
        loop {
            if socket.readable().await.is_err() {
                return;
            }
            match socket.try_read(&mut scratch) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    let _ = actix_web::rt::time::timeout(LINGER, drained).await;
}

/// The socket as a request payload: each read becomes a `Bytes` of exactly what arrived.
struct SocketReader {
    socket: Rc<TcpStream>,
    early: Option<Bytes>,
    finished: bool,
}

impl Stream for SocketReader {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(early) = self.early.take() {
            return Poll::Ready(Some(Ok(early)));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            if let Err(e) = std::task::ready!(self.socket.poll_read_ready(cx)) {
                self.finished = true;
                return Poll::Ready(Some(Err(PayloadError::Io(e))));
            }
            let mut scratch = [0u8; READ_CHUNK];
            match self.socket.try_read(&mut scratch) {
                Ok(0) => {
                    self.finished = true;
                    return Poll::Ready(None);
                }
                Ok(n) => {
                    let read = scratch.get(..n).unwrap_or_default();
                    return Poll::Ready(Some(Ok(Bytes::copy_from_slice(read))));
                }
                // Readiness was stale; `try_read` cleared it, so the next poll waits.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(PayloadError::Io(e))));
                }
            }
        }
    }
}
