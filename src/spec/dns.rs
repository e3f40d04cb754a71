//! DNS names as Route 53 and ACM compare them: the shape every name must have, and which names
//! lie inside a domain (a record in its zone, a certificate's names in the zone its validation
//! records go to).
//! https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html

/// A name as compared: lowercase, without the trailing dot, `\052` (Route 53's escape of `*`)
/// as `*`.
pub fn canonical(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase().replace("\\052", "*")
}

/// Whether `name` is `domain` or a name under it.
pub fn within(name: &str, domain: &str) -> bool {
    let (name, domain) = (canonical(name), canonical(domain));
    name == domain || name.strip_suffix(&domain).is_some_and(|head| head.ends_with('.'))
}

/// What makes `name` no DNS name at all, as the DNS protocol limits it (RFC 1035 2.3.4): an
/// empty label (`a..b`, a leading dot), a label over 63 octets, more than 253 octets in all.
/// Names with other escapes (`\ddd`) are left to Route 53.
pub fn shape_problem(name: &str) -> Option<String> {
    let n = name.trim().strip_suffix('.').unwrap_or(name.trim());
    if n.contains('\\') {
        return None;
    }
    if n.is_empty() {
        return Some("the name is empty".into());
    }
    if let Some(label) = n.split('.').find(|l| l.len() > 63) {
        return Some(format!("its label `{label}` is {} octets; DNS allows at most 63", label.len()));
    }
    if n.split('.').any(str::is_empty) {
        return Some("it has an empty label (two dots in a row, or a leading dot)".into());
    }
    (n.len() > 253).then(|| format!("it is {} octets long; DNS allows at most 253", n.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_a_domain() {
        assert!(within("Example.com.", "example.com"));
        assert!(within("app.example.com", "example.com."));
        assert!(within("\\052.example.com", "example.com"));
        assert!(!within("badexample.com", "example.com"));
        assert!(!within("example.org", "example.com"));
        assert!(!within("com", "example.com"));
    }

    #[test]
    fn shapes_of_names() {
        assert_eq!(shape_problem("example.com."), None);
        assert_eq!(shape_problem(&format!("{}.com", "a".repeat(63))), None);
        assert!(shape_problem(&format!("{}.com", "a".repeat(64))).unwrap().contains("64 octets"));
        assert!(shape_problem("a..com").unwrap().contains("empty label"));
        assert!(shape_problem(".a.com").unwrap().contains("empty label"));
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(shape_problem(&long).unwrap().contains("304 octets"));
        assert_eq!(shape_problem("\\100.example.com"), None);
    }
}
