//! The front door: every connection is read through a head guard before
//! actix-web's HTTP parser, so that what the parser would refuse without a
//! SCIM body (raw quotes in a target, an unreadable request line, a 100 KB
//! URL, too many headers, ambiguous framing, a head that never finishes)
//! is either made acceptable or answered as SCIM JSON by the refusal route.
//!
//! actix-web's `HttpServer` offers no hook between the socket and its
//! parser, so this module assembles the same server from actix-server and
//! actix-http with the guarded stream in between.

mod head;
mod stream;

pub use head::{Limits, REFUSED_PATH, Refusal};
pub use stream::HEAD_TIMEOUT;

use std::net::TcpListener;
use std::time::Duration;

use actix_http::{HttpService, Protocol};
use actix_server::Server;
use actix_service::{ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::AppConfig;
use actix_web::{App, HttpResponse, web};

use scim::{ScimError, ScimType};

use crate::{ApiError, AppState, metrics, routes};
use stream::GuardedStream;

/// The answer for a head the guard refused (`GET` [`REFUSED_PATH`]).
pub async fn refused(query: web::Query<RefusedQuery>) -> Result<HttpResponse, ApiError> {
    let refusal = Refusal::parse(&query.reason).unwrap_or(Refusal::Malformed);
    let (status, scim_type, detail) = match refusal {
        Refusal::Malformed => (
            400,
            Some(ScimType::InvalidSyntax),
            "the request line or a header line is not valid HTTP/1.1",
        ),
        Refusal::TargetTooLong => (
            414,
            None,
            "the URL is longer than 16 KiB; send long filters with POST .search",
        ),
        Refusal::HeadTooLarge => (
            431,
            None,
            "the request has more than 64 headers or more than 64 KiB of them",
        ),
        Refusal::AmbiguousFraming => (
            400,
            Some(ScimType::InvalidSyntax),
            "Content-Length and Transfer-Encoding conflict; send one of them, once",
        ),
        Refusal::TimedOut => (
            408,
            None,
            "the request head did not arrive within 5 s; send it whole and promptly",
        ),
    };
    Err(ApiError::Scim(ScimError {
        status,
        scim_type,
        detail: detail.into(),
    }))
}

/// The query of [`REFUSED_PATH`].
#[derive(serde::Deserialize)]
pub struct RefusedQuery {
    reason: String,
}

/// How long a response may take to go out after a stop, in seconds.
const SHUTDOWN_SECONDS: u64 = 10;

/// Binds rollcall's routes behind the guarded front door to `listener`.
pub fn serve(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let address = listener.local_addr()?;
    let data = web::Data::new(state);
    let builder = Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    let server = builder
        .listen("rollcall", listener, move || {
            let data = data.clone();
            let shutdown = shutdown.clone();
            let app = App::new()
                .app_data(data)
                .wrap(actix_web::middleware::from_fn(metrics::observe))
                .configure(routes::configure);
            let app = actix_service::IntoServiceFactory::into_factory(app)
                .map_err(|error| error.error_response());
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .keep_alive(Duration::from_secs(5))
                // The guard times heads out with a SCIM answer first.
                .client_request_timeout(HEAD_TIMEOUT * 2)
                .local_addr(address)
                .finish(map_config(app, |_| AppConfig::default()));
            fn_service(|io: tokio::net::TcpStream| async move {
                let _ = io.set_nodelay(true);
                let peer = io.peer_addr().ok();
                Ok((
                    GuardedStream::new(io, Limits::default()),
                    Protocol::Http1,
                    peer,
                ))
            })
            .and_then(http)
        })?
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_SECONDS)
        .run();
    Ok(server)
}
