//! Query strings: repeatable parameters, unknown ones refused by name.

use attest_domain::DomainError;

use crate::ApiError;

pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses `raw`; a parameter not in `allowed` is a 400 that names it.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        if let Some((unknown, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(ApiError::BadRequest {
                detail: format!(
                    "unknown query parameter {unknown:?}; this route takes: {}",
                    allowed.join(", ")
                ),
                errors: vec![attest_domain::FieldError::new(
                    unknown.clone(),
                    "unknown query parameter",
                )],
            });
        }
        Ok(Self { pairs })
    }

    /// Every value of a repeatable parameter.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn one(&self, name: &str) -> Option<String> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// Every value parsed; a bad one is a 422 naming the parameter.
    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, DomainError>,
    ) -> Result<Vec<T>, ApiError> {
        self.all(name)
            .iter()
            .map(|v| parse(v).map_err(|e| ApiError::invalid(name, e.to_string())))
            .collect()
    }

    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.one(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") | Some("") => Ok(true),
            Some(other) => Err(ApiError::invalid(
                name,
                format!("{other:?} is not true or false"),
            )),
        }
    }

    /// An RFC 3339 instant; a bad one is a 422 naming the parameter.
    pub fn time(&self, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        self.one(name)
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(&v)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|e| {
                        ApiError::invalid(
                            name,
                            format!("{v:?} is not an RFC 3339 date and time: {e}"),
                        )
                    })
            })
            .transpose()
    }

    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.one("limit") {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(
                    "limit",
                    format!("must be a whole number from 1 to {max}"),
                )),
            },
        }
    }
}
