//! The metrics port: an HTTP/1.1 server (hyper) on the endpoint's thread answering
//! `GET /metrics` with the endpoint's figures in Prometheus' text format. It reads the
//! figures when asked, so it costs nothing between scrapes.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE as PROMETHEUS_TEXT;

use super::Metrics;

/// Reads the endpoint's figures; called once per scrape, on the endpoint's thread.
pub(crate) type Source = Arc<dyn Fn() -> Metrics + Send + Sync>;

/// The path Prometheus scrapes by default.
const PATH: &str = "/metrics";

/// A client that has not sent its request headers by then is dropped, so idle
/// connections cannot pile up.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// After a failed `accept` (out of descriptors, say), wait this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds the metrics port on `address` (`""`: all interfaces, as Broker's
/// `broker.metrics.address`), synchronously so that a taken port is the caller's error.
pub(crate) fn bind(address: &str, port: u16) -> std::io::Result<TcpListener> {
    let ip: IpAddr = if address.is_empty() {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        address
            .parse()
            .map_err(|_| std::io::Error::other(format!("not an IP address: {address:?}")))?
    };
    let listener = TcpListener::bind(SocketAddr::new(ip, port)).or_else(|err| {
        // A host without IPv6: all IPv4 interfaces instead.
        if address.is_empty() {
            TcpListener::bind(("0.0.0.0", port))
        } else {
            Err(err)
        }
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves scrapes on `listener` until the endpoint's thread stops. Runs there.
pub(crate) async fn serve(listener: TcpListener, source: Source) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let source = source.clone();
        let service = service_fn(move |request| {
            let response = respond(&request, &source);
            async move { Ok::<_, Infallible>(response) }
        });
        actix_rt::spawn(async move {
            // A client that goes away mid-request is no concern of the endpoint.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The answer to one request.
fn respond(request: &Request<Incoming>, source: &Source) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    if request.uri().path() != PATH {
        return reply(StatusCode::NOT_FOUND, format!("metrics are at {PATH}\n"));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, String::new());
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let mut response = reply(StatusCode::OK, source().to_prometheus_text());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT));
    response
}
