//! A fault-injecting HTTP proxy between the daemons and the emulator. Every request is
//! forwarded as it came, unless a rule the test added matches it (by method, path and order)
//! and prescribes a fault: latency, a reset connection, a 5xx answer in S3's error shape, or
//! the most treacherous, a request applied upstream whose answer is then lost.
//!
//! Rules are added and removed while the daemons run, so a test can aim one fault at a claim,
//! a lease renewal, a commit or an artifact write.

use std::{
    convert::Infallible,
    pin::pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{self, HeaderMap},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;

/// What happens to a request a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded after this delay.
    Latency(Duration),
    /// Not forwarded: the connection is reset (RST) instead of answered.
    Reset,
    /// Not forwarded: answered with this status (500 or 503) and an S3 error document, which
    /// the SDK classifies as retryable.
    ServerError(u16),
    /// Forwarded and applied upstream, then the connection is reset instead of answered: the
    /// write landed, its answer was lost.
    DropResponse,
}

/// Which requests get a fault: those with `method` whose path contains `path` (and whose body
/// contains `body`, when given), after the first `skip` of them, `times` of them in a row.
#[derive(Debug, Clone)]
pub struct Rule {
    method: String,
    path: String,
    body: Option<String>,
    skip: usize,
    times: usize,
    fault: Fault,
}

impl Rule {
    /// The first request with `method` (`*` for any) whose path contains `path`.
    pub fn new(method: &str, path: &str, fault: Fault) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            body: None,
            skip: 0,
            times: 1,
            fault,
        }
    }

    /// Lets the first `skip` matching requests through untouched: `.after(2)` aims at the third.
    pub fn after(mut self, skip: usize) -> Self {
        self.skip = skip;
        self
    }

    /// Only requests whose body contains `needle`: tells a claim (`"status":"running"`) from a
    /// commit (`"status":"succeeded"`) on the same key.
    pub fn with_body(mut self, needle: &str) -> Self {
        self.body = Some(needle.to_owned());
        self
    }

    /// Applies the fault to this many matching requests (a burst), then no more.
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    fn matches(&self, method: &hyper::Method, path: &str, body: &[u8]) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method.as_str()))
            && path.contains(&self.path)
            && self.body.as_ref().is_none_or(|needle| {
                body.windows(needle.len())
                    .any(|window| window == needle.as_bytes())
            })
    }
}

/// A rule in force, with its counters.
#[derive(Debug)]
pub struct Injected {
    rule: Rule,
    matched: AtomicUsize,
    fired: AtomicUsize,
}

impl Injected {
    /// How many requests got the fault so far.
    pub fn fired(&self) -> usize {
        self.fired.load(Ordering::SeqCst)
    }

    /// Whether every fault the rule prescribes was applied.
    pub fn spent(&self) -> bool {
        self.fired() >= self.rule.times
    }

    /// Waits (polling, with a deadline) until the rule is spent.
    pub async fn wait_spent(&self, deadline: Duration) {
        let until = Instant::now() + deadline;
        while !self.spent() {
            assert!(
                Instant::now() < until,
                "the proxy's {:?} rule fired {} of {} times",
                self.rule,
                self.fired(),
                self.rule.times
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Takes the next matching request if the rule still applies to it.
    fn take(&self, method: &hyper::Method, path: &str, body: &[u8]) -> Option<Fault> {
        if !self.rule.matches(method, path, body) {
            return None;
        }
        let seen = self.matched.fetch_add(1, Ordering::SeqCst);
        if seen < self.rule.skip || seen >= self.rule.skip + self.rule.times {
            return None;
        }
        self.fired.fetch_add(1, Ordering::SeqCst);
        Some(self.rule.fault)
    }
}

/// One request as the proxy saw it, for the tests' figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub fault: Option<Fault>,
    /// The emulator's answer, when the request reached it (whether or not it was passed on).
    pub upstream: Option<u16>,
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    rules: Mutex<Vec<Arc<Injected>>>,
    journal: Mutex<Vec<Seen>>,
}

impl Shared {
    /// The first live rule that takes this request. Every rule sees every request, so that
    /// `after(n)` counts requests, not the other rules' leftovers.
    fn fault_for(&self, method: &hyper::Method, path: &str, body: &[u8]) -> Option<Fault> {
        let rules = self.rules.lock().expect("rules lock");
        let mut chosen = None;
        for rule in rules.iter() {
            if let Some(fault) = rule.take(method, path, body) {
                chosen.get_or_insert(fault);
            }
        }
        chosen
    }
}

/// The running proxy; it stops when dropped.
pub struct FaultProxy {
    /// Where to point the daemons' `AWS_ENDPOINT_URL`.
    pub url: String,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (the emulator's URL).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            rules: Mutex::default(),
            journal: Mutex::default(),
        });
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, shared.clone(), stop.clone()));
        Self { url, shared, stop }
    }

    /// Puts a rule in force; the handle tells how often it fired.
    pub fn inject(&self, rule: Rule) -> Arc<Injected> {
        let injected = Arc::new(Injected {
            rule,
            matched: AtomicUsize::new(0),
            fired: AtomicUsize::new(0),
        });
        self.shared
            .rules
            .lock()
            .expect("rules lock")
            .push(injected.clone());
        injected
    }

    /// Removes every rule: from now on requests pass untouched.
    pub fn heal(&self) {
        self.shared.rules.lock().expect("rules lock").clear();
    }

    /// Every request so far, in arrival order.
    pub fn journal(&self) -> Vec<Seen> {
        self.shared.journal.lock().expect("journal lock").clone()
    }

    /// The requests whose path contains `path`, in the order they were settled.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.journal()
            .into_iter()
            .filter(|seen| seen.path.contains(path))
            .collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            () = stop.cancelled() => return,
        };
        tokio::spawn(serve(stream, shared.clone(), stop.clone()));
    }
}

/// Serves one client connection until it closes, or until a fault asks for it to be reset.
async fn serve(stream: tokio::net::TcpStream, shared: Arc<Shared>, stop: CancellationToken) {
    // A second handle on the socket, to reset it once hyper's is dropped.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(spare) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = tokio::net::TcpStream::from_std(std_stream) else {
        return;
    };
    let reset = Arc::new(Notify::new());
    let service = {
        let reset = reset.clone();
        service_fn(move |request| handle(shared.clone(), reset.clone(), request))
    };
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = pin!(connection);
    let reset_now = tokio::select! {
        _ = &mut connection => false,
        () = reset.notified() => true,
        () = stop.cancelled() => false,
    };
    if reset_now && let Ok(spare) = tokio::net::TcpStream::from_std(spare) {
        // A zero linger is the socket's, whichever handle sets it: when the last handle closes
        // (hyper's, as this returns), the peer gets RST, not FIN.
        let _ = spare.set_zero_linger();
    }
}

type Answer = Response<Full<Bytes>>;

async fn handle(
    shared: Arc<Shared>,
    reset: Arc<Notify>,
    request: Request<Incoming>,
) -> Result<Answer, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let fault = shared.fault_for(&parts.method, &path, &body);
    let mut seen = Seen {
        method: parts.method.to_string(),
        path,
        fault,
        upstream: None,
    };
    let answer = match fault {
        None => Some(forward(&shared, parts, body).await),
        Some(Fault::Latency(delay)) => {
            tokio::time::sleep(delay).await;
            Some(forward(&shared, parts, body).await)
        }
        Some(Fault::ServerError(status)) => Some(s3_error(status)),
        Some(Fault::Reset) => None,
        Some(Fault::DropResponse) => {
            let applied = forward(&shared, parts, body).await;
            seen.upstream = Some(applied.status().as_u16());
            None
        }
    };
    if fault.is_none() || matches!(fault, Some(Fault::Latency(_))) {
        seen.upstream = answer.as_ref().map(|answer| answer.status().as_u16());
    }
    shared.journal.lock().expect("journal lock").push(seen);
    match answer {
        Some(answer) => Ok(answer),
        None => {
            reset.notify_one();
            std::future::pending().await
        }
    }
}

/// Headers that belong to one hop, not to the request: the client sets its own.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut headers = headers.clone();
    for hop in [
        header::HOST,
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
    ] {
        headers.remove(hop);
    }
    headers
}

async fn forward(shared: &Shared, parts: hyper::http::request::Parts, body: Bytes) -> Answer {
    let target = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let url = format!("{}{target}", shared.upstream);
    let sent = shared
        .client
        .request(parts.method, url)
        .headers(end_to_end(&parts.headers))
        .body(body)
        .send()
        .await;
    let upstream = match sent {
        Ok(upstream) => upstream,
        Err(err) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Full::new(Bytes::from(err.to_string())))
                .expect("a response");
        }
    };
    let mut answer = Response::builder().status(upstream.status());
    for (name, value) in upstream.headers() {
        // Content-Length stays: a HEAD's must survive an empty body.
        if name != header::CONNECTION && name != header::TRANSFER_ENCODING {
            answer = answer.header(name, value);
        }
    }
    let body = upstream.bytes().await.unwrap_or_default();
    answer.body(Full::new(body)).expect("a response")
}

/// An answer shaped like S3's own 500 and 503, so the SDK classifies and retries it as S3's.
fn s3_error(status: u16) -> Answer {
    let code = match status {
        503 => "ServiceUnavailable",
        _ => "InternalError",
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the fault proxy</Message>\
         <RequestId>fault-proxy</RequestId></Error>"
    );
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/xml")
        .body(Full::new(Bytes::from(body)))
        .expect("a response")
}
