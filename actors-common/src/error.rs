//! The JSON error body every HTTP API answers with:
//! `{"error":{"code":"<snake_case>","message":"<human text>"}}`.

use serde::{Deserialize, Serialize};

/// The whole error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable, snake_case (`username_taken`, `invalid_token`, …).
    pub code: String,
    /// For people; never contains secrets or whether a hidden thing exists.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_protocol_shape() {
        let body = ErrorBody::new("username_taken", "that username is taken");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error":{"code":"username_taken","message":"that username is taken"}})
        );
    }
}
