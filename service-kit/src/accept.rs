//! Accepting TCP connections and serving HTTP/1.1 on them, and stopping:
//! on shutdown the listener closes, every connection finishes the request
//! it is on and closes, and connections still open after the drain limit
//! are dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a shutdown waits for open connections unless configured.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);

/// Turns on when shutdown begins: connections finish their current
/// request, background tasks return.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once shutdown has begun (at once if it already has).
    pub async fn stopped(&mut self) {
        // An error means the sender is gone, which is a shutdown too.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }

    /// Whether shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }
}

/// Accepts on `listener` until `shutdown` resolves, handing each
/// connection, its peer address and a [`Stop`] to `conn` in a task of its
/// own. Then closes the listener, turns the stop signal on and waits for
/// the connections, at most `drain`; those still open are aborted.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    mut conn: F,
) where
    F: FnMut(TcpStream, SocketAddr, Stop) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    tasks.spawn(conn(tcp, peer, Stop(stop_rx.clone())));
                }
                // Out of file descriptors and the like: back off instead
                // of spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set stays small.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(drain, all).await.is_err() {
        tracing::warn!(
            open = tasks.len(),
            drain_secs = drain.as_secs_f64(),
            "connections still open after the drain limit; closing them"
        );
        tasks.abort_all();
    }
}

/// Serves HTTP/1.1 with keep-alive on one connection from `peer`: request
/// headers must arrive within `header_timeout`; once `stop` turns on, the
/// request in progress is answered and the connection closes.
///
/// A request hyper answers itself (a request line over its 65,534-byte
/// limit gets 414, oversized headers 431) never reaches `service`: it is
/// logged here as an access line ([`crate::access::refused`]), and the
/// error is returned for the caller's metrics.
pub async fn serve_http1<I, S>(
    io: I,
    peer: SocketAddr,
    service: S,
    header_timeout: Duration,
    mut stop: Stop,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(header_timeout)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stop.stopped() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = &result {
        crate::access::refused(peer, e);
    }
    result
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: what the binaries wait for
/// before shutting down.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The tasks of a running service (its server and its background work),
/// stopped together.
#[derive(Debug)]
pub struct Tasks {
    stop: watch::Sender<bool>,
    set: JoinSet<()>,
    grace: Duration,
}

impl Tasks {
    /// `grace`: how long [`Tasks::shutdown`] waits for the tasks (the
    /// server's drain limit should be this too).
    pub fn new(grace: Duration) -> Self {
        Self {
            stop: watch::channel(false).0,
            set: JoinSet::new(),
            grace,
        }
    }

    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The signal for tasks that stop by themselves (a server draining
    /// its connections).
    pub fn stop_signal(&self) -> Stop {
        Stop(self.stop.subscribe())
    }

    /// Runs `work`, which watches [`Tasks::stop_signal`] itself.
    pub fn spawn(&mut self, work: impl Future<Output = ()> + Send + 'static) {
        self.set.spawn(work);
    }

    /// Runs `work` until it returns or shutdown begins, when it is dropped
    /// where it waits.
    pub fn spawn_until_stopped(&mut self, work: impl Future<Output = ()> + Send + 'static) {
        let mut stop = self.stop_signal();
        self.set.spawn(async move {
            tokio::select! {
                () = work => {}
                () = stop.stopped() => {}
            }
        });
    }

    /// Turns the stop signal on and waits for every task, at most the
    /// grace period and one second more (so a server drain limited to the
    /// grace period ends first); aborts what is left.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let all = async { while self.set.join_next().await.is_some() {} };
        if tokio::time::timeout(self.grace + Duration::from_secs(1), all)
            .await
            .is_err()
        {
            tracing::warn!("tasks still running after the grace period; aborting them");
            self.set.abort_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A connection that never finishes holds the shutdown up only for the
    /// drain limit.
    #[tokio::test]
    async fn drain_is_bounded() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(accept_loop(
            listener,
            async {
                let _ = go_rx.await;
            },
            Duration::from_millis(300),
            |mut tcp: TcpStream, _, _stop| async move {
                // Ignores the stop signal: reads until the peer closes.
                let mut buf = [0u8; 16];
                while tcp.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            },
        ));
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        go_tx.send(()).unwrap();
        server.await.unwrap();
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[tokio::test]
    async fn tasks_stop_together() {
        let mut tasks = Tasks::new(Duration::from_secs(5));
        let mut stop = tasks.stop_signal();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tasks.spawn(async move {
            stop.stopped().await;
            let _ = tx.send(());
        });
        tasks.spawn_until_stopped(std::future::pending());
        let started = Instant::now();
        tasks.shutdown().await;
        assert!(rx.await.is_ok(), "the task saw the stop signal");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
