//! `POST /Users`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use domain::user::UserCommand;
use uuid::Uuid;

use super::password;
use super::write::write_user;
use super::written;
use crate::render::{ResourceType, location};
use crate::{ApiError, AppState, body, selection};

/// Provisions a user: 201 with `Location` and the stored resource. A
/// `password` is hashed here and never stored or returned as sent.
pub async fn create_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let selection = selection::from_query(request.query_string())?;
    let mut resource = body::read_json(&request, payload, state.settings.max_body_bytes).await?;
    let password_hash = password::hash(scim::schema::take_password(&mut resource)?).await?;
    let user_id = Uuid::now_v7();
    let outcome = write_user(&state, &request, user_id, 201, || UserCommand::Provision {
        resource: resource.clone(),
        password_hash: password_hash.clone(),
    })
    .await?;
    let mut response = written(&request, &outcome, StatusCode::CREATED, &selection, &[]);
    response.headers_mut().insert(
        header::LOCATION,
        header::HeaderValue::from_str(&location(&request, ResourceType::User, user_id))
            .expect("a URL is a header value"),
    );
    Ok(response)
}
