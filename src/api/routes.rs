//! The route table: every endpoint once, as data, so that `docs/openapi.json` can be checked
//! against it (tests/openapi.rs) and a path is matched the same way everywhere. Pure.

use hyper::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Health,
    Status,
    Metrics,
    OpenApi,
    RequestDream,
    ListJobs,
    GetJob,
    GetJobDiff,
    GetJobEvents,
    ApproveJob,
    CancelJob,
    DiscardJob,
    ListGenerations,
    Rollback,
}

pub struct Route {
    pub method: Method,
    /// `{id}` stands for one path segment (validated by the handler).
    pub path: &'static str,
    pub endpoint: Endpoint,
    /// The OpenAPI `operationId`.
    pub operation_id: &'static str,
}

const fn route(method: Method, path: &'static str, endpoint: Endpoint, operation_id: &'static str) -> Route {
    Route { method, path, endpoint, operation_id }
}

pub static ROUTES: [Route; 14] = [
    route(Method::GET, "/v1/health", Endpoint::Health, "getHealth"),
    route(Method::GET, "/v1/status", Endpoint::Status, "getStatus"),
    route(Method::GET, "/metrics", Endpoint::Metrics, "getMetrics"),
    route(Method::GET, "/v1/openapi.json", Endpoint::OpenApi, "getOpenApi"),
    route(Method::POST, "/v1/dreams", Endpoint::RequestDream, "requestDream"),
    route(Method::GET, "/v1/jobs", Endpoint::ListJobs, "listJobs"),
    route(Method::GET, "/v1/jobs/{id}", Endpoint::GetJob, "getJob"),
    route(Method::GET, "/v1/jobs/{id}/diff", Endpoint::GetJobDiff, "getJobDiff"),
    route(Method::GET, "/v1/jobs/{id}/events", Endpoint::GetJobEvents, "getJobEvents"),
    route(Method::POST, "/v1/jobs/{id}/approve", Endpoint::ApproveJob, "approveJob"),
    route(Method::POST, "/v1/jobs/{id}/cancel", Endpoint::CancelJob, "cancelJob"),
    route(Method::POST, "/v1/jobs/{id}/discard", Endpoint::DiscardJob, "discardJob"),
    route(Method::GET, "/v1/generations", Endpoint::ListGenerations, "listGenerations"),
    route(Method::POST, "/v1/rollback", Endpoint::Rollback, "rollback"),
];

/// What a request path and method come to.
#[derive(Debug, PartialEq, Eq)]
pub enum Match<'a> {
    /// The route, and the `{id}` segment if the path has one.
    Found(&'a Route, Option<String>),
    /// The path exists, not with this method: the methods it has (for `Allow`).
    WrongMethod(Vec<Method>),
    NotFound,
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.endpoint == other.endpoint
    }
}

impl Eq for Route {}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Segments of `path` against a pattern: `Some(id)` when it matches. Empty, `.` and `..`
/// segments match nothing (a path is never normalised, so `/v1/jobs/../health` is not found).
fn matches(pattern: &str, path: &str) -> Option<Option<String>> {
    let (p, s) = (pattern.split('/'), path.split('/'));
    if pattern.split('/').count() != path.split('/').count() {
        return None;
    }
    let mut id = None;
    for (want, got) in p.zip(s) {
        if want == "{id}" {
            if got.is_empty() || got == "." || got == ".." {
                return None;
            }
            id = Some(got.to_string());
        } else if want != got {
            return None;
        }
    }
    Some(id)
}

/// Find the route for a request. `HEAD` is served as `GET` (without the body).
pub fn find<'a>(routes: &'a [Route], method: &Method, path: &str) -> Match<'a> {
    let method = if method == Method::HEAD { &Method::GET } else { method };
    let mut allowed = Vec::new();
    for r in routes {
        if let Some(id) = matches(r.path, path) {
            if r.method == *method {
                return Match::Found(r, id);
            }
            allowed.push(r.method.clone());
        }
    }
    if allowed.is_empty() {
        Match::NotFound
    } else {
        if allowed.contains(&Method::GET) {
            allowed.push(Method::HEAD);
        }
        Match::WrongMethod(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(method: Method, path: &str) -> Option<(Endpoint, Option<String>)> {
        match find(&ROUTES, &method, path) {
            Match::Found(r, id) => Some((r.endpoint, id)),
            _ => None,
        }
    }

    #[test]
    fn paths_find_their_endpoint_and_id() {
        assert_eq!(endpoint(Method::GET, "/v1/health"), Some((Endpoint::Health, None)));
        assert_eq!(endpoint(Method::HEAD, "/v1/status"), Some((Endpoint::Status, None)));
        assert_eq!(endpoint(Method::GET, "/v1/jobs/12/diff"), Some((Endpoint::GetJobDiff, Some("12".into()))));
        assert_eq!(endpoint(Method::POST, "/v1/jobs/3/approve"), Some((Endpoint::ApproveJob, Some("3".into()))));
    }

    #[test]
    fn unknown_sub_paths_and_dot_segments_are_not_found() {
        for path in ["/v1/jobs/1/nope", "/v1/jobs/..", "/v1/jobs/../health", "/v1/./health", "/v1//jobs", "/v1/jobs/", "/v1/health/x", "/"]
        {
            for method in [Method::GET, Method::POST, Method::DELETE] {
                assert_eq!(find(&ROUTES, &method, path), Match::NotFound, "{method} {path}");
            }
        }
    }

    #[test]
    fn a_known_path_with_another_method_lists_the_allowed_ones() {
        assert_eq!(find(&ROUTES, &Method::DELETE, "/v1/jobs/1"), Match::WrongMethod(vec![Method::GET, Method::HEAD]));
        assert_eq!(find(&ROUTES, &Method::GET, "/v1/dreams"), Match::WrongMethod(vec![Method::POST]));
    }

    #[test]
    fn the_table_has_no_two_routes_for_one_request() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{a:?} twice");
                assert_ne!(a.operation_id, b.operation_id);
            }
        }
    }
}
