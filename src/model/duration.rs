//! Go-style durations (`1m30s`, `250ms`) as compose writes them and the Engine API counts them.

use std::fmt;

/// A duration in nanoseconds, as the Engine API carries it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Duration {
    #[must_use]
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Parse like Go's `time.ParseDuration`: a signed sequence of decimal numbers, each with a
    /// unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`); `0` alone needs no unit.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (negative, mut rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if rest == "0" {
            return Ok(Self(0));
        }
        if rest.is_empty() {
            return Err(format!("invalid duration {text:?}"));
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let number = &rest[..number_len];
            if number.is_empty() || number == "." || number.matches('.').count() > 1 {
                return Err(format!("invalid duration {text:?}"));
            }
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                "" => return Err(format!("missing unit in duration {text:?}")),
                unit => return Err(format!("unknown unit {unit:?} in duration {text:?}")),
            };
            rest = &rest[unit_len..];
            total += number
                .parse::<f64>()
                .map_err(|_| format!("invalid duration {text:?}"))?
                * scale;
        }
        if total > 9.223_372_036_854_775e18 {
            return Err(format!("invalid duration {text:?}: out of range"));
        }
        let nanos = total.round() as i64;
        Ok(Self(if negative { -nanos } else { nanos }))
    }
}

impl fmt::Display for Duration {
    /// Go's `Duration.String` shape for whole units: `1m30s`, `500ms`, `0s`.
    #[allow(clippy::many_single_char_names)] // h, m, s as Go names them
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        if n == 0 {
            return f.write_str("0s");
        }
        if n < 1_000_000_000 {
            let (v, unit) = match n {
                n if n % 1_000_000 == 0 => (n / 1_000_000, "ms"),
                n if n % 1_000 == 0 => (n / 1_000, "µs"),
                n => (n, "ns"),
            };
            return write!(f, "{sign}{v}{unit}");
        }
        let (h, m) = (n / 3_600_000_000_000, (n / 60_000_000_000) % 60);
        let s = (n % 60_000_000_000) as f64 / 1e9;
        write!(f, "{sign}")?;
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if h > 0 || m > 0 {
            write!(f, "{m}m")?;
        }
        write!(f, "{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::Duration;

    #[test]
    fn parses_go_durations() {
        for (text, nanos) in [
            ("0", 0),
            ("10s", 10_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("250ms", 250_000_000),
            ("2us", 2_000),
            ("-5s", -5_000_000_000),
            ("1h2m3s4ms", 3_723_004_000_000),
        ] {
            assert_eq!(Duration::parse(text), Ok(Duration(nanos)), "{text}");
        }
        for bad in ["", "10", "1d", "s", "1.2.3s", "abc"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_like_go() {
        assert_eq!(Duration(90_000_000_000).to_string(), "1m30s");
        assert_eq!(Duration(500_000_000).to_string(), "500ms");
        assert_eq!(Duration(0).to_string(), "0s");
        assert_eq!(Duration(3_600_000_000_000).to_string(), "1h0m0s");
    }
}
