//! `gcorr receive`: an HTTP(S) endpoint EventBridge API destinations and Firehose HTTP-endpoint
//! deliveries post to, writing every accepted event to a spool that `gcorr correlate DIR`
//! reads (dedup stays there). A 2xx is sent only once the event is fsync'd.
//!
//! `run` wires the parts: the spool put right after an earlier run (segment), the writer
//! (spool), the routes (routes, auth, record, rejected), the connections (server), the
//! counters (metrics), and the stop on SIGTERM/SIGINT.

pub mod auth;
pub mod config;
pub mod metrics;
pub mod record;
pub mod rejected;
pub mod routes;
pub mod segment;
pub mod server;
pub mod spool;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use anyhow::{Context, Result, bail};

use crate::Exit;
use config::Config;
use metrics::Metrics;

/// Runs the receiver until SIGTERM or SIGINT.
pub fn run(cfg: Config) -> Result<Exit> {
    std::fs::create_dir_all(&cfg.out)
        .with_context(|| format!("{}: cannot create the spool directory", cfg.out.display()))?;
    let _lock = lock(&cfg.out)?;
    let recovered = segment::recover(&cfg.out)
        .with_context(|| format!("{}: cannot check the spool", cfg.out.display()))?;
    for (path, cut) in &recovered.torn {
        eprintln!(
            "gcorr: receive: {}: cut off a torn last line ({cut} bytes; it was never acknowledged)",
            path.display()
        );
    }
    let tls = cfg.tls.as_ref().map(server::tls_acceptor).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(cfg, tls, recovered.segments))
}

async fn serve(
    cfg: Config,
    tls: Option<tokio_rustls::TlsAcceptor>,
    leftovers: Vec<std::path::PathBuf>,
) -> Result<Exit> {
    let metrics = Arc::new(Metrics::default());
    let signalled = signals()?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("{}: cannot listen", cfg.listen))?;
    let (spool, writer) = spool::Spool::start(
        spool::Options {
            dir: cfg.out.clone(),
            sync_interval: cfg.sync_interval,
            segment_bytes: cfg.segment_bytes,
            segment_age: cfg.segment_age,
            compress: cfg.compress,
            max_inflight: cfg.max_inflight,
        },
        leftovers,
        metrics.clone(),
    )?;
    let app = Arc::new(routes::App {
        guard: auth::Guard {
            secret: cfg.secret.clone(),
            api_key_header: cfg.auth_header.clone(),
        },
        spool,
        metrics: metrics.clone(),
        rejected: rejected::Rejected::new(&cfg.out, cfg.max_rejected),
        dir: cfg.out.clone(),
        max_events_body: cfg.max_events_body,
        max_firehose_body: cfg.max_firehose_body,
        body_timeout: cfg.body_timeout,
        accepting: AtomicBool::new(true),
    });
    if !cfg.quiet {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let addr = listener.local_addr().unwrap_or(cfg.listen);
        eprintln!(
            "gcorr: receive: listening on {scheme}://{addr} (POST /events, POST /firehose), spool {}",
            cfg.out.display()
        );
    }
    let stats = (!cfg.quiet).then(|| {
        let metrics = metrics.clone();
        let every = cfg.stats_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                eprintln!("{}", metrics.line());
            }
        })
    });
    let stopping = app.clone();
    let stop = async move {
        signalled.await;
        stopping.accepting.store(false, Relaxed);
    };
    let drained = server::serve(
        listener,
        tls,
        routes::router(app.clone()),
        server::Limits {
            max_connections: cfg.max_connections,
            header_timeout: cfg.header_timeout,
        },
        stop,
        cfg.shutdown_timeout,
    )
    .await;
    if let Some(s) = stats {
        s.abort();
    }
    // Requests still running past the grace period hold the spool open; the process exits
    // without them (they were never acknowledged).
    drop(app);
    let closed = tokio::task::spawn_blocking(move || writer.close());
    // Past the grace period the spool is left as it is (everything acknowledged is on disk;
    // the next start closes the segment).
    let finished = drained && tokio::time::timeout(cfg.shutdown_timeout, closed).await.is_ok();
    if !finished && !cfg.quiet {
        eprintln!("gcorr: receive: stopped before every request in flight had finished");
    }
    if !cfg.quiet {
        eprintln!("{}", metrics.line());
        eprintln!("gcorr: receive: stopped");
    }
    Ok(Exit::Success)
}

/// Completes on SIGTERM or SIGINT. The handlers are in place when this returns (before the
/// receiver says it listens), so an early signal still stops it cleanly.
fn signals() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// One receiver per spool: two would write segments over each other's recovery.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(".gcorr-receive.lock");
    let file = File::create(&path).with_context(|| format!("{}: cannot create", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; flock has no memory effects.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            bail!("{}: another gcorr receive is using this spool", dir.display());
        }
    }
    Ok(file)
}
