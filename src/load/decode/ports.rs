//! Short port syntax (`[ip:][published:]target[/proto]`, with ranges) -> port entries, as
//! docker's port-spec parser expands it.

use std::net::IpAddr;

use crate::model::Port;

/// Expand one short-syntax port entry. A host IP is accepted and dropped (Swarm publishes on
/// all addresses); the caller warns about it when `Ok((_, true))`.
pub fn parse_port_spec(raw: &str) -> Result<(Vec<Port>, bool), String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (ip, host, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (container, proto) = match container.split_once('/') {
        Some((port, "")) => (port, "tcp".to_owned()),
        Some((port, proto)) => (
            port,
            proto.split('/').next().unwrap_or(proto).to_lowercase(),
        ),
        None => (container, "tcp".to_owned()),
    };
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .map_or(ip.clone(), str::to_owned);
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address {ip:?}"));
    }
    if container.is_empty() {
        return Err(format!("no container port in {raw:?}"));
    }
    let (start, end) =
        port_range(container).ok_or_else(|| format!("invalid container port {container:?}"))?;
    let (host_start, host_end) = if host.is_empty() {
        (0, 0)
    } else {
        port_range(host).ok_or_else(|| format!("invalid published port {host:?}"))?
    };
    if !host.is_empty() && end - start != host_end - host_start && end != start {
        return Err(format!(
            "port ranges differ in length: published {host} and container {container}"
        ));
    }
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {proto:?}: use tcp, udp or sctp"));
    }
    // docker orders the expanded container ports by their "port/proto" text.
    let mut targets: Vec<u32> = (start..=end).collect();
    targets.sort_by_key(|p| format!("{p}/{proto}"));
    let mut expanded = Vec::new();
    for target in targets {
        let published: Vec<u32> = if host.is_empty() {
            vec![0]
        } else if start == end {
            (host_start..=host_end).collect()
        } else {
            vec![host_start + (target - start)]
        };
        for published in published {
            let mode = "ingress".to_owned();
            expanded.push(Port {
                mode,
                target,
                published,
                protocol: proto.clone(),
            });
        }
    }
    let has_ip = ip.parse::<IpAddr>().is_ok_and(|ip| !ip.is_unspecified());
    Ok((expanded, has_ip))
}

fn port_range(text: &str) -> Option<(u32, u32)> {
    let parse = |s: &str| s.parse::<u16>().ok().map(u32::from);
    match text.split_once('-') {
        None => parse(text).map(|p| (p, p)),
        Some((a, b)) => {
            let (start, end) = (parse(a)?, parse(b.split('-').next()?)?);
            (end >= start).then_some((start, end))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(raw: &str) -> Vec<(u32, u32, String)> {
        let (ports, _) = parse_port_spec(raw).unwrap();
        ports
            .into_iter()
            .map(|p| (p.published, p.target, p.protocol))
            .collect()
    }

    #[test]
    fn expands_short_syntax_like_docker() {
        assert_eq!(ports("80"), [(0, 80, "tcp".into())]);
        assert_eq!(ports("8080:80"), [(8080, 80, "tcp".into())]);
        assert_eq!(ports("53:53/UDP"), [(53, 53, "udp".into())]);
        assert_eq!(ports("127.0.0.1:9000:9000"), [(9000, 9000, "tcp".into())]);
        assert_eq!(
            ports("9090-9091:8080-8081"),
            [(9090, 8080, "tcp".into()), (9091, 8081, "tcp".into())]
        );
        assert_eq!(
            ports("8000-8001:80"),
            [(8000, 80, "tcp".into()), (8001, 80, "tcp".into())]
        );
        assert_eq!(ports("[::1]:80:80"), [(80, 80, "tcp".into())]);
        assert!(parse_port_spec("127.0.0.1:9000:9000").unwrap().1);
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "",
            "abc",
            "80:",
            "70000",
            "80/xyz",
            "1.2.3:80:80",
            "10-5",
            "8000-8002:80-81",
        ] {
            assert!(parse_port_spec(bad).is_err(), "{bad}");
        }
    }
}
