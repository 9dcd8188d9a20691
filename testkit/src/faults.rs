//! A fault-injecting HTTP proxy to put between the AWS SDK and the emulator.
//!
//! [`FaultProxy::start`] listens on a free loopback port and forwards every request
//! to the upstream (moto), except a share of them, drawn by a seeded generator
//! ([`FaultPlan`]), which it answers itself the way AWS does when it is overloaded:
//!
//! - **throttling**, in the shape of the service's protocol, told from the request:
//!   awsJson (`X-Amz-Target` header) `{"__type":"ThrottlingException"}` HTTP 400;
//!   awsQuery (form body with `Action=`: STS, IAM, SNS) `<ErrorResponse>` with code
//!   `Throttling`, HTTP 400; REST-XML (S3) `SlowDown`, HTTP 503; REST-JSON (the
//!   rest) `TooManyRequestsException`, HTTP 429;
//! - **server errors**: `InternalFailure` 500 or `ServiceUnavailable` 503, in turn;
//! - **latency** added before forwarding;
//! - **dropped connections**, closed without an answer either before forwarding (the
//!   call never happened) or after (it happened, but the client never heard: the
//!   dangerous case for calls that are not idempotent);
//! - **rate limits** per service (requests per second, a token bucket with one
//!   second of burst), answered with throttling when exceeded, like Organizations'.
//!
//! The proxy can also play an AWS behaviour the emulator lacks: idempotency tokens
//! ([`FaultPlan::idempotent`]): a repeated request with the same token gets the first
//! answer again instead of reaching the emulator a second time (moto ignores
//! CodeBuild's `idempotencyToken`).
//!
//! It runs on a thread of its own, with its own runtime, so any test (synchronous or
//! on any Tokio flavour) can use it; it stops when the handle is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};

/// The seeded generator the proxy draws with, for tests that shuffle the same way.
pub use fastrand;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// A kind of fault the proxy injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Answered with the protocol's throttling error (drawn by share).
    Throttled,
    /// Answered with throttling because the service's rate limit was exceeded.
    RateLimited,
    /// Answered with HTTP 500 or 503.
    ServerError,
    /// Forwarded after an added delay.
    Delayed,
    /// Connection closed before forwarding: the call did not happen.
    DroppedBefore,
    /// Forwarded, then the connection closed without the answer: the call happened.
    DroppedAfter,
    /// Answered from the idempotency cache: the same token was seen before.
    Replayed,
}

impl Fault {
    /// Every kind, in order.
    pub const ALL: [Fault; 7] = [
        Fault::Throttled,
        Fault::RateLimited,
        Fault::ServerError,
        Fault::Delayed,
        Fault::DroppedBefore,
        Fault::DroppedAfter,
        Fault::Replayed,
    ];

    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Throttled => "throttled",
            Fault::RateLimited => "rate-limited",
            Fault::ServerError => "server-error",
            Fault::Delayed => "delayed",
            Fault::DroppedBefore => "dropped-before",
            Fault::DroppedAfter => "dropped-after",
            Fault::Replayed => "replayed",
        }
    }
}

/// What to inject, and how often. Shares are between 0 and 1; the draws are made in
/// this order from one seeded generator: dropped before, throttled, server error
/// (these answer instead of forwarding), then delayed, then dropped after.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Share answered with throttling.
    pub throttle: f64,
    /// Share answered with a server error (500 and 503 in turn).
    pub server_error: f64,
    /// Share delayed by [`latency_ms`](Self::latency_ms) before forwarding.
    pub latency: f64,
    /// The delay added.
    pub latency_ms: u64,
    /// Share closed without an answer, before forwarding.
    pub drop_before: f64,
    /// Share closed without an answer, after forwarding.
    pub drop_after: f64,
    /// Seed of the generator (the same seed and the same requests in the same order
    /// give the same faults).
    pub seed: u64,
    /// Requests per second allowed per service (signing name: `organizations`,
    /// `codebuild`...), throttled beyond; a bucket holds one second's worth.
    pub rate_limits: BTreeMap<String, f64>,
    /// When not empty, drawn faults hit only these services or operations
    /// (`codebuild` or `codebuild:StartBuild`); rate limits always apply.
    pub only: BTreeSet<String>,
    /// Operations (`codebuild:StartBuild`) whose idempotency token (a JSON
    /// `idempotencyToken`, `clientToken` or `ClientRequestToken`) the proxy honours
    /// as AWS does: the first successful answer is replayed for the same token.
    pub idempotent: BTreeSet<String>,
}

impl FaultPlan {
    /// No fault: a transparent proxy.
    pub fn none() -> Self {
        Self::default()
    }

    /// The plan with `seed`.
    pub fn seeded(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The plan with a rate limit on `service`.
    pub fn rate_limit(mut self, service: &str, per_second: f64) -> Self {
        self.rate_limits.insert(service.to_owned(), per_second);
        self
    }

    /// Drawn faults only on `target` (a service or `service:Operation`); may be
    /// called again to add targets.
    pub fn only(mut self, target: &str) -> Self {
        self.only.insert(target.to_owned());
        self
    }

    /// Idempotency tokens of `operation` honoured by the proxy.
    pub fn idempotent(mut self, operation: &str) -> Self {
        self.idempotent.insert(operation.to_owned());
        self
    }
}

/// One request that carried an idempotency token, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokened {
    /// `service:Operation`.
    pub operation: String,
    /// The token.
    pub token: String,
    /// The fault injected, if any (`Replayed` when answered from the cache).
    pub fault: Option<Fault>,
    /// Whether it reached the upstream.
    pub forwarded: bool,
    /// The upstream's status, when it answered.
    pub status: Option<u16>,
}

/// What the proxy saw and did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests received, by `service:Operation`.
    pub received: BTreeMap<String, u64>,
    /// Requests that reached the upstream, by `service:Operation`.
    pub forwarded: BTreeMap<String, u64>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<Fault, u64>,
    /// Faults injected, by service and kind.
    pub by_service: BTreeMap<String, BTreeMap<Fault, u64>>,
    /// The requests that carried an idempotency token, in order.
    pub tokened: Vec<Tokened>,
}

impl FaultCounts {
    /// Every request received.
    pub fn requests(&self) -> u64 {
        self.received.values().sum()
    }

    /// Faults of `kind`.
    pub fn fault(&self, kind: Fault) -> u64 {
        self.faults.get(&kind).copied().unwrap_or(0)
    }

    /// Every fault that answered instead of the upstream, or hid its answer.
    pub fn failures(&self) -> u64 {
        self.faults
            .iter()
            .filter(|(k, _)| !matches!(k, Fault::Delayed | Fault::Replayed))
            .map(|(_, v)| v)
            .sum()
    }

    /// Requests of `service:Operation` that reached the upstream.
    pub fn forwarded(&self, operation: &str) -> u64 {
        self.forwarded.get(operation).copied().unwrap_or(0)
    }

    /// A one-line summary: requests, forwarded, faults by kind.
    pub fn summary(&self) -> String {
        let faults: Vec<String> = Fault::ALL
            .iter()
            .map(|k| format!("{} {}", k.as_str(), self.fault(*k)))
            .collect();
        format!(
            "requests {}, forwarded {}, {}",
            self.requests(),
            self.forwarded.values().sum::<u64>(),
            faults.join(", ")
        )
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream is not an `http://host:port` URL.
    #[error("upstream `{0}` is not an http://host:port URL")]
    Upstream(String),
    /// No port, or no runtime.
    #[error("the fault proxy could not start: {0}")]
    Start(#[from] std::io::Error),
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Inner {
    plan: FaultPlan,
    rng: fastrand::Rng,
    counts: FaultCounts,
    buckets: BTreeMap<String, Bucket>,
    replies: BTreeMap<(String, String), Reply>,
    server_errors: u64,
}

#[derive(Debug, Clone)]
struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // counters stay usable after a panic elsewhere
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fault proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, plan: FaultPlan) -> Result<Self, ProxyError> {
        let address = upstream
            .strip_prefix("http://")
            .map(|a| a.trim_end_matches('/'))
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .ok_or_else(|| ProxyError::Upstream(upstream.to_owned()))?;
        let shared = Arc::new(Shared {
            upstream: address,
            inner: Mutex::new(Inner {
                rng: fastrand::Rng::with_seed(plan.seed),
                plan,
                counts: FaultCounts::default(),
                buckets: BTreeMap::new(),
                replies: BTreeMap::new(),
                server_errors: 0,
            }),
        });
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || runtime.block_on(serve(listener, serving, stopped)))?;
        Ok(Self {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The proxy's URL, to hand to the SDK as its endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What it saw and did so far.
    pub fn counts(&self) -> FaultCounts {
        self.shared.lock().counts.clone()
    }

    /// Replaces the plan (counters, buckets and the idempotency cache are kept; the
    /// generator is seeded again).
    pub fn set_plan(&self, plan: FaultPlan) {
        let mut inner = self.shared.lock();
        inner.rng = fastrand::Rng::with_seed(plan.seed);
        inner.plan = plan;
    }

    /// Sets every counter back to zero.
    pub fn reset_counts(&self) {
        self.shared.lock().counts = FaultCounts::default();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { answer(&shared, request).await }
                    });
                    // a service error closes the connection without an answer: the
                    // dropped connections are made that way
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// Why a connection was closed without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the fault plan")]
struct Dropped;

/// The request as the proxy classifies it.
#[derive(Debug)]
struct Call {
    service: String,
    operation: String,
    protocol: Protocol,
    token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    AwsJson,
    AwsQuery,
    RestXml,
    RestJson,
}

fn header<'r>(request: &'r Parts, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The signing name in `Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
fn signing_service(authorization: &str) -> Option<String> {
    let credential = authorization.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_owned)
}

fn form_value<'b>(body: &'b str, key: &str) -> Option<&'b str> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then_some(v)
    })
}

fn classify(request: &Parts, body: &Bytes) -> Call {
    let service = header(request, "authorization")
        .and_then(signing_service)
        .unwrap_or_else(|| "unknown".to_owned());
    let text = std::str::from_utf8(body).unwrap_or("");
    let (protocol, operation) = if let Some(target) = header(request, "x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        (Protocol::AwsJson, operation)
    } else if let Some(action) = form_value(text, "Action") {
        (Protocol::AwsQuery, action.to_owned())
    } else if service == "s3" {
        (Protocol::RestXml, request.method.as_str().to_owned())
    } else {
        (
            Protocol::RestJson,
            format!("{} {}", request.method, request.uri.path()),
        )
    };
    let token = if protocol == Protocol::AwsJson || protocol == Protocol::RestJson {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|json| {
                ["idempotencyToken", "clientToken", "ClientRequestToken"]
                    .iter()
                    .find_map(|k| json.get(k).and_then(|v| v.as_str()).map(str::to_owned))
            })
    } else {
        None
    };
    Call {
        service,
        operation,
        protocol,
        token,
    }
}

/// What the draw decided for one request.
#[derive(Debug, Clone, Copy, Default)]
struct Draw {
    answer: Option<Fault>,
    delay: Option<Duration>,
    drop_after: bool,
}

fn draw(inner: &mut Inner, call: &Call) -> Draw {
    let key = format!("{}:{}", call.service, call.operation);
    if let Some(limit) = inner.plan.rate_limits.get(&call.service).copied() {
        let now = Instant::now();
        let bucket = inner.buckets.entry(call.service.clone()).or_insert(Bucket {
            tokens: limit,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * limit;
        bucket.tokens = (bucket.tokens + refill).min(limit.max(1.0));
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Draw {
                answer: Some(Fault::RateLimited),
                ..Draw::default()
            };
        }
        bucket.tokens -= 1.0;
    }
    let plan = &inner.plan;
    let targeted =
        plan.only.is_empty() || plan.only.contains(&call.service) || plan.only.contains(&key);
    if !targeted {
        return Draw::default();
    }
    let (drop_before, throttle, server_error) =
        (plan.drop_before, plan.throttle, plan.server_error);
    let (latency, latency_ms, drop_after) = (plan.latency, plan.latency_ms, plan.drop_after);
    let roll = inner.rng.f64();
    let answer = if roll < drop_before {
        Some(Fault::DroppedBefore)
    } else if roll < drop_before + throttle {
        Some(Fault::Throttled)
    } else if roll < drop_before + throttle + server_error {
        Some(Fault::ServerError)
    } else {
        None
    };
    let delay = (answer.is_none() && latency > 0.0 && inner.rng.f64() < latency)
        .then(|| Duration::from_millis(latency_ms));
    let drop_after = answer.is_none() && drop_after > 0.0 && inner.rng.f64() < drop_after;
    Draw {
        answer,
        delay,
        drop_after,
    }
}

fn count(inner: &mut Inner, call: &Call, fault: Fault) {
    *inner.counts.faults.entry(fault).or_default() += 1;
    *inner
        .counts
        .by_service
        .entry(call.service.clone())
        .or_default()
        .entry(fault)
        .or_default() += 1;
}

fn note_token(inner: &mut Inner, call: &Call, fault: Option<Fault>, status: Option<u16>) {
    if let Some(token) = &call.token {
        inner.counts.tokened.push(Tokened {
            operation: format!("{}:{}", call.service, call.operation),
            token: token.clone(),
            fault,
            forwarded: status.is_some(),
            status,
        });
    }
}

async fn answer(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, incoming) = request.into_parts();
    let body = incoming
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|_| Dropped)?;
    let call = classify(&parts, &body);
    let key = format!("{}:{}", call.service, call.operation);
    let (decided, replay) = {
        let mut inner = shared.lock();
        *inner.counts.received.entry(key.clone()).or_default() += 1;
        let decided = draw(&mut inner, &call);
        if let Some(fault) = decided.answer {
            count(&mut inner, &call, fault);
            note_token(&mut inner, &call, Some(fault), None);
        }
        let replay = match (&call.token, decided.answer) {
            (Some(token), None) if inner.plan.idempotent.contains(&key) => {
                inner.replies.get(&(key.clone(), token.clone())).cloned()
            }
            _ => None,
        };
        if replay.is_some() {
            count(&mut inner, &call, Fault::Replayed);
            note_token(&mut inner, &call, Some(Fault::Replayed), None);
        }
        (decided, replay)
    };
    match decided.answer {
        Some(Fault::DroppedBefore) => return Err(Dropped),
        Some(fault) => {
            let server_errors = {
                let mut inner = shared.lock();
                inner.server_errors += u64::from(fault == Fault::ServerError);
                inner.server_errors
            };
            return Ok(fault_response(fault, call.protocol, server_errors));
        }
        None => {}
    }
    if let Some(reply) = replay {
        return Ok(reply.into_response());
    }
    if let Some(delay) = decided.delay {
        count(&mut shared.lock(), &call, Fault::Delayed);
        tokio::time::sleep(delay).await;
    }
    let reply = forward(shared.upstream, parts, body)
        .await
        .map_err(|_| Dropped)?;
    {
        let mut inner = shared.lock();
        *inner.counts.forwarded.entry(key.clone()).or_default() += 1;
        let fault = decided.drop_after.then_some(Fault::DroppedAfter);
        if let Some(fault) = fault {
            count(&mut inner, &call, fault);
        }
        note_token(&mut inner, &call, fault, Some(reply.status.as_u16()));
        if let Some(token) = &call.token
            && inner.plan.idempotent.contains(&key)
            && reply.status.is_success()
        {
            inner
                .replies
                .entry((key.clone(), token.clone()))
                .or_insert_with(|| reply.clone());
        }
    }
    if decided.drop_after {
        return Err(Dropped);
    }
    Ok(reply.into_response())
}

impl Reply {
    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

/// Headers that belong to one connection, not to the message.
const HOP_BY_HOP: [&str; 4] = [
    "connection",
    "transfer-encoding",
    "keep-alive",
    "content-length",
];

/// Sends the request to the upstream on a new connection; returns its whole answer.
async fn forward(
    upstream: SocketAddr,
    parts: Parts,
    body: Bytes,
) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
    let stream = tokio::net::TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut request = Request::from_parts(parts, Full::new(body));
    for name in HOP_BY_HOP {
        request.headers_mut().remove(name);
    }
    let response = sender.send_request(request).await?;
    let (parts, incoming) = response.into_parts();
    let body = incoming.collect().await?.to_bytes();
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    Ok(Reply {
        status: parts.status,
        headers,
        body,
    })
}

/// The answer AWS gives for `fault` in `protocol`.
fn fault_response(fault: Fault, protocol: Protocol, server_errors: u64) -> Response<Full<Bytes>> {
    let request_id = format!("fault-{server_errors:08}");
    let throttled = matches!(fault, Fault::Throttled | Fault::RateLimited);
    // server errors alternate between 500 and 503
    let (status, code, message) = if throttled {
        match protocol {
            Protocol::RestXml => (503, "SlowDown", "Please reduce your request rate."),
            Protocol::RestJson => (429, "TooManyRequestsException", "Rate exceeded"),
            Protocol::AwsQuery => (400, "Throttling", "Rate exceeded"),
            Protocol::AwsJson => (400, "ThrottlingException", "Rate exceeded"),
        }
    } else if server_errors % 2 == 1 {
        (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        )
    } else {
        (
            503,
            "ServiceUnavailable",
            "The service is unavailable. Please try again later.",
        )
    };
    let (content_type, body) = match protocol {
        Protocol::AwsJson => (
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": code, "message": message}).to_string(),
        ),
        Protocol::RestJson => (
            "application/json",
            serde_json::json!({"message": message}).to_string(),
        ),
        Protocol::AwsQuery => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                if throttled { "Sender" } else { "Receiver" }
            ),
        ),
        Protocol::RestXml => (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
            ),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if protocol == Protocol::RestJson
        && let Ok(code) = HeaderValue::from_str(code)
    {
        headers.insert("x-amzn-errortype", code);
    }
    response
}
