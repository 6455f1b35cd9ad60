//! Short volume syntax (`[source:]target[:options]`) as docker's volume-spec parser reads it.

use crate::load::node::Span;
use crate::model::{ServiceVolume, VolumeType};

/// Parse one short-syntax entry. Relative bind sources are resolved later, by the loader.
pub fn parse_short_volume(spec: &str, span: Span) -> Result<ServiceVolume, String> {
    let mut volume = ServiceVolume {
        kind: VolumeType::Volume,
        source: String::new(),
        target: String::new(),
        read_only: false,
        consistency: String::new(),
        bind_propagation: None,
        volume_nocopy: None,
        volume_subpath: String::new(),
        tmpfs_size: None,
        span,
    };
    match spec.chars().count() {
        0 => return Err("empty volume entry".into()),
        1 | 2 => {
            spec.clone_into(&mut volume.target);
            return Ok(volume);
        }
        _ => {}
    }
    let mut buffer = String::new();
    for c in spec.chars().map(Some).chain(std::iter::once(None)) {
        let is_drive = c == Some(':') && buffer.chars().count() == 1 && is_letter(&buffer);
        match c {
            Some(':') if !is_drive => populate(&mut volume, &buffer, false)?,
            None => populate(&mut volume, &buffer, true)?,
            Some(ch) => {
                buffer.push(ch);
                continue;
            }
        }
        buffer.clear();
    }
    if !volume.source.is_empty() && is_file_path(&volume.source) {
        volume.kind = VolumeType::Bind;
    }
    Ok(volume)
}

fn is_letter(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_alphabetic)
}

fn populate(volume: &mut ServiceVolume, buffer: &str, at_end: bool) -> Result<(), String> {
    if buffer.is_empty() {
        return Err("empty section between colons".into());
    }
    if volume.source.is_empty() && at_end {
        buffer.clone_into(&mut volume.target);
    } else if volume.source.is_empty() {
        buffer.clone_into(&mut volume.source);
    } else if volume.target.is_empty() {
        buffer.clone_into(&mut volume.target);
    } else if !at_end {
        return Err("too many colons".into());
    } else {
        for option in buffer.split(',') {
            match option {
                "ro" => volume.read_only = true,
                "rw" => volume.read_only = false,
                "nocopy" => volume.volume_nocopy = Some(true),
                "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                    volume.bind_propagation = Some(option.to_owned());
                }
                // docker ignores the rest silently (z, Z, cached, delegated, ...)
                _ => {}
            }
        }
    }
    Ok(())
}

fn is_file_path(source: &str) -> bool {
    let mut chars = source.chars();
    match chars.next() {
        Some('.' | '/' | '~') => true,
        Some(_) if source.starts_with(r"\\") => true,
        Some(first) => first.is_alphabetic() && chars.next() == Some(':'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::node::FileId;

    fn parse(spec: &str) -> ServiceVolume {
        parse_short_volume(spec, Span::new(FileId(0), 0, 0)).unwrap()
    }

    #[test]
    fn parses_like_docker() {
        let v = parse("/data");
        assert_eq!(
            (v.kind, v.source.as_str(), v.target.as_str()),
            (VolumeType::Volume, "", "/data")
        );
        let v = parse("db-data:/var/lib/db:ro");
        assert_eq!(
            (v.kind, v.source.as_str(), v.read_only),
            (VolumeType::Volume, "db-data", true)
        );
        let v = parse("./conf:/etc/app:ro,rshared,z");
        assert_eq!(v.kind, VolumeType::Bind);
        assert_eq!(v.bind_propagation.as_deref(), Some("rshared"));
        let v = parse("cache:/cache:nocopy");
        assert_eq!(v.volume_nocopy, Some(true));
        let v = parse(r"C:\data:/data");
        assert_eq!((v.kind, v.source.as_str()), (VolumeType::Bind, r"C:\data"));
    }

    #[test]
    fn rejects_malformed_specs() {
        for bad in ["", "ab::c", "/a:/b:ro:x", ":/x"] {
            assert!(
                parse_short_volume(bad, Span::new(FileId(0), 0, 0)).is_err(),
                "{bad}"
            );
        }
    }
}
