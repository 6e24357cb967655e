//! `--shard K/N`: a deterministic partition of the images by name, for running one model
//! across machines.

/// One part of a deterministic partition of the image list, for running a model across machines:
/// image `name` belongs to shard `K` of `N` when the first 8 bytes of sha256(name), read as a
/// big-endian integer, are `K` modulo `N`. It depends on the basename only, so every layout of the
/// same images gives every shard the same images, and shards of ImageNet are nearly equal in size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` with `0 <= K < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard takes K/N with 0 <= K < N (e.g. 0/8), not {}",
                crate::util::escape::quote(text)
            )
        };
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            index.trim().parse().map_err(|_| bad())?,
            count.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub fn of(name: &str, count: u32) -> u32 {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(name.as_bytes());
        let head = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
        (head % u64::from(count)) as u32
    }

    pub fn contains(&self, name: &str) -> bool {
        Shard::of(name, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::labels;

    #[test]
    fn shards_partition_every_image_exactly_once() {
        let names: Vec<String> = (1..=5000).map(labels::val_file_name).collect();
        let shards: Vec<Shard> = (0..7)
            .map(|k| Shard::parse(&format!("{k}/7")).unwrap())
            .collect();
        let mut sizes = [0usize; 7];
        for name in &names {
            let owners: Vec<usize> = (0..7).filter(|&k| shards[k].contains(name)).collect();
            assert_eq!(owners.len(), 1, "{name}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| (600..830).contains(&n)), "{sizes:?}");
        for bad in ["7/7", "1", "a/b", "0/0", "-1/3"] {
            assert!(Shard::parse(bad).unwrap_err().contains("K/N"), "{bad}");
        }
        assert_eq!(Shard::parse("2/8").unwrap().to_string(), "2/8");
    }
}
