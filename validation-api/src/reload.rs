//! Hot reload: SIGHUP, or a change of the config file's size or mtime
//! (polled every `watch_seconds`), reloads the configuration. The swap is
//! one pointer under a lock held for the assignment only, so requests in
//! flight finish on the snapshot they started with; a bad file is
//! rejected (logged and counted) and the running configuration kept.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::service::Service;

/// Modification time and size of a file.
pub fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Polls the config file and reloads when it changes. Runs until dropped.
pub async fn watch_file(svc: Arc<Service>) {
    let (path, mut last) = {
        let snap = svc.snapshot();
        // The stamp taken when the config was read: a change made since
        // then, even before this task first runs, is noticed.
        (snap.config.path.clone(), snap.config.file_stamp)
    };
    loop {
        let secs = svc.snapshot().config.watch_seconds;
        if secs <= 0.0 {
            // Watching disabled; check again later in case a reload enables it.
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let now = stamp(&path);
        if now != last && now.is_some() {
            last = now;
            let s = svc.clone();
            // Loading reads anchor files: keep it off the async workers.
            let _ = tokio::task::spawn_blocking(move || s.reload()).await;
        }
    }
}

/// Reloads on every SIGHUP. Runs until dropped.
#[cfg(unix)]
pub async fn on_sighup(svc: Arc<Service>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading configuration");
        let s = svc.clone();
        let _ = tokio::task::spawn_blocking(move || s.reload()).await;
    }
    Ok(())
}
