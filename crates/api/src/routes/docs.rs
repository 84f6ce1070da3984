//! `GET /docs/scim`: the page `/ServiceProviderConfig`'s `documentationUri`
//! names. It describes this server as it runs, with the limits its settings
//! give it, so what a client reads there is what the server enforces (RFC
//! 7643 §5 has no place for most of them).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::render::scim_base;

/// The page, as Markdown.
pub async fn scim(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let settings = &state.settings;
    let base = scim_base(&request);
    let page = format!(
        "# rollcall SCIM 2.0 service\n\
         \n\
         Base URL: `{base}` (RFC 7644). Authentication: `Authorization: Bearer <token>`, \
         the organization's SCIM token; an owner issues it with the admin API or \
         `rollcall token issue` (valid 1 to 365 days, at most two live).\n\
         \n\
         ## Resources\n\
         \n\
         - `/Users` and `/Groups`: create, read, replace (PUT), PATCH, delete, list \
         with `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`, `attributes`, \
         `excludedAttributes`; `POST /.search` on each and at the root.\n\
         - `/Bulk`, `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.\n\
         - PATCH accepts RFC 7644's form and both Microsoft Entra ID dialects \
         (capitalised `op`, string booleans, path-less dotted replace, \
         `?aadOptscim062020`, removing members by filter).\n\
         - Every resource has a weak ETag (`W/\"<version>\"`); `If-Match` and \
         `If-None-Match` are honoured.\n\
         \n\
         ## Limits of this server\n\
         \n\
         | limit | value | when exceeded |\n\
         |---|---|---|\n\
         | request body | {body} bytes | 413 |\n\
         | operations in one PATCH | {patch} | 400 `tooMany` |\n\
         | operations in one Bulk request | {bulk_ops} | 413 |\n\
         | Bulk payload | {bulk_bytes} bytes | 413 |\n\
         | results in one list page | {results} | the page is cut to it |\n\
         | requests in flight per token | {per_token} | 429 with `Retry-After` |\n\
         \n\
         ## Errors\n\
         \n\
         Errors are SCIM JSON (`urn:ietf:params:scim:api:messages:2.0:Error`) with \
         `status`, `scimType` where RFC 7644 gives one, and a `detail` that says \
         what to change. 503 carries `Retry-After`: retry then.\n\
         \n\
         ## Every request is recorded\n\
         \n\
         Each write becomes an immutable event in the organization's hash-chained \
         log; reads and refusals are access records. Auditors of the organization \
         can look any request up by its id.\n",
        body = settings.max_body_bytes,
        patch = scim::patch::MAX_OPERATIONS,
        bulk_ops = settings.bulk_max_operations,
        bulk_bytes = settings.bulk_max_payload_bytes,
        results = settings.max_results,
        per_token = settings.max_in_flight_per_token,
    );
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/markdown; charset=utf-8"))
        .body(page)
}
