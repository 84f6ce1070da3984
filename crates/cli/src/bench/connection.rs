//! One HTTP/1.1 connection per bench client, as pgbench keeps one database
//! connection per client. The load generator shares the machine's cores with
//! what it measures, so every microsecond it spends is one the server does
//! not get: a client's requests go over its own connection in turn, with no
//! pool to check out from and no URL parsed per request (a pooled
//! `reqwest::Client` spent about twice pgbench's client CPU per request
//! here).

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where a client's requests go and how they are signed.
#[derive(Clone)]
pub struct Target {
    /// `host:port`, for the connection and the `Host` header.
    authority: String,
    /// The path before each request's own (`/scim_v2`).
    base_path: String,
    authorization: HeaderValue,
}

impl Target {
    /// The target of `url` (`http://host:port/scim_v2`) with a bearer token.
    pub fn new(url: &str, token: &str) -> anyhow::Result<Target> {
        let uri: Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("{url}: the bench speaks plain HTTP; give it the server's http:// URL");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("{url} names no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the token holds characters a header cannot carry")?;
        Ok(Target {
            authority: format!("{}:{port}", authority.host()),
            base_path: uri.path().trim_end_matches('/').to_owned(),
            authorization,
        })
    }
}

/// A client's connection; made on first use, and again after a failure.
pub struct Connection {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub fn new(target: Target) -> Connection {
        Connection {
            target,
            sender: None,
        }
    }

    /// Sends one request (`path` follows the base path, query included)
    /// and reads the whole answer; `None` when the connection failed (the
    /// next request opens a new one).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Option<(StatusCode, Bytes)> {
        let answer = self.try_send(method, path, body).await;
        if answer.is_none() {
            self.sender = None;
        }
        answer
    }

    async fn try_send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Option<(StatusCode, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.target.base_path))
            .header(HOST, self.target.authority.as_str())
            .header(AUTHORIZATION, self.target.authorization.clone());
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/scim+json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .ok()?;
        let sender = self.ready().await?;
        let response = sender.send_request(request).await.ok()?;
        let status = response.status();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, body))
    }

    /// The connection, open and ready for a request.
    async fn ready(&mut self) -> Option<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.sender = Some(open(&self.target).await?);
        }
        let sender = self.sender.as_mut()?;
        sender.ready().await.ok()?;
        Some(sender)
    }
}

async fn open(target: &Target) -> Option<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(&target.authority).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
    // The connection's own task reads and writes the socket; it ends when
    // the sender is dropped or the server closes.
    tokio::spawn(connection);
    Some(sender)
}
