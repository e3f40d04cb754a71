//! The commercial, GovCloud and China regions and their availability zones, as AWS lists them
//! (EC2 DescribeAvailabilityZones, zone names; an account sees a subset of a region's zones).
//! Static on purpose: `validate` makes no AWS call. A region AWS opens later is refused until
//! this table learns it, with a message saying so.

use super::Problem;

/// Region -> the letters of its availability zones (`us-east-1` + `a` = `us-east-1a`).
const REGIONS: &[(&str, &str)] = &[
    ("af-south-1", "abc"),
    ("ap-east-1", "abc"),
    ("ap-east-2", "abc"),
    ("ap-northeast-1", "abcd"),
    ("ap-northeast-2", "abcd"),
    ("ap-northeast-3", "abc"),
    ("ap-south-1", "abc"),
    ("ap-south-2", "abc"),
    ("ap-southeast-1", "abc"),
    ("ap-southeast-2", "abc"),
    ("ap-southeast-3", "abc"),
    ("ap-southeast-4", "abc"),
    ("ap-southeast-5", "abc"),
    ("ap-southeast-6", "abc"),
    ("ap-southeast-7", "abc"),
    ("ca-central-1", "abd"),
    ("ca-west-1", "abc"),
    ("cn-north-1", "abd"),
    ("cn-northwest-1", "abc"),
    ("eu-central-1", "abc"),
    ("eu-central-2", "abc"),
    ("eu-north-1", "abc"),
    ("eu-south-1", "abc"),
    ("eu-south-2", "abc"),
    ("eu-west-1", "abc"),
    ("eu-west-2", "abc"),
    ("eu-west-3", "abc"),
    ("il-central-1", "abc"),
    ("me-central-1", "abc"),
    ("me-south-1", "abc"),
    ("mx-central-1", "abc"),
    ("sa-east-1", "abc"),
    ("us-east-1", "abcdef"),
    ("us-east-2", "abc"),
    ("us-gov-east-1", "abc"),
    ("us-gov-west-1", "abc"),
    ("us-west-1", "abc"),
    ("us-west-2", "abcd"),
];

pub fn names() -> impl Iterator<Item = &'static str> {
    REGIONS.iter().map(|(r, _)| *r)
}

pub fn is_region(name: &str) -> bool {
    REGIONS.iter().any(|(r, _)| *r == name)
}

/// The availability zones of a known region.
pub fn zones(region: &str) -> Option<Vec<String>> {
    let (_, letters) = REGIONS.iter().find(|(r, _)| *r == region)?;
    Some(letters.chars().map(|c| format!("{region}{c}")).collect())
}

/// The region an availability zone name belongs to (`eu-west-1a` -> `eu-west-1`; a Local Zone
/// `us-east-1-bos-1a` -> `us-east-1`), when the name has the shape of one.
pub fn region_of_zone(zone: &str) -> Option<&'static str> {
    names().filter(|r| zone.len() > r.len() && zone.starts_with(r)).max_by_key(|r| r.len())
}

/// Why `zone` (the value at `path`) cannot be used in `region`, or None when it can. A Local or
/// Wavelength Zone of the region (`us-east-1-bos-1a`) is accepted: whether the account opted in
/// is AWS's to say.
pub fn zone_problem(region: &str, zone: &str, path: &str) -> Option<Problem> {
    let zones = zones(region)?;
    if zones.iter().any(|z| z == zone) {
        return None;
    }
    let local = zone.strip_prefix(region).and_then(|rest| rest.strip_prefix('-')).is_some_and(|rest| {
        let b = rest.as_bytes();
        rest.split('-').count() == 2
            && b.last().is_some_and(u8::is_ascii_lowercase)
            && rest.split('-').next().is_some_and(|g| !g.is_empty() && g.bytes().all(|c| c.is_ascii_lowercase()))
    });
    if local {
        return None;
    }
    let listed = zones.join(", ");
    let message = match region_of_zone(zone) {
        Some(other) if other != region => {
            format!("availability zone `{zone}` is in {other}, not in the stack's region {region}")
        }
        _ => format!("`{zone}` is not an availability zone of {region}"),
    };
    Some(Problem::new(path, message).help(format!("{region} has {listed}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_of_regions() {
        assert_eq!(zone_problem("us-east-1", "us-east-1a", "az"), None);
        assert_eq!(zone_problem("us-east-1", "us-east-1-bos-1a", "az"), None);
        let p = zone_problem("us-east-1", "eu-west-1a", "az").unwrap();
        assert_eq!(p.message, "availability zone `eu-west-1a` is in eu-west-1, not in the stack's region us-east-1");
        assert_eq!(
            p.help.unwrap(),
            "us-east-1 has us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1e, us-east-1f"
        );
        let p = zone_problem("us-east-2", "us-east-2d", "az").unwrap();
        assert!(p.message.contains("not an availability zone of us-east-2"), "{p:?}");
        assert!(zone_problem("us-east-1", "us-east-1z", "az").is_some());
        assert_eq!(region_of_zone("ap-southeast-1a"), Some("ap-southeast-1"));
        assert_eq!(region_of_zone("us-gov-west-1b"), Some("us-gov-west-1"));
        assert!(is_region("eu-central-2") && !is_region("eu-central-9"));
    }
}
