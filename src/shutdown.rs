//! The one place that turns SIGTERM / SIGINT into a future: Jobs are stopped with SIGTERM, people press ^C.

/// Resolves when the process is asked to stop; names the signal.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            // Without a SIGTERM handler only ^C can stop us gracefully; the default action still ends the
            // process on SIGTERM.
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
