//! The ends of the adapter chains: count the bytes that pass and remember whether the outside failed, so an
//! error surfacing through zstd or age can be blamed on the right side (a broken S3 stream is not corruption).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Shared between a tap and the adapter that owns the chain; only one thread touches it at a time, the
/// atomics just make the chain `Send`.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    bytes: AtomicU64,
    failed: AtomicBool,
}

impl Counter {
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    fn count<T>(&self, r: io::Result<T>, n: impl Fn(&T) -> usize) -> io::Result<T> {
        match &r {
            Ok(v) => {
                self.bytes.fetch_add(n(v) as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                self.failed.store(true, Ordering::Relaxed)
            }
            Err(_) => {}
        }
        r
    }
}

/// Wraps the outside end of a chain (the stored object's reader, or the sink).
pub(crate) struct Tap<T> {
    inner: T,
    counter: Arc<Counter>,
}

impl<T> Tap<T> {
    pub(crate) fn new(inner: T) -> (Tap<T>, Arc<Counter>) {
        let counter = Arc::new(Counter::default());
        (
            Tap {
                inner,
                counter: counter.clone(),
            },
            counter,
        )
    }

    pub(crate) fn into_inner(self) -> T {
        self.inner
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        self.counter.count(r, |n| *n)
    }
}

impl<W: Write> Write for Tap<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.counter.count(r, |n| *n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.counter.count(r, |_| 0)
    }
}
