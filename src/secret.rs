//! Credential values that never print: `Debug` redacts them, and they have no `Display`.
//!
//! Passwords and tokens travel from the environment to the request that carries them and
//! nowhere else: not to the journal, the log, an error message or a `{:?}` in a test failure.

use std::fmt;

/// A credential value that must never be printed: `Debug` redacts it, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2-visible-nowhere");
        let shown = format!("{secret:?} {:?} {secret:#?}", Some(&secret));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(secret.expose(), "hunter2-visible-nowhere");
    }
}
