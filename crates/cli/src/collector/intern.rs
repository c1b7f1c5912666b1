//! Numbers for the distinct string tuples of one batch (a group, an arm key, an install id),
//! so the rollups key their increments on a few integers: an event adds several increments, and
//! hashing and comparing five strings for each of them was a quarter of the ingest writer's time.
//! A tuple is copied once, when first seen; consecutive events of one group (the usual batch)
//! hit the last tuple without hashing at all. The strings come from the network, so the hash is
//! std's randomly keyed SipHash: a batch crafted to collide cannot make the lookups quadratic.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Distinct `N`-string tuples, numbered from 0 in the order first seen.
pub struct Interner<const N: usize> {
    tuples: Vec<[String; N]>,
    /// Tuple hash -> the numbers of the tuples with that hash (more than one only on a collision).
    by_hash: HashMap<u64, Vec<u32>>,
    hasher: RandomState,
    last: Option<u32>,
}

impl<const N: usize> Default for Interner<N> {
    fn default() -> Self {
        Interner { tuples: Vec::new(), by_hash: HashMap::new(), hasher: RandomState::new(), last: None }
    }
}

impl<const N: usize> Interner<N> {
    /// The number of `cols`, given it if new.
    pub fn id(&mut self, cols: [&str; N]) -> u32 {
        let same = |t: &[String; N]| t.iter().zip(cols).all(|(a, b)| a == b);
        if let Some(id) = self.last.filter(|&id| same(&self.tuples[id as usize])) {
            return id;
        }
        let ids = self.by_hash.entry(self.hasher.hash_one(cols)).or_default();
        let id = match ids.iter().copied().find(|&id| same(&self.tuples[id as usize])) {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.tuples.len()).expect("under 4 billion distinct tuples in one batch");
                self.tuples.push(cols.map(str::to_string));
                ids.push(id);
                id
            }
        };
        self.last = Some(id);
        id
    }

    /// The tuple numbered `id`.
    pub fn get(&self, id: u32) -> &[String; N] {
        &self.tuples[id as usize]
    }

    /// How many distinct tuples there are.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.tuples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tuples_get_one_number_and_different_ones_their_own() {
        let mut groups = Interner::<2>::default();
        let a = groups.id(["mnist", "1.0.0"]);
        let b = groups.id(["mnist", "2.0.0"]);
        let owned = (String::from("mnist"), String::from("1.0.0"));
        assert_eq!(groups.id([&owned.0, &owned.1]), a, "the same strings elsewhere in memory");
        assert_eq!(groups.id(["mnist", "2.0.0"]), b);
        assert_ne!(a, b);
        // A tuple split differently is a different tuple.
        assert_ne!(groups.id(["mnist1", ".0.0"]), a);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups.get(b), &["mnist".to_string(), "2.0.0".to_string()]);
    }

    #[test]
    fn many_distinct_tuples_keep_their_numbers() {
        let mut ids = Interner::<1>::default();
        let names: Vec<String> = (0..10_000).map(|i| format!("install-{i}")).collect();
        let first: Vec<u32> = names.iter().map(|n| ids.id([n])).collect();
        let again: Vec<u32> = names.iter().rev().map(|n| ids.id([n])).collect();
        assert_eq!(first, again.into_iter().rev().collect::<Vec<_>>());
        assert_eq!(ids.len(), 10_000);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(&ids.get(first[i])[0], n);
        }
    }
}
