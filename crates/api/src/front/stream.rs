//! The I/O half of the front door: a connection whose reads pass through a
//! [`HeadGuard`] before the HTTP parser sees them. Writes go straight
//! through.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::head::{HeadGuard, Limits};

/// How long a request head may take to arrive once it has begun; past it
/// the client gets a SCIM `408` (a connection that sends nothing at all is
/// closed by the HTTP server's own timers).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// A client connection, read through the head guard.
pub struct GuardedStream {
    inner: TcpStream,
    guard: HeadGuard,
    /// Bytes for the parser that it has not read yet (`out[taken..]`).
    out: Vec<u8>,
    taken: usize,
    /// Set while a head is arriving.
    deadline: Option<Pin<Box<Sleep>>>,
    eof: bool,
}

impl GuardedStream {
    /// Guards `inner`.
    pub fn new(inner: TcpStream, limits: Limits) -> GuardedStream {
        GuardedStream {
            inner,
            guard: HeadGuard::new(limits),
            out: Vec::new(),
            taken: 0,
            deadline: None,
            eof: false,
        }
    }

    fn track_deadline(&mut self) {
        match (self.guard.in_head(), self.deadline.is_some()) {
            (true, false) => {
                self.deadline = Some(Box::pin(tokio::time::sleep_until(
                    Instant::now() + HEAD_TIMEOUT,
                )))
            }
            (false, true) => self.deadline = None,
            _ => {}
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.taken < this.out.len() {
                let pending = &this.out[this.taken..];
                let n = pending.len().min(buf.remaining());
                buf.put_slice(&pending[..n]);
                this.taken += n;
                if this.taken == this.out.len() {
                    this.out.clear();
                    this.taken = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof || this.guard.is_closed() {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 << 10];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => this.eof = true,
                Poll::Ready(Ok(())) => {
                    this.guard.feed(read.filled(), &mut this.out);
                    this.track_deadline();
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => {
                    let timed_out = this
                        .deadline
                        .as_mut()
                        .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                    if !timed_out {
                        return Poll::Pending;
                    }
                    this.deadline = None;
                    this.guard.time_out(&mut this.out);
                }
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
