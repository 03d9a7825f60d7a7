//! What every network's knobs share: the bounds a person's values must stay within, the error
//! that names a knob set beyond them, and how scenario files spell durations.
//!
//! Knob values come from people (scenario files, flags, admin patches). The emulators never
//! panic on absurd ones (their arithmetic saturates); these checks exist to tell the person who
//! typed them, at startup or in the patch's answer, which knob is wrong.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::faults::Faults;

/// What the core reads and sets in every network's knobs: the clock offset and the faults
/// every network shares, and the check of the whole.
pub trait Knobs: Clone + Default + Serialize + DeserializeOwned + Send + 'static {
    /// Signed seconds added to real time to make the emulator's clock.
    fn clock_offset_secs(&self) -> i64;

    /// The injected faults.
    fn faults(&self) -> &Faults;

    /// The clock offset and the faults, to set from the flags every network shares.
    fn shared_mut(&mut self) -> (&mut i64, &mut Faults);

    /// Checks every knob a person can set to a value the emulator cannot honour, naming the
    /// first one found.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// Implements [`Knobs`] for a network's `Config` whose fields are named `clock_offset_secs`
/// and `faults` and which has its own `validate`.
macro_rules! knobs {
    ($config:ty) => {
        impl $crate::emulator::config::Knobs for $config {
            fn clock_offset_secs(&self) -> i64 {
                self.clock_offset_secs
            }

            fn faults(&self) -> &$crate::emulator::faults::Faults {
                &self.faults
            }

            fn shared_mut(&mut self) -> (&mut i64, &mut $crate::emulator::faults::Faults) {
                (&mut self.clock_offset_secs, &mut self.faults)
            }

            fn validate(&self) -> Result<(), $crate::emulator::config::ConfigError> {
                <$config>::validate(self)
            }
        }
    };
}
pub(crate) use knobs;

/// The shortest rate window: resets are announced in whole seconds, so a shorter window would
/// close before the reset it announces and never refuse anything.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);
/// The longest rate window: the 24-hour caps are the longest limits the APIs announce, and a
/// client treats a reset further away as garbage.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The largest clock offset either way (ten years): enough for any skew a test wants, and far
/// from the dates an HTTP `Date` header can no longer express.
pub const MAX_CLOCK_OFFSET_SECS: i64 = 10 * 365 * 86_400;

/// A knob set to a value the emulator cannot honour.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// A rate window is too short or too long.
    #[error(
        "the rate window {which} is {}; it must be from {} to {}",
        humantime::format_duration(*value),
        humantime::format_duration(MIN_WINDOW),
        humantime::format_duration(MAX_WINDOW)
    )]
    Window {
        /// The knob, e.g. `limits.window` or `limits.ENDPOINT.window`.
        which: String,
        /// The value given.
        value: Duration,
    },
    /// The clock offset is beyond [`MAX_CLOCK_OFFSET_SECS`].
    #[error(
        "the clock offset {0} s is too large; it must be within ±{MAX_CLOCK_OFFSET_SECS} s (ten years)"
    )]
    ClockOffset(i64),
    /// A probability outside 0–1 (or NaN).
    #[error("faults.{name} is {value}; it must be a probability from 0 to 1")]
    Probability {
        /// The knob.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A knob names an endpoint the network does not have.
    #[error("{knob} names `{name}`, which is no endpoint of this network (known: {known})")]
    UnknownEndpoint {
        /// The knob or flag.
        knob: String,
        /// The name given.
        name: String,
        /// The names the network knows, comma-separated.
        known: String,
    },
    /// A status knob that is not an HTTP error status.
    #[error("{knob} is {value}; it must be an HTTP error status (400 to 599)")]
    Status {
        /// The knob, e.g. `replies.too_many_terms_status`.
        knob: &'static str,
        /// The value given.
        value: u16,
    },
}

/// Checks a rate window length against [`MIN_WINDOW`] and [`MAX_WINDOW`]; `which` names the
/// knob in the error.
pub fn check_window(which: &str, value: Duration) -> Result<(), ConfigError> {
    if (MIN_WINDOW..=MAX_WINDOW).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::Window {
            which: which.to_owned(),
            value,
        })
    }
}

/// Checks a clock offset against [`MAX_CLOCK_OFFSET_SECS`].
pub fn check_clock_offset(secs: i64) -> Result<(), ConfigError> {
    if secs.unsigned_abs() > MAX_CLOCK_OFFSET_SECS.unsigned_abs() {
        Err(ConfigError::ClockOffset(secs))
    } else {
        Ok(())
    }
}

/// Checks that a status knob is an HTTP error status.
pub fn check_error_status(knob: &'static str, value: u16) -> Result<(), ConfigError> {
    if (400..=599).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::Status { knob, value })
    }
}

/// Durations in scenario files: humantime text (`"15m"`, `"2s"`, `"500ms"`) or whole seconds.
/// For `#[serde(with = "crate::emulator::config::duration_text")]`.
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Writes humantime text.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }

    /// Reads humantime text or whole seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => humantime::parse_duration(&t)
                .map_err(|e| D::Error::custom(format!("`{t}` is not a duration: {e}"))),
        }
    }
}

/// [`duration_text`] for an optional duration (absent means `None`).
pub mod optional_duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes humantime text, or nothing.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::duration_text::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    struct Wrapped(#[serde(with = "super::duration_text")] Duration);

    /// Reads humantime text or whole seconds, when present.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(d)| d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_knob_and_accept_the_edges() {
        assert_eq!(check_window("limits.window", MIN_WINDOW), Ok(()));
        assert_eq!(check_window("limits.window", MAX_WINDOW), Ok(()));
        let err = check_window("limits.ids.window", Duration::from_millis(999))
            .expect_err("too short")
            .to_string();
        assert!(
            err.contains("limits.ids.window") && err.contains("from 1s to 1day"),
            "{err}"
        );
        assert_eq!(check_clock_offset(-MAX_CLOCK_OFFSET_SECS), Ok(()));
        assert_eq!(
            check_clock_offset(i64::MIN),
            Err(ConfigError::ClockOffset(i64::MIN))
        );
        assert_eq!(check_error_status("replies.x", 599), Ok(()));
        let err = check_error_status("replies.x", 200).expect_err("not an error");
        assert!(err.to_string().starts_with("replies.x is 200"), "{err}");
    }
}
