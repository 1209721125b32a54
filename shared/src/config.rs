//! Configuration from the environment. Every error names the variable, so a misconfigured
//! container says what to fix in its first log line.

use std::{env, fmt::Display, str::FromStr, time::Duration};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} is required but not set")]
    Missing { name: String },
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

/// The variable's value, or `None` when it is unset or empty.
pub fn optional(name: &str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.is_empty())
}

pub fn required(name: &str) -> Result<String, ConfigError> {
    optional(name).ok_or_else(|| ConfigError::Missing {
        name: name.to_owned(),
    })
}

/// Parses the variable if it is set, or returns `default`.
pub fn parse_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match optional(name) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|err: T::Err| ConfigError::Invalid {
            name: name.to_owned(),
            reason: err.to_string(),
            value,
        }),
    }
}

/// Parses the variable if it is set; `None` when it is not.
pub fn parse_optional<T>(name: &str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    optional(name)
        .map(|value| {
            value.parse().map_err(|err: T::Err| ConfigError::Invalid {
                name: name.to_owned(),
                reason: err.to_string(),
                value,
            })
        })
        .transpose()
}

/// A duration given in whole seconds.
pub fn seconds_or(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    parse_or(name, default.as_secs()).map(Duration::from_secs)
}

/// A duration given in milliseconds.
pub fn millis_or(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    parse_or(name, default.as_millis() as u64).map(Duration::from_millis)
}

/// Checks a parsed value against a rule, naming the variable when it fails.
pub fn check<T: Display>(
    name: &str,
    value: T,
    ok: impl FnOnce(&T) -> bool,
    reason: &str,
) -> Result<T, ConfigError> {
    if ok(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name: name.to_owned(),
            value: value.to_string(),
            reason: reason.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable() {
        let missing = required("BB_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("BB_TEST_SURELY_UNSET_VARIABLE")
        );

        let invalid = check("BB_X", 0u32, |n| *n > 0, "must be at least 1").unwrap_err();
        assert_eq!(
            invalid.to_string(),
            "environment variable BB_X=\"0\" is invalid: must be at least 1"
        );
    }

    #[test]
    fn unset_means_default() {
        assert_eq!(parse_or("BB_TEST_SURELY_UNSET_VARIABLE", 7u32), Ok(7));
        assert_eq!(
            seconds_or("BB_TEST_SURELY_UNSET_VARIABLE", Duration::from_secs(3)),
            Ok(Duration::from_secs(3))
        );
    }
}
