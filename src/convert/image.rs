//! Image references as the docker Go client rewrites them before sending: `:latest` added when
//! there is no tag or digest, Docker Hub names in their short ("familiar") form.

/// `nginx` -> `nginx:latest`; `docker.io/library/nginx:1` -> `nginx:1`; digests kept.
#[must_use]
pub fn normalize_image(image: &str) -> String {
    let familiar = familiar(image);
    let last = familiar.rsplit('/').next().unwrap_or(&familiar);
    if familiar.contains('@') || last.contains(':') {
        familiar
    } else {
        format!("{familiar}:latest")
    }
}

fn familiar(image: &str) -> String {
    let rest = image
        .strip_prefix("docker.io/")
        .or_else(|| image.strip_prefix("index.docker.io/"))
        .unwrap_or(image);
    match rest.strip_prefix("library/") {
        Some(short) if !short.contains('/') => short.to_owned(),
        _ => rest.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_image;

    #[test]
    fn like_the_go_client() {
        for (image, want) in [
            ("nginx", "nginx:latest"),
            ("nginx:1.25", "nginx:1.25"),
            ("docker.io/library/nginx", "nginx:latest"),
            ("docker.io/team/app:2", "team/app:2"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("reg.example.com/a/b:v1", "reg.example.com/a/b:v1"),
            ("app@sha256:abc", "app@sha256:abc"),
            ("stackctl-test/app:1", "stackctl-test/app:1"),
            ("library/redis", "redis:latest"),
        ] {
            assert_eq!(normalize_image(image), want, "{image}");
        }
    }
}
