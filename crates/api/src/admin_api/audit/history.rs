//! `/api/v1/orgs/{org}/audit/{state,users/{id}/timeline,groups/{id}/members,
//! diff,joiners,leavers}`: the organization's history, through the `audit`
//! crate's `history` queries (`rollcall audit state|timeline|group-members|
//! diff|joiners|leavers` call the same).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use audit::history::{self, At, parse_instant};
use domain::history::movers::Movement;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::error::AdminError;
use super::super::gate::Caller;
use super::super::openapi::schema;
use super::super::owners::require_auditor;
use super::super::{Access, Endpoint};
use crate::AppState;

/// The history routes.
pub(super) fn endpoints() -> Vec<Endpoint> {
    let endpoint = |path, summary, refusals, handler| Endpoint {
        method: Method::GET,
        path,
        access: Access::Auditors,
        summary,
        request: None,
        success: (
            200,
            "The answer (see docs/audit-history.md)",
            Some(schema::any_object()),
        ),
        refusals,
        handler,
    };
    vec![
        endpoint(
            "/orgs/{org}/audit/state",
            "The organization at an instant (?at=RFC 3339 time, or ?position=N): its users as \
             SCIM resources, groups with members, memberships with roles",
            &[(
                400,
                "Neither at= (RFC 3339) nor position= (a number), or both",
            )],
            || web::route().to(state),
        ),
        endpoint(
            "/orgs/{org}/audit/users/{id}/timeline",
            "Every change to one user (deleted ones too), attribute by attribute, before and \
             after, with the request behind it",
            &[],
            || web::route().to(timeline),
        ),
        endpoint(
            "/orgs/{org}/audit/groups/{id}/members",
            "Who was in a group at an instant (?at=RFC 3339 time, or ?position=N)",
            &[(
                400,
                "Neither at= (RFC 3339) nor position= (a number), or both",
            )],
            || web::route().to(group_members),
        ),
        endpoint(
            "/orgs/{org}/audit/diff",
            "What changed between ?from= and ?to= (RFC 3339 times): users added, removed, \
             deactivated, reactivated, changed; groups and their members; memberships and roles",
            &[(
                400,
                "from= or to= missing or not RFC 3339, or from after to",
            )],
            || web::route().to(diff),
        ),
        endpoint(
            "/orgs/{org}/audit/joiners",
            "One row per provisioning requested in [?since=, ?until=) (RFC 3339) and the \
             membership it gave; ?format=json (default, {\"rows\":[...]}) or csv",
            &[(
                400,
                "since= or until= missing or not RFC 3339, since after until, or a format other than json or csv",
            )],
            || web::route().to(joiners),
        ),
        endpoint(
            "/orgs/{org}/audit/leavers",
            "One row per de-provisioning requested in [?since=, ?until=) (RFC 3339): when the \
             membership ended and the sessions were revoked, with delays and positions; \
             ?format=json (default, {\"rows\":[...]}) or csv",
            &[(
                400,
                "since= or until= missing or not RFC 3339, since after until, or a format other than json or csv",
            )],
            || web::route().to(leavers),
        ),
    ]
}

/// `?at=` or `?position=`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstantQuery {
    at: Option<String>,
    position: Option<i64>,
}

impl InstantQuery {
    fn at(self) -> Result<At, AdminError> {
        match (self.at, self.position) {
            (Some(at), None) => Ok(At::Instant(instant("at", &at)?)),
            (None, Some(position)) => Ok(At::Position(position)),
            _ => Err(AdminError::invalid(
                "give the instant as at=RFC 3339 time (e.g. at=2026-03-03T12:00:00Z) or as \
                 position=N (a log position), one of the two",
            )),
        }
    }
}

/// The organization at an instant.
async fn state(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_auditor(&state, &request, &caller, org_id, "audit state").await?;
    let at = query::<InstantQuery>(&request, "at=T or position=N")?.at()?;
    Ok(HttpResponse::Ok().json(history::state::state_at(&state.pool, org_id, at).await?))
}

/// One user's timeline; 404 when the organization never had the user.
async fn timeline(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AdminError> {
    let (org_id, user_id) = path.into_inner();
    require_auditor(&state, &request, &caller, org_id, "audit timeline").await?;
    match history::timeline::user_timeline(&state.pool, org_id, user_id).await? {
        Some(timeline) => Ok(HttpResponse::Ok().json(timeline)),
        None => Err(AdminError::not_found(format!(
            "the organization never had a SCIM user {user_id}; check the id"
        ))),
    }
}

/// A group's members at an instant.
async fn group_members(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AdminError> {
    let (org_id, group_id) = path.into_inner();
    require_auditor(&state, &request, &caller, org_id, "audit group members").await?;
    let at = query::<InstantQuery>(&request, "at=T or position=N")?.at()?;
    let answer = history::state::group_members_at(&state.pool, org_id, group_id, at).await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

/// What changed between two instants.
async fn diff(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    let org_id = org.into_inner();
    require_auditor(&state, &request, &caller, org_id, "audit diff").await?;
    let asked = query::<DiffQuery>(&request, "from=T1&to=T2")?;
    let (from, to) = period(("from", asked.from), ("to", asked.to))?;
    let answer =
        history::diff::diff_between(&state.pool, org_id, At::Instant(from), At::Instant(to))
            .await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    since: Option<String>,
    until: Option<String>,
    format: Option<String>,
}

async fn joiners(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    movers(request, state, caller, org.into_inner(), Movement::Joiners).await
}

async fn leavers(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org: web::Path<Uuid>,
) -> Result<HttpResponse, AdminError> {
    movers(request, state, caller, org.into_inner(), Movement::Leavers).await
}

/// Joiners or leavers of a period, as JSON or CSV.
async fn movers(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    org_id: Uuid,
    movement: Movement,
) -> Result<HttpResponse, AdminError> {
    let name = match movement {
        Movement::Joiners => "joiners",
        Movement::Leavers => "leavers",
    };
    require_auditor(&state, &request, &caller, org_id, &format!("audit {name}")).await?;
    let asked = query::<PeriodQuery>(&request, "since=T1&until=T2[&format=json|csv]")?;
    let (since, until) = period(("since", asked.since), ("until", asked.until))?;
    let csv = match asked.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(AdminError::invalid(format!(
                "format={other:?} is not one this route gives: format=json (the default) or format=csv"
            )));
        }
    };
    let answer = history::movers::movers(&state.pool, org_id, movement, since, until).await?;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "content-disposition",
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .body(history::movers::to_csv(&answer.rows)?));
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// The request's query string as `Query`; a 400 naming what the route
/// takes otherwise.
fn query<Query: DeserializeOwned>(
    request: &HttpRequest,
    wanted: &str,
) -> Result<Query, AdminError> {
    serde_urlencoded::from_str(request.query_string())
        .map_err(|error| AdminError::invalid(format!("{error}: this route takes {wanted}")))
}

/// Two required instants, the first not after the second.
fn period(
    (first_name, first): (&str, Option<String>),
    (second_name, second): (&str, Option<String>),
) -> Result<(OffsetDateTime, OffsetDateTime), AdminError> {
    let required = |name: &str, value: Option<String>| {
        let value = value.ok_or_else(|| {
            AdminError::invalid(format!(
                "{first_name}= and {second_name}= are required: RFC 3339 times, e.g. \
                 {first_name}=2026-01-01T00:00:00Z&{second_name}=2026-02-01T00:00:00Z"
            ))
        })?;
        instant(name, &value)
    };
    let (first, second) = (required(first_name, first)?, required(second_name, second)?);
    if first > second {
        return Err(AdminError::invalid(format!(
            "{first_name}= is after {second_name}=: give the earlier instant first"
        )));
    }
    Ok((first, second))
}

/// An instant from the query string, where an offset's unencoded `+` (as
/// in `at=2026-03-03T12:00:00+01:00` typed by hand) arrives as a space.
fn instant(name: &str, text: &str) -> Result<OffsetDateTime, AdminError> {
    parse_instant(name, &text.trim().replace(' ', "+")).map_err(AdminError::invalid)
}
