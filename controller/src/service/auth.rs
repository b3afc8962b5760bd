//! Bearer-token authentication. Each agent has its own token, the CLI uses user or admin tokens;
//! a request without a valid token is refused before anything else happens.

use axum::http::HeaderMap;

use crate::config::Role;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token, or an unknown one: 401.
    Unauthenticated(String),
    /// A valid token without the right role: 403.
    Forbidden(String),
}

/// Compare secrets in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Check the `Authorization: Bearer …` header against the configured tokens and the role needed.
/// Admin tokens may do everything.
pub fn authorize(headers: &HeaderMap, tokens: &[(String, Role, String)], need: Role) -> Result<Caller, Refusal> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| Refusal::Unauthenticated("missing Authorization: Bearer token".into()))?;
    let value = header.to_str().map_err(|_| Refusal::Unauthenticated("malformed Authorization header".into()))?;
    let secret = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| Refusal::Unauthenticated("the Authorization header must be 'Bearer <token>'".into()))?
        .trim();
    let mut found = None;
    for (name, role, s) in tokens {
        if same(s.as_bytes(), secret.as_bytes()) {
            found = Some(Caller { name: name.clone(), role: *role });
        }
    }
    let caller = found.ok_or_else(|| Refusal::Unauthenticated("unknown token".into()))?;
    if caller.role == Role::Admin || caller.role == need {
        Ok(caller)
    } else {
        Err(Refusal::Forbidden(format!("token '{}' ({:?}) may not do this ({:?} needed)", caller.name, caller.role, need)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn roles_and_refusals() {
        let tokens = vec![
            ("ops".to_string(), Role::Admin, "a".repeat(20)),
            ("astro".to_string(), Role::User, "u".repeat(20)),
        ];
        assert!(matches!(authorize(&HeaderMap::new(), &tokens, Role::User), Err(Refusal::Unauthenticated(_))));
        assert!(matches!(authorize(&headers("Bearer nope"), &tokens, Role::User), Err(Refusal::Unauthenticated(_))));
        assert!(matches!(authorize(&headers(&format!("Basic {}", "u".repeat(20))), &tokens, Role::User), Err(Refusal::Unauthenticated(_))));
        assert_eq!(authorize(&headers(&format!("Bearer {}", "u".repeat(20))), &tokens, Role::User).unwrap().name, "astro");
        assert!(matches!(authorize(&headers(&format!("Bearer {}", "u".repeat(20))), &tokens, Role::Admin), Err(Refusal::Forbidden(_))));
        assert_eq!(authorize(&headers(&format!("Bearer {}", "a".repeat(20))), &tokens, Role::User).unwrap().role, Role::Admin);
    }
}
