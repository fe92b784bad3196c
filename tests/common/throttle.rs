//! A TCP forwarder that slows a real server's traffic to a fixed rate, so a fault test can interrupt a
//! snapshot stream or an upload at a known point instead of racing a loopback link. It forwards bytes
//! unchanged (TLS passes through), to the real server behind it: nothing is answered on the server's behalf.
//!
//! `cut()` drops every open connection and refuses new ones (a network partition); `heal()` undoes that.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub struct Throttle {
    pub port: u16,
    state: Arc<State>,
}

struct State {
    upstream: String,
    bytes_per_sec: AtomicU64,
    cut: AtomicBool,
    stop: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
    forwarded: AtomicU64,
}

impl Throttle {
    /// Listens on a free loopback port and forwards to `upstream` (host:port) at `bytes_per_sec` per
    /// direction and connection (0 = unlimited).
    pub fn start(upstream: &str, bytes_per_sec: u64) -> Throttle {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind throttle");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(State {
            upstream: upstream.to_string(),
            bytes_per_sec: AtomicU64::new(bytes_per_sec),
            cut: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
            forwarded: AtomicU64::new(0),
        });
        let s = state.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                if s.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&s.upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                {
                    let mut open = s.open.lock().unwrap();
                    open.push(client.try_clone().expect("clone"));
                    open.push(server.try_clone().expect("clone"));
                }
                let (c2, s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let st = s.clone();
                thread::spawn(move || pump(client, server, st));
                let st = s.clone();
                thread::spawn(move || pump(s2, c2, st));
            }
        });
        Throttle { port, state }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn set_rate(&self, bytes_per_sec: u64) {
        self.state
            .bytes_per_sec
            .store(bytes_per_sec, Ordering::SeqCst);
    }

    /// Bytes forwarded so far, both directions.
    pub fn forwarded(&self) -> u64 {
        self.state.forwarded.load(Ordering::SeqCst)
    }

    /// Drops every connection and refuses new ones, as a network partition would.
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        for s in self.state.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn heal(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` to `to` in small chunks, sleeping so the average stays at the configured rate.
fn pump(mut from: TcpStream, mut to: TcpStream, state: Arc<State>) {
    let mut buf = vec![0u8; 16 * 1024];
    let start = Instant::now();
    let mut sent: u64 = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if state.cut.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        state.forwarded.fetch_add(n as u64, Ordering::SeqCst);
        let rate = state.bytes_per_sec.load(Ordering::SeqCst);
        if rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            let elapsed = start.elapsed();
            if due > elapsed {
                thread::sleep(due - elapsed);
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
