//! Field rules of PROTOCOL.md, shared by every service that checks them.
//!
//! Each check returns the protocol's error code and a message for people.

/// A failed rule: the `code` of the error body and a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        code,
        message: message.into(),
    }
}

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 256;
pub const DISPLAY_NAME_MAX: usize = 64;
pub const GROUP_NAME_MAX: usize = 100;
pub const BODY_MAX: usize = 4000;

/// Username: 3–32 of `[a-z0-9_.-]`.
pub fn username(name: &str) -> Result<(), Invalid> {
    let len = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(invalid(
            "invalid_username",
            format!("username must be {USERNAME_MIN} to {USERNAME_MAX} characters"),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
    {
        return Err(invalid(
            "invalid_username",
            "username may contain only a-z, 0-9, '_', '.' and '-'",
        ));
    }
    Ok(())
}

/// Password: 8–256 characters.
pub fn password(password: &str) -> Result<(), Invalid> {
    let len = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&len) {
        return Err(invalid(
            "invalid_password",
            format!("password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"),
        ));
    }
    Ok(())
}

/// A control character other than newline and tab (NUL, escapes, DEL, C1
/// controls): never accepted in what the protocol lets people write.
fn control_outside_text(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// A control character of any kind (names and queries are one line).
fn control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Display name: at most 64 characters, no control characters.
pub fn display_name(name: &str) -> Result<(), Invalid> {
    if control(name) {
        return Err(invalid(
            "invalid_display_name",
            "display name must not contain control characters",
        ));
    }
    if name.chars().count() > DISPLAY_NAME_MAX {
        return Err(invalid(
            "invalid_display_name",
            format!("display name must be at most {DISPLAY_NAME_MAX} characters"),
        ));
    }
    Ok(())
}

/// Group name: 1–100 characters, not blank, no control characters.
pub fn group_name(name: &str) -> Result<(), Invalid> {
    if control(name) {
        return Err(invalid(
            "invalid_name",
            "group name must not contain control characters",
        ));
    }
    let len = name.chars().count();
    if name.trim().is_empty() || len > GROUP_NAME_MAX {
        return Err(invalid(
            "invalid_name",
            format!("group name must be 1 to {GROUP_NAME_MAX} characters"),
        ));
    }
    Ok(())
}

/// A search query (`?q=`): at most 64 characters, no control characters.
pub fn search_query(q: &str) -> Result<(), Invalid> {
    if control(q) || q.chars().count() > DISPLAY_NAME_MAX {
        return Err(invalid(
            "invalid_query",
            format!(
                "a search is at most {DISPLAY_NAME_MAX} characters, without control characters"
            ),
        ));
    }
    Ok(())
}

/// Message body as a client may send it: [`storable_body`], and no control
/// characters but newline and tab.
pub fn body(body: &str) -> Result<(), Invalid> {
    storable_body(body)?;
    if control_outside_text(body) {
        return Err(invalid(
            "invalid_body",
            "message body must not contain control characters other than newline and tab",
        ));
    }
    Ok(())
}

/// Message body as ingest stores it: 1–4000 Unicode scalar values, not
/// empty after trimming, no NUL. Looser than [`body`] so that a message
/// acknowledged under an earlier rule is still stored.
pub fn storable_body(body: &str) -> Result<(), Invalid> {
    if body.trim().is_empty() {
        return Err(invalid("invalid_body", "message body must not be empty"));
    }
    if body.contains('\0') {
        // PostgreSQL text cannot hold NUL; refuse it at the edge rather than
        // fail to store an acknowledged message.
        return Err(invalid(
            "invalid_body",
            "message body must not contain NUL characters",
        ));
    }
    if body.chars().count() > BODY_MAX {
        return Err(invalid(
            "invalid_body",
            format!("message body must be at most {BODY_MAX} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "a_b.c-d", "user123", &"x".repeat(32)] {
            assert_eq!(username(ok), Ok(()), "{ok}");
        }
        for bad in ["ab", &"x".repeat(33), "Alice", "al ice", "al!ce", "élan"] {
            assert_eq!(username(bad).unwrap_err().code, "invalid_username", "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(password("12345678").is_ok());
        assert!(password(&"p".repeat(256)).is_ok());
        assert_eq!(password("1234567").unwrap_err().code, "invalid_password");
        assert_eq!(
            password(&"p".repeat(257)).unwrap_err().code,
            "invalid_password"
        );
    }

    #[test]
    fn bodies_count_scalar_values_and_trim() {
        assert!(body("hi").is_ok());
        assert!(body(&"é".repeat(4000)).is_ok(), "4000 two-byte chars fit");
        assert_eq!(body(&"é".repeat(4001)).unwrap_err().code, "invalid_body");
        assert_eq!(body("").unwrap_err().code, "invalid_body");
        assert_eq!(body(" \n\t ").unwrap_err().code, "invalid_body");
        assert_eq!(body("a\0b").unwrap_err().code, "invalid_body");
    }

    #[test]
    fn control_characters_are_refused_but_newline_and_tab_in_bodies() {
        assert!(body("two\nlines\tand a tab").is_ok());
        for bad in [
            "bell\u{7}",
            "esc\u{1b}[31m",
            "cr\r",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert_eq!(body(bad).unwrap_err().code, "invalid_body", "{bad:?}");
            assert!(storable_body(bad).is_ok(), "{bad:?} is still stored");
        }
        for bad in ["a\0b", "a\nb", "tab\t", "esc\u{1b}"] {
            assert_eq!(display_name(bad).unwrap_err().code, "invalid_display_name");
            assert_eq!(group_name(bad).unwrap_err().code, "invalid_name");
            assert_eq!(search_query(bad).unwrap_err().code, "invalid_query");
        }
        assert!(search_query("ann").is_ok());
        assert!(search_query("").is_ok());
        assert_eq!(
            search_query(&"q".repeat(65)).unwrap_err().code,
            "invalid_query"
        );
    }

    #[test]
    fn names() {
        assert!(display_name(&"d".repeat(64)).is_ok());
        assert_eq!(
            display_name(&"d".repeat(65)).unwrap_err().code,
            "invalid_display_name"
        );
        assert!(group_name("team").is_ok());
        assert_eq!(group_name("  ").unwrap_err().code, "invalid_name");
        assert_eq!(
            group_name(&"g".repeat(101)).unwrap_err().code,
            "invalid_name"
        );
    }
}
