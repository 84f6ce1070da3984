//! The owners' admin API under `/api/v1`: JSON, session auth, described by
//! OpenAPI 3.1 at `/api/v1/openapi.json`.
//!
//! Handlers are thin: each checks who calls ([`owners`]), calls the `admin`
//! operation the `rollcall` command calls too, and renders its answer.
//! Every action and every refusal is an event with the request's metadata
//! (its status included); everything else is in the access log ([`gate`]).
//! Failures have one shape, `{"error","message"}` ([`error`]).
//!
//! The routes are one table, [`endpoints`]: mounted from it and described
//! from it, so that no route can be served undocumented.

mod account;
mod audit;
mod body;
mod domains;
mod erasure;
mod error;
mod gate;
mod members;
mod openapi;
mod owners;
mod provisioning;
mod roles;
mod sessions;
mod tokens;

pub use error::AdminError;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, Route, web};
use serde_json::Value;

use crate::scim_gate::RecordedAsEvent;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/api/v1";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (logging in, the description).
    Public,
    /// Any account with a live session.
    Session,
    /// The organization's owners (`{org}` in the path); other members get
    /// 403, everyone else 404.
    Owners,
    /// The organization's auditors and owners (`{org}` in the path); other
    /// members get 403, everyone else 404.
    Auditors,
}

impl Access {
    /// The role a refused member is told to ask for, for the routes of an
    /// organization.
    pub fn required_role(self) -> Option<&'static str> {
        match self {
            Access::Public | Access::Session => None,
            Access::Owners => Some(error::REQUIRED_ROLE),
            Access::Auditors => Some(error::AUDIT_ROLES[0]),
        }
    }
}

/// One route: how it is mounted and how it is described.
pub struct Endpoint {
    pub method: Method,
    /// Under [`PREFIX`], with `{org}`-style parameters (ids are uuids;
    /// `{role}` is a role's name).
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// The JSON schema of the body it takes, if it takes one.
    pub request: Option<Value>,
    /// The success status, what it means, and the schema of the body.
    pub success: (u16, &'static str, Option<Value>),
    /// Refusals beside those of its access (400, 409, ...): status and when.
    pub refusals: &'static [(u16, &'static str)],
    handler: fn() -> Route,
}

/// Every route of the admin API.
pub fn endpoints() -> Vec<Endpoint> {
    let mut endpoints = owners_endpoints();
    endpoints.extend(audit::endpoints());
    endpoints
}

/// The routes of sessions, the account, and the owners' administration.
fn owners_endpoints() -> Vec<Endpoint> {
    use openapi::schema;
    vec![
        Endpoint {
            method: Method::GET,
            path: "/openapi.json",
            access: Access::Public,
            summary: "This description (OpenAPI 3.1)",
            request: None,
            success: (200, "The OpenAPI 3.1 document", Some(schema::any_object())),
            refusals: &[],
            handler: || web::route().to(openapi::serve),
        },
        Endpoint {
            method: Method::POST,
            path: "/sessions",
            access: Access::Public,
            summary: "Log in with an account's email and password",
            request: Some(schema::credentials()),
            success: (
                201,
                "A session; send its token as 'Authorization: Bearer <token>' (shown this once)",
                Some(schema::session()),
            ),
            refusals: &[
                (
                    401,
                    "The email or the password is wrong (the same answer for both)",
                ),
                (
                    429,
                    "This address failed to log in too often; retry after Retry-After seconds",
                ),
            ],
            handler: || web::route().to(sessions::start),
        },
        Endpoint {
            method: Method::DELETE,
            path: "/sessions/current",
            access: Access::Session,
            summary: "Log out: the session's token is refused from now on",
            request: None,
            success: (204, "Logged out", None),
            refusals: &[],
            handler: || web::route().to(sessions::end),
        },
        Endpoint {
            method: Method::GET,
            path: "/account",
            access: Access::Session,
            summary: "Your account, with the organizations you belong to",
            request: None,
            success: (200, "The account", Some(schema::account())),
            refusals: &[],
            handler: || web::route().to(account::show),
        },
        Endpoint {
            method: Method::PUT,
            path: "/account/email",
            access: Access::Session,
            summary: "Change your account's email",
            request: Some(schema::email_change()),
            success: (200, "The account after the change", Some(schema::account())),
            refusals: &[
                (400, "Not an email address (want name@domain)"),
                (
                    403,
                    "scim_managed: an organization's identity provider holds the email; \
                     ask its identity administrator",
                ),
                (409, "Another account has the email"),
            ],
            handler: || web::route().to(account::change_email),
        },
        Endpoint {
            method: Method::PUT,
            path: "/account/password",
            access: Access::Session,
            summary: "Change your password, giving the current one",
            request: Some(schema::password_change()),
            success: (204, "Changed", None),
            refusals: &[
                (
                    400,
                    "The current password is not right, or the new one is too short",
                ),
                (
                    403,
                    "scim_managed: an organization's identity provider holds the password; \
                     ask its identity administrator",
                ),
                (409, "The password was changed meanwhile; give the new one"),
            ],
            handler: || web::route().to(account::change_password),
        },
        Endpoint {
            method: Method::DELETE,
            path: "/orgs/{org}/membership",
            access: Access::Session,
            summary: "Leave the organization (any member)",
            request: None,
            success: (204, "You are no longer a member", None),
            refusals: &[
                (
                    400,
                    "You are its last active owner: assign another owner first",
                ),
                (
                    403,
                    "scim_managed: its identity provider manages your membership; \
                     ask its identity administrator to remove you",
                ),
                (404, "You are not a member of the organization"),
            ],
            handler: || web::route().to(members::leave),
        },
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/provisioning",
            access: Access::Owners,
            summary: "SCIM provisioning settings and the Tenant URL for the identity provider",
            request: None,
            success: (200, "The settings", Some(schema::provisioning())),
            refusals: &[],
            handler: || web::route().to(provisioning::show),
        },
        Endpoint {
            method: Method::PUT,
            path: "/orgs/{org}/provisioning",
            access: Access::Owners,
            summary: "Turn SCIM on or off, pick the default role (absent fields stay)",
            request: Some(schema::provisioning_change()),
            success: (
                200,
                "The settings after the change",
                Some(schema::provisioning()),
            ),
            refusals: &[(400, "No such role, or the default role would be owner")],
            handler: || web::route().to(provisioning::set),
        },
        Endpoint {
            method: Method::POST,
            path: "/orgs/{org}/provisioning/tokens",
            access: Access::Owners,
            summary: "Issue a SCIM token (the secret is shown this once)",
            request: Some(schema::token_request()),
            success: (201, "The token", Some(schema::issued_token())),
            refusals: &[
                (400, "valid_for_days is not between 1 and 365"),
                (
                    409,
                    "Two tokens are live already; the message names the one to revoke",
                ),
            ],
            handler: || web::route().to(tokens::issue),
        },
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/provisioning/tokens",
            access: Access::Owners,
            summary: "The organization's SCIM tokens, oldest first, never a secret",
            request: None,
            success: (
                200,
                "The tokens",
                Some(schema::array(schema::token_listing())),
            ),
            refusals: &[],
            handler: || web::route().to(tokens::list),
        },
        Endpoint {
            method: Method::DELETE,
            path: "/orgs/{org}/provisioning/tokens/{id}",
            access: Access::Owners,
            summary: "Revoke a SCIM token at once",
            request: None,
            success: (
                204,
                "Revoked: its next SCIM request is refused with 401",
                None,
            ),
            refusals: &[
                (404, "The organization has no such token"),
                (409, "The token is revoked already"),
            ],
            handler: || web::route().to(tokens::revoke),
        },
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/roles",
            access: Access::Owners,
            summary: "The roles: built-in (owner, member, auditor) first, then custom ones",
            request: None,
            success: (200, "The roles", Some(schema::array(schema::role()))),
            refusals: &[],
            handler: || web::route().to(roles::list),
        },
        Endpoint {
            method: Method::POST,
            path: "/orgs/{org}/roles",
            access: Access::Owners,
            summary: "Add a custom role",
            request: Some(schema::role_request()),
            success: (201, "The role", Some(schema::role())),
            refusals: &[
                (400, "Not 1 to 64 lowercase letters, digits, '-' or '_'"),
                (409, "The organization has the role already"),
            ],
            handler: || web::route().to(roles::add),
        },
        Endpoint {
            method: Method::PUT,
            path: "/orgs/{org}/roles/{role}/groups",
            access: Access::Owners,
            summary: "Map SCIM groups to a role: their members (nested groups too) hold it \
                besides their own; replaces the groups mapped before",
            request: Some(schema::role_groups_request()),
            success: (200, "The groups mapped now", Some(schema::role_groups())),
            refusals: &[
                (400, "owner is never given by a directory group"),
                (404, "The organization has no such role or SCIM group"),
            ],
            handler: || web::route().to(roles::map_groups),
        },
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/members",
            access: Access::Owners,
            summary: "The members, removed ones too, by email",
            request: None,
            success: (200, "The members", Some(schema::array(schema::member()))),
            refusals: &[],
            handler: || web::route().to(members::list),
        },
        Endpoint {
            method: Method::POST,
            path: "/orgs/{org}/members",
            access: Access::Owners,
            summary: "Add a member by hand (an account without a password is made when the \
                email has none)",
            request: Some(schema::member_request()),
            success: (201, "The member", Some(schema::member())),
            refusals: &[
                (400, "Not an email, or the organization has no such role"),
                (
                    409,
                    "A member already, or removed from SCIM (it comes back through SCIM only)",
                ),
            ],
            handler: || web::route().to(members::add),
        },
        Endpoint {
            method: Method::PUT,
            path: "/orgs/{org}/members/{account_id}",
            access: Access::Owners,
            summary: "Give a member another role",
            request: Some(schema::role_request()),
            success: (200, "The member after the change", Some(schema::member())),
            refusals: &[(
                400,
                "No such role, or the last active owner would be demoted: assign another \
                 owner first",
            )],
            handler: || web::route().to(members::change_role),
        },
        Endpoint {
            method: Method::DELETE,
            path: "/orgs/{org}/members/{account_id}",
            access: Access::Owners,
            summary: "Remove a member, SCIM-managed or not (a SCIM one comes back through SCIM \
                only)",
            request: None,
            success: (204, "Removed", None),
            refusals: &[(400, "The last active owner: assign another owner first")],
            handler: || web::route().to(members::remove),
        },
        Endpoint {
            method: Method::POST,
            path: "/orgs/{org}/domains",
            access: Access::Owners,
            summary: "Add an email domain, pending until its TXT record is verified",
            request: Some(schema::domain_request()),
            success: (
                201,
                "The domain: publish a TXT record named txt_name holding txt_value",
                Some(schema::domain()),
            ),
            refusals: &[
                (400, "Not a domain an organization may claim"),
                (409, "The organization has the domain already"),
            ],
            handler: || web::route().to(domains::add),
        },
        Endpoint {
            method: Method::GET,
            path: "/orgs/{org}/domains",
            access: Access::Owners,
            summary: "The organization's domains, in the order they were added",
            request: None,
            success: (200, "The domains", Some(schema::array(schema::domain()))),
            refusals: &[],
            handler: || web::route().to(domains::list),
        },
        Endpoint {
            method: Method::POST,
            path: "/orgs/{org}/domains/{id}/verify",
            access: Access::Owners,
            summary: "Look the domain's TXT record up in DNS and verify it",
            request: None,
            success: (200, "Verified", Some(schema::domain())),
            refusals: &[
                (404, "The organization has no such domain"),
                (
                    409,
                    "DNS holds another value or none (the message says what was found), or it is verified already",
                ),
                (503, "The nameserver did not answer; nothing was recorded"),
            ],
            handler: || web::route().to(domains::verify),
        },
        Endpoint {
            method: Method::DELETE,
            path: "/orgs/{org}/domains/{id}",
            access: Access::Owners,
            summary: "Drop a domain, pending or verified",
            request: None,
            success: (204, "Dropped", None),
            refusals: &[(404, "The organization has no such domain")],
            handler: || web::route().to(domains::drop),
        },
        Endpoint {
            method: Method::POST,
            path: "/orgs/{org}/users/{id}/erasure",
            access: Access::Owners,
            summary: "Erase a deactivated or deleted SCIM user's personal data (docs/audit-privacy.md)",
            request: None,
            success: (200, "Erased", Some(schema::erasure())),
            refusals: &[
                (404, "The organization has no such SCIM user"),
                (
                    409,
                    "The user is active (deactivate or delete it first), or erased already",
                ),
            ],
            handler: || web::route().to(erasure::erase),
        },
    ]
}

/// Mounts the admin API under [`PREFIX`].
pub fn configure(config: &mut web::ServiceConfig) {
    let (public, private): (Vec<Endpoint>, Vec<Endpoint>) = endpoints()
        .into_iter()
        .partition(|endpoint| endpoint.access == Access::Public);
    let mut sessions = web::scope("")
        .wrap(actix_web::middleware::from_fn(gate::require_session))
        .default_service(web::to(unknown));
    for endpoint in private {
        sessions = sessions.route(endpoint.path, mount(&endpoint));
    }
    let mut scope = web::scope(PREFIX)
        .wrap(actix_web::middleware::from_fn(gate::record))
        .app_data(web::PathConfig::default().error_handler(|error, _| {
            AdminError::not_found(format!("{error}: ids in the path are uuids")).into()
        }));
    for endpoint in public {
        scope = scope.route(endpoint.path, mount(&endpoint));
    }
    config.service(scope.service(sessions));
}

fn mount(endpoint: &Endpoint) -> Route {
    (endpoint.handler)().method(endpoint.method.clone())
}

/// Marks a response whose request was recorded as an event (so the access
/// log does not record it again).
fn recorded(mut response: HttpResponse) -> HttpResponse {
    response.extensions_mut().insert(RecordedAsEvent);
    response
}

/// For answers that carry a secret: no cache may keep them.
const NO_STORE: (&str, &str) = ("cache-control", "no-store");

async fn unknown(request: HttpRequest) -> Result<HttpResponse, AdminError> {
    Err(AdminError::not_found(format!(
        "no admin API route {} {}; see {PREFIX}/openapi.json",
        request.method(),
        request.path()
    )))
}
