//! The server carries upgraded connections itself, outside the HTTP/1 dispatcher
//! (`http::upgraded`): what a raw client sees at the edges of that hand-over.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Backend, TestServer};

fn handshake(addr: &str, token: &str) -> String {
    format!(
        "GET /api/v1/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
}

/// A client's text frame, masked as RFC 6455 requires (payloads under 126 bytes).
fn masked_text(payload: &str) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads up to the end of an HTTP head.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "head cut short");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads one unmasked text frame from the server (payloads under 64 KiB).
async fn read_text_frame(stream: &mut TcpStream) -> String {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.unwrap();
    assert_eq!(header[0], 0x81, "a final text frame");
    let len = match header[1] & 0x7f {
        126 => {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await.unwrap();
            usize::from(u16::from_be_bytes(len))
        }
        127 => panic!("frame too long for this test"),
        len => usize::from(len),
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    String::from_utf8(payload).unwrap()
}

/// Bytes a client sends in the same write as its handshake belong to the WebSocket: they reach
/// the session, in order, after its `ready`.
#[actix_rt::test]
async fn a_frame_sent_with_the_handshake_reaches_the_session() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let alice = server.api().register("alice").await;
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = handshake(addr, &alice.token).into_bytes();
    request.extend(masked_text(r#"{"type":"ping"}"#));
    request.extend(masked_text(r#"{"type":"nonsense"}"#));
    stream.write_all(&request).await.unwrap();

    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let frames = tokio::time::timeout(Duration::from_secs(5), async {
        let mut frames = Vec::new();
        for _ in 0..3 {
            let frame: serde_json::Value =
                serde_json::from_str(&read_text_frame(&mut stream).await).unwrap();
            frames.push(frame["type"].as_str().unwrap().to_owned());
        }
        frames
    })
    .await
    .expect("three frames within 5 s");
    assert_eq!(frames, ["ready", "pong", "error"]);
}

/// A handshake the app refuses gets the app's own answer, body and all, and the connection
/// ends there (the server does not read another request from it).
#[actix_rt::test]
async fn a_refused_upgrade_gets_its_answer_and_the_connection_ends() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(handshake(addr, "not-a-token").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert!(head.to_ascii_lowercase().contains("x-request-id"), "{head}");
    let error: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["code"], "unauthorized", "{body}");
}
