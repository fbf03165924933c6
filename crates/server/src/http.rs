//! The HTTP policy of the whole app, in one place (SPEC 5.7): how long a client may take to send
//! its request head, how long an idle keep-alive connection stays open, how long a request body
//! (or a response the client does not read) may make no progress, how many connections are open
//! at once, and how large a JSON body may be. [`serve`] applies them to every connection and
//! every route; handlers read bodies knowing that a stalled one ends.
//!
//! The connection loop is ours rather than `axum::serve`'s because hyper's own header timeout
//! also cuts idle keep-alive connections at the header deadline, and it has no idle timeout or
//! connection cap. Each connection's socket is wrapped in [`Watched`], which knows from the
//! service whether a request is in flight, and so which deadline applies while hyper waits
//! to read: the head's (`header_read_timeout`) once a request has begun, the keep-alive's
//! (`keepalive_timeout`) while idle between requests. Request bodies time out per frame
//! (tower-http's `TimeoutBody`). Connections are HTTP/1.1.

use assetlib_core::Code;
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// The largest JSON body a route reads (Clinch PutAssetJSON's streamed content aside).
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// Descriptors kept for everything but client connections (database pool, blob files, logs).
const RESERVED_FILES: u64 = 512;

/// The limits of SPEC 5.7.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// A request head not complete this long after its first byte (or after the connection
    /// opened) closes the connection, with a 408 when some of the head came.
    pub header_read_timeout: Duration,
    /// An idle keep-alive connection closes after this long.
    pub keepalive_timeout: Duration,
    /// A request body that sends nothing for this long is abandoned (408, connection closed);
    /// so is a response the client reads nothing of for this long.
    pub body_read_timeout: Duration,
    /// Open connections at most; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(75),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

/// Raises the process's open-file limit to its hard limit, and returns the connection cap that
/// keeps clear of it: `wanted`, or fewer when the limit leaves less room.
pub fn connection_cap(wanted: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current != Some(hard)
    {
        limit.current = Some(hard);
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "could not raise the open-file limit");
        }
    }
    let files = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let room = files.saturating_sub(RESERVED_FILES.min(files / 2));
    let cap = (wanted as u64).min(room).max(1) as usize;
    if cap < wanted {
        tracing::warn!(wanted, cap, files, "max_connections lowered to stay under the open-file limit");
    }
    cap
}

/// Whether `e`, or an error it wraps (through `source()`), is a `T`.
pub fn has_cause<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |err| err.source()).any(|err| err.is::<T>())
}

/// Whether `e` (or what it wraps) is a request body that stopped making progress.
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    has_cause::<tower_http::timeout::TimeoutError>(e)
}

pub fn body_timeout_error() -> assetlib_core::Error {
    assetlib_core::Error::new(
        assetlib_core::ErrorKind::TimedOut,
        Code::BodyTimeout,
        "The request body stopped arriving; nothing of it was kept.",
    )
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then lets requests in
/// flight finish (for up to 30 s) and closes idle connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was taken: the
                    // listener itself is fine. Back off a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = Arc::new(Mutex::new(ConnState::new()));
        let io = TokioIo::new(Watched::new(stream, conn.clone(), limits.clone()));
        let app = app.clone();
        let body_timeout = limits.body_read_timeout;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            lock(&conn).begin();
            let request = request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
            let conn = conn.clone();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await.unwrap_or_else(|never| match never {});
                Ok::<_, std::convert::Infallible>(response.map(|body| Body::new(Ending { body, conn: Some(conn) })))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
        let connection = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("requests still in flight at shutdown"),
    }
    Ok(())
}

fn lock(conn: &Mutex<ConnState>) -> std::sync::MutexGuard<'_, ConnState> {
    conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where a connection is between requests, as its deadlines need it.
#[derive(Debug)]
struct ConnState {
    in_flight: u32,
    /// A response was sent: the wait for the next request is a keep-alive wait.
    served: bool,
    /// Since when nothing is in flight.
    idle_since: Instant,
    /// The first byte of the next request head, while nothing is in flight.
    head_started: Option<Instant>,
    /// The task that last waited to read while a request was in flight, with no deadline: woken
    /// when the request ends, so that it waits again under the keep-alive deadline.
    reader: Option<std::task::Waker>,
}

impl ConnState {
    fn new() -> Self {
        Self { in_flight: 0, served: false, idle_since: Instant::now(), head_started: None, reader: None }
    }

    fn begin(&mut self) {
        self.in_flight += 1;
        self.head_started = None;
    }

    fn end(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.served = true;
        self.idle_since = Instant::now();
        self.head_started = None;
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }

    /// The deadline of the wait for the next bytes; `None` while a request is in flight (its
    /// body has its own timeout, and the handler may take its time).
    fn read_deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        if self.in_flight > 0 {
            return None;
        }
        Some(match self.head_started {
            Some(started) => started + limits.header_read_timeout,
            None if self.served => self.idle_since + limits.keepalive_timeout,
            None => self.idle_since + limits.header_read_timeout,
        })
    }
}

/// A response body that marks the end of its request when it is done or dropped.
struct Ending {
    body: Body,
    conn: Option<Arc<Mutex<ConnState>>>,
}

impl Ending {
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(&conn).end();
        }
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.finish();
    }
}

impl http_body::Body for Ending {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A client socket that ends itself when the client overstays a deadline of [`HttpLimits`].
struct Watched {
    stream: TcpStream,
    conn: Arc<Mutex<ConnState>>,
    limits: Arc<HttpLimits>,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    /// Since when a write has waited for the client to read.
    write_blocked_since: Option<Instant>,
}

impl Watched {
    fn new(stream: TcpStream, conn: Arc<Mutex<ConnState>>, limits: Arc<HttpLimits>) -> Self {
        let far = Instant::now() + Duration::from_secs(86_400);
        Self {
            stream,
            conn,
            limits,
            read_timer: Box::pin(tokio::time::sleep_until(far)),
            write_timer: Box::pin(tokio::time::sleep_until(far)),
            write_blocked_since: None,
        }
    }

    /// Ends a connection whose request head is late: a 408 if some of the head came (best
    /// effort, the socket may not take it), then an error that makes hyper close it.
    fn head_timed_out(&mut self, head_begun: bool) -> std::io::Error {
        if head_begun {
            let _ = self
                .stream
                .try_write(b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        }
        std::io::Error::new(std::io::ErrorKind::TimedOut, "request head or keep-alive timeout")
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let mut conn = lock(&this.conn);
                    if conn.in_flight == 0 && conn.head_started.is_none() {
                        conn.head_started = Some(Instant::now());
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let (deadline, head_begun) = {
                    let mut conn = lock(&this.conn);
                    let deadline = conn.read_deadline(&this.limits);
                    if deadline.is_none() {
                        conn.reader = Some(cx.waker().clone());
                    }
                    (deadline, conn.head_started.is_some())
                };
                let Some(deadline) = deadline else { return Poll::Pending };
                if Instant::now() >= deadline {
                    return Poll::Ready(Err(this.head_timed_out(head_begun)));
                }
                if this.read_timer.deadline() != deadline {
                    this.read_timer.as_mut().reset(deadline);
                }
                match this.read_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(this.head_timed_out(head_begun))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl Watched {
    /// A write that waits on the client: past `body_read_timeout` without progress it fails.
    fn write_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let since = *self.write_blocked_since.get_or_insert_with(Instant::now);
        let deadline = since + self.limits.body_read_timeout;
        if self.write_timer.deadline() != deadline {
            self.write_timer.as_mut().reset(deadline);
        }
        match self.write_timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading"))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn written<T>(&mut self, cx: &mut Context<'_>, polled: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        match polled {
            Poll::Pending => match self.write_pending(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                self.write_blocked_since = None;
                ready
            }
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.written(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.written(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.written(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_the_connection() {
        let limits = HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(75),
            ..HttpLimits::default()
        };
        let mut c = ConnState::new();
        assert_eq!(c.read_deadline(&limits), Some(c.idle_since + limits.header_read_timeout), "a new connection");
        c.begin();
        assert_eq!(c.read_deadline(&limits), None, "a request in flight");
        c.end();
        assert_eq!(c.read_deadline(&limits), Some(c.idle_since + limits.keepalive_timeout), "keep-alive");
        let started = Instant::now();
        c.head_started = Some(started);
        assert_eq!(c.read_deadline(&limits), Some(started + limits.header_read_timeout), "a head begun");
    }

    #[test]
    fn the_cap_stays_under_the_file_limit() {
        let cap = connection_cap(usize::MAX);
        let files = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX);
        assert!((cap as u64) < files, "cap {cap} with {files} files");
        assert_eq!(connection_cap(3), 3);
    }
}
