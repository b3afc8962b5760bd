//! The web status page: what every device is doing, units in flight with live progress,
//! requests, volumes in the jukeboxes and operator prompts with an acknowledge button.
//!
//! Plain HTML, CSS and a little JavaScript compiled into the binary, so the page always matches
//! the API it reads and there is nothing to deploy. The page itself holds no data and is served
//! without a token; everything it shows comes from the authenticated `/v1` API, with the token
//! the operator types in (kept in the tab's sessionStorage).

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

use super::api::ApiState;

const INDEX: &str = include_str!("web/index.html");
const APP: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/style.css");

/// Served with a policy that allows nothing but this origin's own files and API.
fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

async fn index() -> impl IntoResponse {
    page("text/html; charset=utf-8", INDEX)
}

async fn app() -> impl IntoResponse {
    page("text/javascript; charset=utf-8", APP)
}

async fn style() -> impl IntoResponse {
    page("text/css; charset=utf-8", STYLE)
}

/// The page's routes (`/` redirects to `/ui/`), to merge into the API's router.
pub fn routes<S: Clone + Send + Sync + 'static>(state: ApiState) -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/app.js", get(app))
        .route("/ui/style.css", get(style))
        .with_state(state)
}
