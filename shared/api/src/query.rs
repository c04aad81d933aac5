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

    /// An RFC 3339 instant, or a plain date (`YYYY-MM-DD`) meaning the end of that day in
    /// UTC (the last instant of the day, so that the day's changes count); otherwise a 422
    /// naming the parameter.
    pub fn instant_or_date(
        &self,
        name: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        if let Some(day) = self
            .one(name)
            .and_then(|v| chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok())
        {
            let end = day
                .and_hms_nano_opt(23, 59, 59, 999_999_999)
                .ok_or_else(|| {
                    ApiError::invalid(name, format!("{day} has no end of day in UTC"))
                })?;
            return Ok(Some(end.and_utc()));
        }
        self.time(name).map_err(|_| {
            ApiError::invalid(
                name,
                format!(
                    "{:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 date and time",
                    self.one(name).unwrap_or_default()
                ),
            )
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn as_of(raw: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        QueryParams::parse(Some(raw), &["as_of"])
            .unwrap()
            .instant_or_date("as_of")
    }

    #[test]
    fn instants_are_rfc_3339_or_the_end_of_a_day() {
        assert_eq!(
            as_of("as_of=2026-03-31").unwrap().unwrap().to_rfc3339(),
            "2026-03-31T23:59:59.999999999+00:00"
        );
        assert_eq!(
            as_of("as_of=2026-03-31T10:00:00%2B02:00")
                .unwrap()
                .unwrap()
                .to_rfc3339(),
            "2026-03-31T08:00:00+00:00"
        );
        assert_eq!(as_of("").unwrap(), None);
        for bad in [
            "as_of=yesterday",
            "as_of=2026-02-30",
            "as_of=2026-03-31T10:00",
        ] {
            let err = as_of(bad).unwrap_err();
            assert_eq!(err.status().as_u16(), 422, "{bad}");
            assert!(err.to_string().contains("as_of"), "{err}");
        }
    }
}
