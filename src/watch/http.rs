//! The watcher's HTTP endpoints: `GET /healthz` (200 while the loop runs and the daemon
//! answers) and `GET /status` (the status board as JSON).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;

use super::status::{EngineCalls, SharedBoard};
use crate::apply::Stop;
use crate::engine::Engine;

/// How long `/healthz` waits for the daemon.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads the engine's call counts for `/status`.
pub type CallCounter = Box<dyn Fn() -> EngineCalls + Send + Sync>;

struct Shared<E> {
    board: SharedBoard,
    engine: Arc<E>,
    calls: CallCounter,
}

/// Bind now (so a taken address fails the start), serve until stopped.
pub async fn bind<E: Engine + 'static>(
    addr: SocketAddr,
    board: SharedBoard,
    engine: Arc<E>,
    calls: CallCounter,
    stop: Stop,
) -> std::io::Result<impl Future<Output = std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let shared = Arc::new(Shared {
        board,
        engine,
        calls,
    });
    let app = Router::new()
        .route("/healthz", get(healthz::<E>))
        .route("/status", get(status::<E>))
        .with_state(shared);
    Ok(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.wait().await })
            .await
    })
}

async fn healthz<E: Engine>(State(shared): State<Arc<Shared<E>>>) -> Response {
    if shared.board.lock().stopping {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response();
    }
    match tokio::time::timeout(DAEMON_TIMEOUT, shared.engine.probe()).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(err)) => {
            let text = format!("the docker daemon does not answer: {err}\n");
            (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
        }
        Err(_) => {
            let text = "the docker daemon does not answer within 2s\n";
            (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
        }
    }
}

async fn status<E: Engine>(State(shared): State<Arc<Shared<E>>>) -> Json<super::status::Board> {
    let mut board = shared.board.snapshot();
    board.engine_calls = (shared.calls)();
    Json(board)
}
