//! Token forgery: every protected route of the table refuses every forged, expired, premature,
//! incomplete or mis-schemed credential with 401 problem+json, and accepts the genuine token
//! under any spelling of the `Bearer` scheme (RFC 7235: schemes are case-insensitive).

use attest_api::routes::table::{RouteSpec, ROUTES};
use serde_json::{json, Value};

use crate::support::{claims, jwt, protected, report, snapshot_diff, Env, Mac, Req, Tenant};

const TENANT: &str = "tenant-alpha";

/// Named `Authorization` header values (`None`: no header) that must all be refused.
fn forgeries(env: &Env) -> Vec<(&'static str, Option<String>)> {
    let now = chrono::Utc::now().timestamp();
    let good = claims(TENANT, "mallory", &["global_admin"]);
    let with = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = good.clone();
        change(c.as_object_mut().unwrap());
        c
    };
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let secret = env.secret.as_slice();
    let signed = |c: &Value| jwt(&hs256, c, Mac::Hs256, secret);
    let bearer = |t: String| Some(format!("Bearer {t}"));
    let genuine = signed(&good);

    // A genuine token of another tenant whose payload is swapped for this tenant's.
    let other = signed(&claims("tenant-other", "mallory", &["global_admin"]));
    let parts: Vec<&str> = other.split('.').collect();
    let mine: Vec<&str> = genuine.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], mine[1], parts[2]);
    let unsigned = format!("{}.{}.", mine[0], mine[1]);

    vec![
        (
            "wrong secret",
            bearer(jwt(&hs256, &good, Mac::Hs256, b"not the server's secret")),
        ),
        ("empty secret", bearer(jwt(&hs256, &good, Mac::Hs256, b""))),
        (
            "alg none",
            bearer(jwt(
                &json!({"alg": "none", "typ": "JWT"}),
                &good,
                Mac::Empty,
                b"",
            )),
        ),
        (
            "alg None",
            bearer(jwt(&json!({"alg": "None"}), &good, Mac::Empty, b"")),
        ),
        (
            "alg NONE",
            bearer(jwt(&json!({"alg": "NONE"}), &good, Mac::Empty, b"")),
        ),
        (
            "alg none with a valid HS256 signature",
            bearer(jwt(&json!({"alg": "none"}), &good, Mac::Hs256, secret)),
        ),
        ("HS256 header without a signature", bearer(unsigned)),
        (
            "HS512 signed with the server's secret",
            bearer(jwt(
                &json!({"alg": "HS512", "typ": "JWT"}),
                &good,
                Mac::Hs512,
                secret,
            )),
        ),
        (
            "HS512 header over an HS256 signature",
            bearer(jwt(
                &json!({"alg": "HS512", "typ": "JWT"}),
                &good,
                Mac::Hs256,
                secret,
            )),
        ),
        (
            "HS256 header over an HS512 signature",
            bearer(jwt(&hs256, &good, Mac::Hs512, secret)),
        ),
        (
            "RS256 header, HMAC-SHA256 with the secret as key",
            bearer(jwt(
                &json!({"alg": "RS256", "typ": "JWT"}),
                &good,
                Mac::Hs256,
                secret,
            )),
        ),
        (
            "ES256 header, HMAC-SHA256 with the secret as key",
            bearer(jwt(
                &json!({"alg": "ES256", "typ": "JWT"}),
                &good,
                Mac::Hs256,
                secret,
            )),
        ),
        (
            "no alg in the header",
            bearer(jwt(&json!({"typ": "JWT"}), &good, Mac::Hs256, secret)),
        ),
        (
            "expired an hour ago",
            bearer(signed(&with(&|c| {
                c.insert("iat".into(), json!(now - 7200));
                c.insert("exp".into(), json!(now - 3600));
            }))),
        ),
        (
            "expired two minutes ago",
            bearer(signed(&with(&|c| {
                c.insert("exp".into(), json!(now - 120));
            }))),
        ),
        (
            "no exp",
            bearer(signed(&with(&|c| {
                c.remove("exp");
            }))),
        ),
        (
            "no sub",
            bearer(signed(&with(&|c| {
                c.remove("sub");
            }))),
        ),
        (
            "empty sub",
            bearer(signed(&with(&|c| {
                c.insert("sub".into(), json!(""));
            }))),
        ),
        (
            "sub with a key separator",
            bearer(signed(&with(&|c| {
                c.insert("sub".into(), json!("mallory#USER"));
            }))),
        ),
        (
            "no tenant",
            bearer(signed(&with(&|c| {
                c.remove("tenant");
            }))),
        ),
        (
            "empty tenant",
            bearer(signed(&with(&|c| {
                c.insert("tenant".into(), json!(""));
            }))),
        ),
        (
            "tenant with a key separator",
            bearer(signed(&with(&|c| {
                c.insert("tenant".into(), json!("tenant-alpha#GROUP"));
            }))),
        ),
        (
            "tenant as a number",
            bearer(signed(&with(&|c| {
                c.insert("tenant".into(), json!(42));
            }))),
        ),
        (
            "wrong issuer",
            bearer(signed(&with(&|c| {
                c.insert("iss".into(), json!("https://evil.example"));
            }))),
        ),
        (
            "no issuer",
            bearer(signed(&with(&|c| {
                c.remove("iss");
            }))),
        ),
        (
            "wrong audience",
            bearer(signed(&with(&|c| {
                c.insert("aud".into(), json!("someone-else"));
            }))),
        ),
        (
            "payload of another token under this signature",
            bearer(tampered),
        ),
        ("garbage", Some("Bearer not.a.token".into())),
        ("one word", Some("Bearer abc".into())),
        ("empty token", Some("Bearer ".into())),
        ("scheme alone", Some("Bearer".into())),
        (
            "genuine token with trailing garbage",
            Some(format!("Bearer {genuine}x")),
        ),
        ("two tokens", Some(format!("Bearer {genuine} {genuine}"))),
        (
            "Basic credentials",
            Some("Basic YWxpY2U6cGFzc3dvcmQ=".into()),
        ),
        (
            "genuine token under the Basic scheme",
            Some(format!("Basic {genuine}")),
        ),
        (
            "genuine token under the Token scheme",
            Some(format!("Token {genuine}")),
        ),
        ("genuine token without a scheme", Some(genuine.clone())),
        ("no Authorization header", None),
    ]
}

/// The request a forged credential is tried on: the tenant's real resources and a valid body,
/// so that only the credential can be at fault.
async fn probe(t: &Tenant, route: &RouteSpec) -> Req {
    let path = match crate::support::kind(route) {
        Some(k) => crate::support::path_with(route, &t.id(k)),
        None => route.path.to_owned(),
    };
    t.with_body(Req::new(route.method, path), route, "forged")
}

fn check_401(
    label: &str,
    req: &Req,
    reply: &Result<crate::support::Reply, String>,
) -> Option<String> {
    let reply = match reply {
        Err(e) => return Some(format!("[{label}] {e}")),
        Ok(r) => r,
    };
    if reply.status != 401 {
        return Some(format!(
            "[{label}] {}: {} (want 401)",
            req.line(),
            reply.brief()
        ));
    }
    if let Some(f) = reply.problem_fault() {
        return Some(format!("[{label}] {}: {f}", req.line()));
    }
    let challenge = reply
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !challenge.to_ascii_lowercase().starts_with("bearer") {
        return Some(format!(
            "[{label}] {}: 401 without a WWW-Authenticate: Bearer challenge",
            req.line()
        ));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_on_every_protected_route() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let mut faults = Vec::new();

    // The genuine token works on every read route, so the 401s below are about the forgery.
    let genuine = env.token(TENANT, "alpha-control", &["global_admin"]);
    let mut reads = Vec::new();
    for route in protected().filter(|r| r.method == "GET") {
        reads.push((route, probe(&t, route).await.bearer(&genuine)));
    }
    let replies = t
        .api
        .send_all(reads.iter().map(|(_, r)| r.clone()).collect(), 16)
        .await;
    for ((route, req), reply) in reads.iter().zip(replies) {
        match reply {
            Ok(r) if r.status == route.ok.0 => {}
            Ok(r) => faults.push(format!("genuine token on {}: {}", req.line(), r.brief())),
            Err(e) => faults.push(e),
        }
    }

    let before = t.snapshot().await;
    let mut labels = Vec::new();
    let mut reqs = Vec::new();
    for (label, authorization) in forgeries(&env) {
        for route in protected() {
            let mut req = probe(&t, route).await;
            req.authorization = authorization.clone();
            labels.push(label);
            reqs.push(req);
        }
    }
    let replies = t.api.send_all(reqs.clone(), 32).await;
    for ((label, req), reply) in labels.iter().zip(&reqs).zip(&replies) {
        faults.extend(check_401(label, req, reply));
    }
    faults.extend(
        snapshot_diff(&before, &t.snapshot().await)
            .into_iter()
            .map(|d| format!("a refused request changed data: {d}")),
    );
    assert!(reqs.len() >= 30 * protected().count());
    report("forged credentials", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_not_valid_before_an_hour_from_now_are_refused() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let now = chrono::Utc::now().timestamp();
    let mut early = claims(TENANT, "mallory", &["global_admin"]);
    early["nbf"] = json!(now + 3600);
    let token = jwt(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &early,
        Mac::Hs256,
        &env.secret,
    );
    let before = t.snapshot().await;
    let mut reqs = Vec::new();
    for route in protected() {
        reqs.push(probe(&t, route).await.bearer(&token));
    }
    let replies = t.api.send_all(reqs.clone(), 16).await;
    let mut faults: Vec<String> = reqs
        .iter()
        .zip(&replies)
        .filter_map(|(req, reply)| check_401("nbf in one hour", req, reply))
        .collect();
    faults.extend(
        snapshot_diff(&before, &t.snapshot().await)
            .into_iter()
            .map(|d| format!("a premature token changed data: {d}")),
    );
    report("premature (nbf) tokens", &faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let env = Env::start();
    let t = Tenant::build(&env, TENANT, "alpha", true).await;
    let mine = env.token(TENANT, "alpha-reader", &["reader"]);
    // A token of the CLI works too: the suite's own signing is not what is being tested.
    let cli = crate::common::token(&env.data, TENANT, "alpha-cli", &["reader"]);
    let schemes = [
        ("bearer", &mine),
        ("BEARER", &mine),
        ("BeArEr", &mine),
        ("Bearer", &mine),
        ("Bearer", &cli),
        ("bearer", &cli),
    ];
    let mut cases = Vec::new();
    for (scheme, token) in schemes {
        for route in ROUTES
            .iter()
            .filter(|r| r.permission.is_some() && r.method == "GET")
        {
            let req = probe(&t, route)
                .await
                .authorization(format!("{scheme} {token}"));
            cases.push((route.ok.0, req));
        }
    }
    // RFC 7235: one or more spaces after the scheme.
    let route = ROUTES
        .iter()
        .find(|r| r.method == "GET" && r.path.ends_with("/groups"))
        .unwrap();
    cases.push((
        200,
        probe(&t, route)
            .await
            .authorization(format!("bearer  {mine}")),
    ));
    let admin = env.token(TENANT, "alpha-admin", &["administrator"]);
    let create = ROUTES
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/groups"))
        .unwrap();
    cases.push((
        201,
        probe(&t, create)
            .await
            .authorization(format!("bearer {admin}")),
    ));
    let replies = t
        .api
        .send_all(cases.iter().map(|(_, r)| r.clone()).collect(), 16)
        .await;
    let mut faults = Vec::new();
    for ((want, req), reply) in cases.iter().zip(replies) {
        let scheme = req
            .authorization
            .as_deref()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned();
        match reply {
            Ok(r) if r.status == *want => {}
            Ok(r) => faults.push(format!(
                "scheme {scheme:?} on {}: {} (want {want})",
                req.line(),
                r.brief()
            )),
            Err(e) => faults.push(e),
        }
    }
    report("valid tokens under any case of Bearer", &faults);
}
