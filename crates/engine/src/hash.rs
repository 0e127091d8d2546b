/// SHA-256 of a value's JSON form, hex-encoded. Kontor's canonical types use ordered maps,
/// so equal content always hashes the same: an unchanged record is not sent again.
pub fn content_hash<T: serde::Serialize + ?Sized>(value: &T) -> String {
    use sha2::{Digest, Sha256};
    // Serializing plain data to JSON cannot fail; hash the error text if it ever does so
    // the record is treated as changed rather than silently skipped.
    let bytes = serde_json::to_vec(value).unwrap_or_else(|e| e.to_string().into_bytes());
    hex::encode(Sha256::digest(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn equal_content_hashes_equal_and_changes_show() {
        let a: BTreeMap<_, _> = [("b", 2), ("a", 1)].into();
        let b: BTreeMap<_, _> = [("a", 1), ("b", 2)].into();
        assert_eq!(content_hash(&a), content_hash(&b));
        let c: BTreeMap<_, _> = [("a", 1), ("b", 3)].into();
        assert_ne!(content_hash(&a), content_hash(&c));
    }
}
