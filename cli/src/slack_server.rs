//! `spa slack serve`: the slash command endpoint over HTTP on a local port (hyper 1),
//! the same use case as the deployed function URL (`usecases::slack`).
//!
//! Each request: the body read up to the budget (a larger one is refused 401 without
//! reading on), the two Slack headers, then [`on_slash_command`]. A longer answer is
//! worked out in a spawned task that posts to the response URL, as the `commands`
//! function does on AWS. Nothing but `POST` is served (405).

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use spa_core::chatops::verify::{MAX_BODY, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use spa_core::settings::Settings;
use spa_usecases::Engine;
use spa_usecases::ports::{Platform, SlackUsers};
use spa_usecases::slack::{SlackOptions, SlashRequest, answer_later, on_slash_command};
use tokio::net::TcpListener;

/// What the server runs on.
pub struct SlackServer<P, U> {
    /// The ports.
    pub platform: Arc<P>,
    /// The settings.
    pub settings: Arc<Settings>,
    /// Slack's directory of users.
    pub users: Arc<U>,
    /// The signing secret override and the local response base.
    pub options: SlackOptions,
}

/// Binds `127.0.0.1:port` (0: any free port).
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

/// Serves requests on `listener` until the process ends (or the task is dropped).
pub async fn serve<P, U>(listener: TcpListener, server: Arc<SlackServer<P, U>>)
where
    P: Platform + 'static,
    U: SlackUsers + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "a connection could not be accepted");
                continue;
            }
        };
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = Arc::clone(&server);
                async move { Ok::<_, std::convert::Infallible>(answer(&server, request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn answer<P, U>(
    server: &Arc<SlackServer<P, U>>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>>
where
    P: Platform + 'static,
    U: SlackUsers + 'static,
{
    if request.method() != Method::POST {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "method not allowed"}),
        );
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            // a header that is not text is garbled: the verification says so
            .map(|v| v.to_str().unwrap_or("\u{0}").to_owned())
    };
    let timestamp = header(TIMESTAMP_HEADER);
    let signature = header(SIGNATURE_HEADER);
    let unauthorized = || {
        json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({"error": "unauthorized"}),
        )
    };
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            tracing::warn!(
                rejection = "body too large or broken",
                "slash command refused"
            );
            return unauthorized();
        }
    };
    let engine = match Engine::new(server.platform.as_ref(), server.settings.as_ref()) {
        Ok(engine) => engine,
        Err(error) => {
            tracing::error!(%error, "the engine cannot start");
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({"error": "internal error"}),
            );
        }
    };
    let answer = on_slash_command(
        &engine,
        server.users.as_ref(),
        &server.options,
        &SlashRequest {
            timestamp: timestamp.as_deref(),
            signature: signature.as_deref(),
            body: &body,
        },
    )
    .await;
    if let Some(job) = answer.later {
        let server = Arc::clone(server);
        // its own thread and runtime: the answer outlives the response, and the
        // future of a search is not `Send` for every lifetime `tokio::spawn` asks
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(engine) = Engine::new(server.platform.as_ref(), server.settings.as_ref())
                else {
                    return;
                };
                let base = server.options.local_response_base.as_deref();
                if let Err(error) = answer_later(&engine, &job, base).await {
                    tracing::error!(error = %spa_core::events::redact_emails(&error.to_string()), "the slash command answer failed");
                }
            });
        });
    }
    json(
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &answer.body,
    )
}
