//! Lambda function web: `GET /`, `GET /assets/{version}/{file}` and `GET /config.json`, the
//! web app (`attest_web`), public (the app sends the user's token on every API call). Sign-in
//! goes through Cognito's hosted UI when `COGNITO_DOMAIN` and `COGNITO_CLIENT_ID` are set;
//! `EVIDENCE_BUCKET_ORIGIN` lets the app reach the presigned evidence URLs.

#[tokio::main]
async fn main() -> Result<(), attest_lambda::Error> {
    attest_lambda::init_tracing();
    let config = attest_web::Config::from_env()?;
    lambda_http::run(attest_web::router(config)).await
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// API Gateway's event for `GET /` reaches the shell, with the policy.
    #[tokio::test]
    async fn the_root_event_is_the_shell() {
        let req = lambda_http::request::from_str(include_str!("../events/root.json")).unwrap();
        let config = attest_web::Config::from_lookup(|name| match name {
            "COGNITO_DOMAIN" => Some("attest-1a2b3c4d.auth.us-east-1.amazoncognito.com".into()),
            "COGNITO_CLIENT_ID" => Some("abc123".into()),
            "EVIDENCE_BUCKET_ORIGIN" => {
                Some("https://attest-evidence-x.s3.us-east-1.amazonaws.com".into())
            }
            _ => None,
        })
        .unwrap();
        let res = attest_web::router(config).oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200);
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains(
            "connect-src 'self' https://attest-evidence-x.s3.us-east-1.amazonaws.com \
             https://attest-1a2b3c4d.auth.us-east-1.amazoncognito.com;"
        ));
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).starts_with("<!doctype html>"));
    }
}
