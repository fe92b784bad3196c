//! A loopback HTTP/1.1 proxy in front of a real S3 server that answers some requests itself, the way S3
//! stores that lack an optional operation do (Garage, some Ceph RGW and SeaweedFS versions, R2 in places).
//! Every other request goes to the real server unchanged, one request per connection (the proxy adds
//! `Connection: close`, which SigV4 does not sign), so each request is seen and judged.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

/// Which requests the proxy refuses.
#[derive(Clone, Copy, Debug)]
pub enum Refuse {
    /// ListMultipartUploads (`GET /bucket?uploads`) answered 501 NotImplemented.
    ListMultipartUploads501,
    /// The same, answered 400 with an unsupported-operation code.
    ListMultipartUploads400,
    /// Any PUT that carries a Content-MD5 header answered 501 NotImplemented.
    ContentMd5,
}

pub struct S3Faults {
    pub port: u16,
    refused: Arc<AtomicU64>,
}

impl S3Faults {
    /// Listens on a free loopback port and forwards to `upstream` (host:port).
    pub fn start(upstream: &str, refuse: Refuse) -> S3Faults {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let refused = Arc::new(AtomicU64::new(0));
        let (upstream, count) = (upstream.to_string(), refused.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                let (upstream, count) = (upstream.clone(), count.clone());
                thread::spawn(move || serve(client, &upstream, refuse, &count));
            }
        });
        S3Faults { port, refused }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests the proxy answered itself.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

fn read_head(client: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((buf, rest));
        }
        let n = client.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `GET /bucket?uploads...` (not `?uploadId=`, which is a part or an abort).
fn lists_uploads(request_line: &str) -> bool {
    let mut parts = request_line.split_whitespace();
    let (Some("GET"), Some(target)) = (parts.next(), parts.next()) else {
        return false;
    };
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .any(|kv| kv == "uploads" || kv.starts_with("uploads="))
}

fn serve(mut client: TcpStream, upstream: &str, refuse: Refuse, refused: &AtomicU64) {
    let Some((head, rest)) = read_head(&mut client) else {
        return;
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let request_line = text.lines().next().unwrap_or("");
    let refused_here = match refuse {
        Refuse::ContentMd5 => {
            request_line.starts_with("PUT ")
                && text
                    .lines()
                    .any(|l| l.to_ascii_lowercase().starts_with("content-md5:"))
        }
        _ => lists_uploads(request_line),
    };
    if refused_here {
        // Read the body first, as a server does: answering mid-upload and closing would reset the
        // connection and the client would see a broken pipe instead of the answer.
        let length: usize = text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut unread = length.saturating_sub(rest.len());
        let mut sink = [0u8; 64 * 1024];
        while unread > 0 {
            match client.read(&mut sink[..unread.min(64 * 1024)]) {
                Ok(0) | Err(_) => break,
                Ok(n) => unread -= n,
            }
        }
        refused.fetch_add(1, Ordering::SeqCst);
        let (status, code) = match refuse {
            Refuse::ListMultipartUploads501 | Refuse::ContentMd5 => {
                ("501 Not Implemented", "NotImplemented")
            }
            Refuse::ListMultipartUploads400 => ("400 Bad Request", "UnsupportedOperation"),
        };
        let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>not here</Message></Error>");
        let _ = write!(
            client,
            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    let mut forwarded: String = text
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    forwarded.push_str("Connection: close\r\n\r\n");
    if server.write_all(forwarded.as_bytes()).is_err() || server.write_all(&rest).is_err() {
        return;
    }
    let (mut c2, mut s2) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
    );
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = up.join();
}
