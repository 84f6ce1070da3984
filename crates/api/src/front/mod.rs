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
use actix_web::{App, HttpRequest, HttpResponse, web};
use store::{AccessRecord, RefusalReason};
use time::OffsetDateTime;
use uuid::Uuid;

use scim::{ScimError, ScimType};

use crate::scim_gate::request_meta;
use crate::{ApiError, AppState, metrics, routes};
use stream::GuardedStream;

/// The answer for a head the guard refused (`GET` [`REFUSED_PATH`]),
/// counted with the other refused requests (and a few kept whole).
pub async fn refused(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<RefusedQuery>,
) -> Result<HttpResponse, ApiError> {
    let refusal = Refusal::parse(&query.reason).unwrap_or(Refusal::Malformed);
    let error = refusal_error(refusal);
    let now = OffsetDateTime::now_utc();
    let client_addr = request.peer_addr().map(|addr| addr.ip().to_string());
    let scim = error.to_scim();
    state.access_log.refuse(
        now,
        RefusalReason::Malformed,
        client_addr.as_deref(),
        || AccessRecord {
            org_id: None,
            recorded_at: now,
            meta: request_meta(&request, Uuid::now_v7(), None, scim.status),
            detail: Some(scim.detail.clone()),
        },
    );
    Err(error)
}

fn refusal_error(refusal: Refusal) -> ApiError {
    let limits = Limits::default();
    let (status, scim_type, detail) = match refusal {
        Refusal::Malformed => (
            400,
            Some(ScimType::InvalidSyntax),
            "the request line or a header line is not valid HTTP/1.1".into(),
        ),
        Refusal::TargetTooLong => (
            414,
            None,
            format!(
                "the URL is longer than {} KiB; send long filters with POST .search",
                limits.target_bytes >> 10
            ),
        ),
        Refusal::HeadTooLarge => (
            431,
            None,
            format!(
                "the request has more than {} headers or more than {} KiB of them",
                limits.headers,
                limits.head_bytes >> 10
            ),
        ),
        Refusal::AmbiguousFraming => (
            400,
            Some(ScimType::InvalidSyntax),
            "Content-Length and Transfer-Encoding conflict; send one of them, once".into(),
        ),
        Refusal::TimedOut => (
            408,
            None,
            "the request head did not arrive within 5 s; send it whole and promptly".into(),
        ),
    };
    ApiError::Scim(ScimError {
        status,
        scim_type,
        detail,
    })
}

/// The query of [`REFUSED_PATH`].
#[derive(serde::Deserialize)]
pub struct RefusedQuery {
    reason: String,
}

/// Binds rollcall's routes behind the guarded front door to `listener`.
pub fn serve(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let address = listener.local_addr()?;
    // After a stop, requests in flight finish (their connections close after
    // the answer) until this bound; actix then closes what is left.
    let shutdown_timeout = state.settings.shutdown_timeout.as_secs();
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
                .wrap(actix_web::middleware::from_fn(crate::request_id::tag))
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
        .shutdown_timeout(shutdown_timeout)
        .run();
    Ok(server)
}
