//! Compose variable interpolation (`$VAR`, `${VAR:-default}`, …) exactly as docker CLI v28.2.2.
//!
//! docker's `cli/compose/template` is one case-insensitive regular expression,
//! `\$(?i:(\$)|(SUBST)|{(SUBST)}|())` with `SUBST = [_a-z][_a-z0-9]*(?::?[-?][^}]*)?`, applied with
//! Go's `ReplaceAllStringFunc`, followed by a "does the text contain this operator" test. This
//! module reproduces that matcher by hand rather than with a regex engine, so every quirk is
//! explicit here and pinned by a test:
//!
//! * The operator is chosen by a substring test on the whole text after `$`/inside the braces, in
//!   the fixed order `:-`, `-`, `:?`, `?`; the text is split at the first occurrence. So a `-`
//!   anywhere beats `:?`: `${SET:?must-be-set}` looks up the variable `SET:?must` (never set) and
//!   yields `be-set`.
//! * The unbraced form takes operators too and then swallows everything up to the next `}` (or
//!   the end of the string): `$REG-suffix/app` is `REG` with default `suffix/app`.
//! * Defaults are literal, never interpolated again; `[^}]*` stops at the first `}`, so
//!   `${X:-${Y}}` with X unset is `${Y` followed by the literal `}`.
//! * Names are `[_a-zA-Z][_a-zA-Z0-9]*` plus the two non-ASCII characters Go's case folding adds
//!   to `[a-z]` under `(?i)`: `ſ` (U+017F, folds to `s`) and `K` (U+212A KELVIN SIGN, folds to `k`).
//! * Error state is a single variable that every non-`$$` match overwrites: a later successful
//!   substitution clears an earlier error. `$1 $FOO` is therefore accepted (giving `1 <FOO>`),
//!   while `$FOO $1` is an error. Only the error left standing at the end is reported.

use std::fmt;

/// Why a string could not be interpolated. `Display` gives docker's wording for the inner part;
/// docker wraps it as `invalid interpolation format for <path>: "<inner>"; you may need to
/// escape any $ with another $` (for `Invalid` the quoted part is the whole input string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpolateError {
    /// a `$` that starts no valid substitution; `offset` = byte offset of that `$` in the input
    Invalid { offset: usize },
    /// `${V:?msg}` / `${V?msg}` failed; offset/len = byte range of the whole `${...}` expression
    Required {
        var: String,
        message: String,
        offset: usize,
        len: usize,
    },
}

impl fmt::Display for InterpolateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid { .. } => f.write_str("invalid interpolation format"),
            Self::Required { var, message, .. } => {
                write!(f, "required variable {var} is missing a value: {message}")
            }
        }
    }
}

impl std::error::Error for InterpolateError {}

/// Substitute variables in `input`; `lookup` returns the value of a variable if set.
///
/// `lookup` is called with exactly the name docker would look up, which for quirky inputs is not
/// an identifier (`${SET:?must-be-set}` looks up `SET:?must`).
///
/// # Errors
///
/// [`InterpolateError::Invalid`] for a `$` that starts no valid form and
/// [`InterpolateError::Required`] for a failed `:?`/`?` check, but only if no later substitution
/// in `input` cleared it (see the module doc).
pub fn interpolate(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(input.len());
    // docker keeps one `err` variable that each match overwrites (see the module doc), so the
    // outcome is whatever the last non-escape match left behind.
    let mut pending: Option<InterpolateError> = None;
    let mut pos = 0;
    for m in matches(input) {
        out.push_str(&input[pos..m.start]);
        pos = m.end;
        match m.kind {
            Kind::Escaped => out.push('$'),
            Kind::Invalid => {
                pending = Some(InterpolateError::Invalid { offset: m.start });
            }
            Kind::Substitution(body) => match substitute(body, lookup) {
                Ok(value) => {
                    pending = None;
                    out.push_str(&value);
                }
                Err((var, message)) => {
                    pending = Some(InterpolateError::Required {
                        var: var.to_owned(),
                        message: message.to_owned(),
                        offset: m.start,
                        len: m.end - m.start,
                    });
                }
            },
        }
    }
    out.push_str(&input[pos..]);
    match pending {
        Some(err) => Err(err),
        None => Ok(out),
    }
}

/// Names of variables `input` refers to (for diagnostics: "variable X is used here").
///
/// These are the names [`interpolate`] passes to `lookup`, in order of first appearance and
/// without duplicates. They follow the substitution's operator order, not docker's
/// `ExtractVariables` (which tests `:?` first), because diagnostics must explain what
/// interpolation actually did: `${SET:?must-be-set}` yields `SET:?must`, which the caller can
/// flag as "not a variable name". `$$` and invalid `$` forms contribute nothing.
#[must_use]
pub fn referenced_variables(input: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for m in matches(input) {
        if let Kind::Substitution(body) = m.kind {
            let name = split_operator(body).0;
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// What one `$` match is, in the terms of docker's regex groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind<'a> {
    /// `$$` (group `escaped`).
    Escaped,
    /// The text of group `named` (after `$`) or `braced` (inside `${…}`).
    Substitution(&'a str),
    /// The empty `invalid` group: only the `$` itself is consumed.
    Invalid,
}

#[derive(Clone, Copy, Debug)]
struct Match<'a> {
    start: usize,
    end: usize,
    kind: Kind<'a>,
}

/// Successive non-overlapping matches, leftmost first, as Go's `ReplaceAllStringFunc` finds
/// them. Every `$` not consumed by a previous match starts one, because the `invalid`
/// alternative matches the empty string.
fn matches(input: &str) -> impl Iterator<Item = Match<'_>> {
    let mut from = 0;
    std::iter::from_fn(move || {
        let start = from + input[from..].find('$')?;
        let m = match_at(input, start);
        from = m.end;
        Some(m)
    })
}

/// The match starting at the `$` at byte `start`, trying the alternatives in the regex's order.
fn match_at(input: &str, start: usize) -> Match<'_> {
    let after = &input[start + 1..];
    if after.starts_with('$') {
        return Match {
            start,
            end: start + 2,
            kind: Kind::Escaped,
        };
    }
    if let Some(len) = subst_len(after) {
        let body = &after[..len];
        return Match {
            start,
            end: start + 1 + len,
            kind: Kind::Substitution(body),
        };
    }
    if let Some(inner) = after.strip_prefix('{') {
        // `{SUBST}`: SUBST stops at a `}` or at the end of the string; only the former closes.
        if let Some(len) = subst_len(inner).filter(|&len| inner[len..].starts_with('}')) {
            let body = &inner[..len];
            return Match {
                start,
                end: start + 1 + 1 + len + 1,
                kind: Kind::Substitution(body),
            };
        }
    }
    Match {
        start,
        end: start + 1,
        kind: Kind::Invalid,
    }
}

/// Length of the longest `[_a-z][_a-z0-9]*(?::?[-?][^}]*)?` (case-insensitive) at the start of
/// `text`, or `None` if `text` does not start with a name. Greedy everywhere: no shorter name
/// could let the operator group match, since it must be followed by `:`, `-` or `?`, none of
/// which is a name character.
fn subst_len(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    if !is_name_start(first) {
        return None;
    }
    let name_end = chars
        .find(|&(_, c)| !is_name_char(c))
        .map_or(text.len(), |(i, _)| i);
    let rest = &text[name_end..];
    let op_len = if rest.starts_with(":-") || rest.starts_with(":?") {
        2
    } else if rest.starts_with('-') || rest.starts_with('?') {
        1
    } else {
        return Some(name_end);
    };
    let tail_start = name_end + op_len;
    // `[^}]*` also crosses newlines (a negated class matches `\n` in Go).
    Some(
        text[tail_start..]
            .find('}')
            .map_or(text.len(), |i| tail_start + i),
    )
}

/// `[_a-z]` under Go's `(?i)`: Unicode simple case folding adds `A-Z`, U+017F and U+212A.
fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic() || c == '\u{17F}' || c == '\u{212A}'
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

/// The operators, in the order docker's `DefaultSubstituteFuncs` tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    /// `:-` default when unset or empty.
    SoftDefault,
    /// `-` default when unset.
    HardDefault,
    /// `:?` error when unset or empty.
    RequiredNonEmpty,
    /// `?` error when unset.
    Required,
}

/// Splits a substitution body into (name, operator, argument) the way docker does: the first
/// operator in the fixed order that occurs *anywhere* in the body wins, split at its first
/// occurrence.
fn split_operator(body: &str) -> (&str, Option<(Operator, &str)>) {
    const ORDER: [(&str, Operator); 4] = [
        (":-", Operator::SoftDefault),
        ("-", Operator::HardDefault),
        (":?", Operator::RequiredNonEmpty),
        ("?", Operator::Required),
    ];
    for (sep, op) in ORDER {
        if let Some((name, arg)) = body.split_once(sep) {
            return (name, Some((op, arg)));
        }
    }
    (body, None)
}

/// Evaluates one substitution body; `Err((name, message))` for a failed required check.
fn substitute<'a>(
    body: &'a str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, (&'a str, &'a str)> {
    let (name, op) = split_operator(body);
    let value = lookup(name);
    match op {
        // An unset variable without operator is silently empty, as in docker.
        None => Ok(value.unwrap_or_default()),
        Some((Operator::SoftDefault, default)) => Ok(value
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned())),
        Some((Operator::HardDefault, default)) => Ok(value.unwrap_or_else(|| default.to_owned())),
        Some((Operator::RequiredNonEmpty, message)) => {
            value.filter(|v| !v.is_empty()).ok_or((name, message))
        }
        Some((Operator::Required, message)) => value.ok_or((name, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment every table row runs against.
    fn env(name: &str) -> Option<String> {
        let value = match name {
            "SET" => "val",
            "EMPTY" => "",
            "REG" => "myreg",
            "HOST" => "h",
            "X" => "x",
            "x" => "lower",
            "Y" => "y",
            "_U9" => "u9",
            "\u{17F}" => "long-s",
            "\u{212A}" => "kelvin",
            _ => return None,
        };
        Some(value.to_owned())
    }

    fn required(var: &str, message: &str, offset: usize, len: usize) -> InterpolateError {
        InterpolateError::Required {
            var: var.to_owned(),
            message: message.to_owned(),
            offset,
            len,
        }
    }

    /// Every row was checked against the unmodified v28.2.2 `template.Substitute` (Go harness)
    /// with the environment of [`env`].
    #[test]
    fn interpolation_table() {
        use InterpolateError::Invalid;
        let cases: &[(&str, Result<&str, InterpolateError>)] = &[
            // Plain forms.
            ("no variables", Ok("no variables")),
            ("", Ok("")),
            ("$SET", Ok("val")),
            ("${SET}", Ok("val")),
            ("$UNSET", Ok("")),
            ("${UNSET}", Ok("")),
            ("pre$SET.post", Ok("preval.post")),
            ("${SET}${X}", Ok("valx")),
            ("$_U9", Ok("u9")),
            // The lookup is case-sensitive even though the matcher is not.
            ("$x/$X", Ok("lower/x")),
            // `:-` default when unset or empty.
            ("${UNSET:-def}", Ok("def")),
            ("${EMPTY:-def}", Ok("def")),
            ("${SET:-def}", Ok("val")),
            ("${UNSET:-}", Ok("")),
            // `-` default only when unset.
            ("${UNSET-def}", Ok("def")),
            ("${EMPTY-def}", Ok("")),
            ("${SET-def}", Ok("val")),
            // `:?` and `?`.
            ("${SET:?msg}", Ok("val")),
            ("${UNSET:?msg}", Err(required("UNSET", "msg", 0, 13))),
            ("${EMPTY:?msg}", Err(required("EMPTY", "msg", 0, 13))),
            ("${EMPTY?msg}", Ok("")),
            ("${UNSET?msg}", Err(required("UNSET", "msg", 0, 12))),
            ("a ${UNSET:?} b", Err(required("UNSET", "", 2, 10))),
            (
                "${UNSET:?two words}",
                Err(required("UNSET", "two words", 0, 19)),
            ),
            // `$$` escapes.
            ("$$", Ok("$")),
            ("$$SET", Ok("$SET")),
            ("$${SET}", Ok("${SET}")),
            ("$$$SET", Ok("$val")),
            ("$$1", Ok("$1")),
            // Quirk 1: a hyphen anywhere beats `:?` / `?`; the name becomes `SET:?must`.
            ("${SET:?must-be-set}", Ok("be-set")),
            ("${UNSET:?must-be-set}", Ok("be-set")),
            ("${UNSET?a-b}", Ok("b")),
            // `:-` wins over everything and splits at its first occurrence.
            ("${SET:-a:-b}", Ok("val")),
            ("${UNSET:-a:-b}", Ok("a:-b")),
            ("${UNSET:?x:-y}", Ok("y")),
            ("${UNSET-a?b}", Ok("a?b")),
            // Quirk 2: the unbraced form takes operators and swallows up to the next `}`.
            ("$REG-suffix/app", Ok("myreg")),
            ("$UNSET-suffix/app", Ok("suffix/app")),
            ("$REG?x", Ok("myreg")),
            ("$UNSET?x y", Err(required("UNSET", "x y", 0, 10))),
            ("$UNSET:-a b}c", Ok("a b}c")),
            ("$REG-x\ny", Ok("myreg")),
            // ...but only when the operator follows the name directly.
            ("$HOST:8080", Ok("h:8080")),
            ("${REG}-suffix", Ok("myreg-suffix")),
            ("$SET:", Ok("val:")),
            ("$SET!", Ok("val!")),
            // Quirk 3: defaults are literal; the inner `}` ends the expression.
            ("${UNSET:-${Y}}", Ok("${Y}")),
            ("${X:-${Y}}", Ok("x}")),
            ("${UNSET:-$SET}", Ok("$SET")),
            // Invalid `$` forms.
            ("$1", Err(Invalid { offset: 0 })),
            ("5$", Err(Invalid { offset: 1 })),
            ("$", Err(Invalid { offset: 0 })),
            ("${", Err(Invalid { offset: 0 })),
            ("${}", Err(Invalid { offset: 0 })),
            ("${ x}", Err(Invalid { offset: 0 })),
            ("${x!}", Err(Invalid { offset: 0 })),
            ("${SET:}", Err(Invalid { offset: 0 })),
            ("${SET:-unclosed", Err(Invalid { offset: 0 })),
            ("${1}", Err(Invalid { offset: 0 })),
            ("echo $1", Err(Invalid { offset: 5 })),
            ("a $ b", Err(Invalid { offset: 2 })),
            ("$SET $1", Err(Invalid { offset: 5 })),
            // Quirk 4: a later successful substitution clears an earlier error (docker assigns
            // every substitution's result to one shared `err`); `$$` does not clear it.
            ("$1 $SET", Ok("1 val")),
            ("${UNSET:?m} $SET", Ok(" val")),
            ("${UNSET:?m} $UNSET2", Ok(" ")),
            ("$1 ${UNSET:?m}", Err(required("UNSET", "m", 3, 11))),
            ("$1 $$", Err(Invalid { offset: 0 })),
            ("${UNSET:?m} $1", Err(Invalid { offset: 12 })),
            // Quirk 5: Go's `(?i)` folding makes U+017F and U+212A name characters.
            ("$\u{17F} $\u{212A}", Ok("long-s kelvin")),
            ("$\u{212A}1", Ok("")),
            // Other non-ASCII text passes through; a non-ASCII name start is invalid.
            ("ünïcode $SET", Ok("ünïcode val")),
            ("$é", Err(Invalid { offset: 0 })),
        ];
        for (input, want) in cases {
            let got = interpolate(input, &env);
            let want = want.clone().map(str::to_owned);
            assert_eq!(got, want, "input {input:?}");
        }
    }

    #[test]
    fn lookup_receives_docker_names() {
        // `${SET:?must-be-set}` asks for `SET:?must`; a lookup that answers gets its value used.
        let lookup = |name: &str| (name == "SET:?must").then(|| "odd".to_owned());
        assert_eq!(
            interpolate("${SET:?must-be-set}", &lookup),
            Ok("odd".to_owned())
        );
    }

    #[test]
    fn display_matches_docker_wording() {
        assert_eq!(
            InterpolateError::Invalid { offset: 3 }.to_string(),
            "invalid interpolation format"
        );
        assert_eq!(
            required("UNSET_VAR", "mustbeset", 0, 1).to_string(),
            "required variable UNSET_VAR is missing a value: mustbeset"
        );
        assert_eq!(
            required("V", "", 0, 1).to_string(),
            "required variable V is missing a value: "
        );
    }

    #[test]
    fn referenced_variables_table() {
        let cases: &[(&str, &[&str])] = &[
            ("plain", &[]),
            (
                "$A ${B} ${C:-d} ${D-e} ${E:?f} ${F?g}",
                &["A", "B", "C", "D", "E", "F"],
            ),
            ("$A $A ${A}", &["A"]),
            ("$$A $1 ${ x}", &[]),
            ("${SET:?must-be-set}", &["SET:?must"]),
            // The unbraced operator form swallows `$HOST` as part of its default.
            ("$REG-suffix/app $HOST:80", &["REG"]),
            ("$REG:80 $HOST", &["REG", "HOST"]),
            ("${X:-${Y}}", &["X"]),
            ("${B} $A", &["B", "A"]),
        ];
        for (input, want) in cases {
            assert_eq!(referenced_variables(input), *want, "input {input:?}");
        }
    }
}
