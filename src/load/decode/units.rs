//! Resource quantities: memory sizes (binary units, like docker's `RAMInBytes`) and CPU counts
//! (exact decimals to nano-CPUs, like docker's `ParseCPUs`).

/// `512M`, `1.5g`, `128MiB`, `1024kb`, `100` (bytes): docker's `RAMInBytes`. Units are powers
/// of 1024, case-insensitive, optionally followed by `b` or `ib` (`128Mi` alone is refused, as
/// docker refuses it).
pub fn parse_memory(text: &str) -> Result<i64, String> {
    let sep = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ');
    let Some(sep) = sep else {
        return Err(format!("invalid size {text:?}"));
    };
    let (number, suffix) = if text.as_bytes()[sep] == b' ' {
        (&text[..sep], &text[sep + 1..])
    } else {
        (&text[..=sep], &text[sep + 1..])
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}"))?;
    if value < 0.0 || !value.is_finite() {
        return Err(format!("invalid size {text:?}"));
    }
    let suffix = suffix.to_ascii_lowercase();
    let bad_suffix = || format!("invalid suffix {suffix:?} in size {text:?}");
    let shift = match suffix.as_bytes() {
        [] | [b'b'] => 0,
        [unit, rest @ ..] if rest.is_empty() || rest == b"b" || rest == b"ib" => match unit {
            b'k' => 10,
            b'm' => 20,
            b'g' => 30,
            b't' => 40,
            b'p' => 50,
            _ => return Err(bad_suffix()),
        },
        _ => return Err(bad_suffix()),
    };
    let bytes = value * 2f64.powi(shift);
    if bytes >= 9.2e18 {
        return Err(format!("size {text:?} is too large"));
    }
    Ok(bytes as i64)
}

/// `0.5` -> 500000000 nano-CPUs; also `1/2` and `5e-1`, as Go's `big.Rat` reads them for
/// docker's `ParseCPUs`. More precise than 1e-9 is an error.
pub fn parse_cpus(text: &str) -> Result<i64, String> {
    let bad = || format!("invalid CPU count {text:?}: use a decimal number such as `0.5` or `2`");
    let text = text.trim();
    // value = n * 10^e / d
    let (n, e, d) = if let Some((n, d)) = text.split_once('/') {
        // A fraction's parts are integers.
        (integer(n).ok_or_else(bad)?, 0, integer(d).ok_or_else(bad)?)
    } else {
        let (n, e) = parse_decimal(text).ok_or_else(bad)?;
        (n, e, 1)
    };
    if d == 0 {
        return Err(bad());
    }
    // nanos = n * 10^(e + 9) / d
    let scale = e + 9;
    let (numerator, denominator) = if scale >= 0 {
        let factor = 10i128.checked_pow(scale.unsigned_abs()).ok_or_else(bad)?;
        (n.checked_mul(factor).ok_or_else(bad)?, d)
    } else {
        let factor = 10i128.checked_pow(scale.unsigned_abs()).ok_or_else(bad)?;
        (n, d.checked_mul(factor).ok_or_else(bad)?)
    };
    if numerator % denominator != 0 {
        return Err(format!(
            "CPU count {text:?} is too precise: at most 9 decimal places"
        ));
    }
    i64::try_from(numerator / denominator).map_err(|_| bad())
}

fn integer(s: &str) -> Option<i128> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A non-negative decimal, optionally with an exponent, as `(digits, power of ten)`:
/// `1.25e1` -> (125, -1).
fn parse_decimal(s: &str) -> Option<(i128, i32)> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => {
            let exp = &s[at + 1..];
            let exp: i32 = exp.strip_prefix('+').unwrap_or(exp).parse().ok()?;
            (&s[..at], exp)
        }
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || int.len() + frac.len() > 30
        || exponent.abs() > 30
    {
        return None;
    }
    let digits: i128 = format!("{int}{frac}").parse().ok()?;
    Some((digits, exponent - i32::try_from(frac.len()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_uses_binary_units() {
        for (text, bytes) in [
            ("512M", 536_870_912),
            ("128MiB", 134_217_728),
            ("1g", 1_073_741_824),
            ("1.5G", 1_610_612_736),
            ("100", 100),
            ("64kb", 65_536),
            ("2 MB", 2_097_152),
        ] {
            assert_eq!(parse_memory(text), Ok(bytes), "{text}");
        }
        for bad in ["", "M", "12X", "1.5.5M", "-1M", "128Mi", "5kbb"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_are_exact() {
        assert_eq!(parse_cpus("0.5"), Ok(500_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_cpus("1/2"), Ok(500_000_000));
        assert_eq!(parse_cpus("0.000000001"), Ok(1));
        assert!(
            parse_cpus("0.0000000001")
                .unwrap_err()
                .contains("too precise")
        );
        assert_eq!(parse_cpus("5e-1"), Ok(500_000_000));
        assert_eq!(parse_cpus("+1.5E0"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("2e-9"), Ok(2));
        assert!(parse_cpus("1e-10").unwrap_err().contains("too precise"));
        assert!(parse_cpus("half").is_err());
        assert!(
            parse_cpus("1.5/2").is_err(),
            "a fraction's parts are integers"
        );
        assert!(parse_cpus("-1").is_err());
    }
}
