//! Partitions of the projection (docs/scaling.md, "Partitions"): when one
//! projector is not enough, the read tables are folded by several, each
//! owning the organizations of one partition, with a checkpoint of its own.
//! Order matters only within an organization, so an organization never
//! spans two partitions.
//!
//! An organization's partition is a pure function of its id and the
//! partition count, computed alike by the relay (the routing key), the
//! projectors (which events they fold), the API (which checkpoint its
//! read-your-writes waits on) and PostgreSQL ([`BUCKET_SQL`]).

use uuid::Uuid;

/// The buckets organizations hash into. The relay routes each message by
/// its bucket, and a partition's queue binds the buckets it owns, so the
/// routing does not depend on the partition count: it is at most this.
pub const BUCKETS: u32 = 64;

/// [`bucket`] in SQL, over a column `org_id` (the same byte, the same
/// modulus).
pub const BUCKET_SQL: &str = "(get_byte(uuid_send(org_id), 15) % 64)";

/// The checkpoint name of the projection when it is not partitioned.
pub const WHOLE_CHECKPOINT: &str = "projector";

/// The bucket of an organization: its id's last byte, which is random in
/// version 4 and version 7 ids alike (a version 7 id's first bytes are a
/// timestamp, and would put every organization of one day together).
pub fn bucket(org_id: Uuid) -> u32 {
    u32::from(org_id.as_bytes()[15]) % BUCKETS
}

/// One partition of a projection split `count` ways; `count` 1 is the whole
/// projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partition {
    index: u32,
    count: u32,
}

/// A partition count or index that cannot be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    #[error("a projection splits into 1 to {BUCKETS} partitions, not {0}")]
    Count(u32),
    #[error(
        "the projection is split into {count} partition(s), numbered 0 to {}; there is no partition {index}",
        .count - 1
    )]
    Index { index: u32, count: u32 },
}

impl Partition {
    /// The projection, not split.
    pub const WHOLE: Partition = Partition { index: 0, count: 1 };

    /// Partition `index` (from 0) of `count`.
    pub fn new(index: u32, count: u32) -> Result<Partition, PartitionError> {
        check_count(count)?;
        if index >= count {
            return Err(PartitionError::Index { index, count });
        }
        Ok(Partition { index, count })
    }

    /// Every partition of a projection split `count` ways, in order.
    pub fn all(count: u32) -> Result<Vec<Partition>, PartitionError> {
        check_count(count)?;
        Ok((0..count).map(|index| Partition { index, count }).collect())
    }

    /// The partition that folds `org_id`'s events when the projection is
    /// split `count` ways (`count` checked by whoever made it).
    pub fn of(org_id: Uuid, count: u32) -> Partition {
        let count = count.clamp(1, BUCKETS);
        Partition {
            index: bucket(org_id) % count,
            count,
        }
    }

    pub fn index(self) -> u32 {
        self.index
    }

    pub fn count(self) -> u32 {
        self.count
    }

    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// Whether this partition folds `org_id`'s events.
    pub fn holds(self, org_id: Uuid) -> bool {
        Partition::of(org_id, self.count) == self
    }

    /// The buckets whose messages this partition's queue takes.
    pub fn buckets(self) -> impl Iterator<Item = u32> {
        (0..BUCKETS).filter(move |bucket| bucket % self.count == self.index)
    }

    /// Its row in `checkpoints`: `projector` for the whole projection,
    /// `projector.<index>/<count>` for a partition. The count is in the name
    /// so that a projector started for another split finds no row, rather
    /// than folding a different set of organizations under the same name.
    pub fn checkpoint_name(self) -> String {
        if self.is_whole() {
            WHOLE_CHECKPOINT.to_owned()
        } else {
            format!("{WHOLE_CHECKPOINT}.{}/{}", self.index, self.count)
        }
    }

    /// The partition a checkpoint row names, if it names one.
    pub fn from_checkpoint_name(name: &str) -> Option<Partition> {
        if name == WHOLE_CHECKPOINT {
            return Some(Partition::WHOLE);
        }
        let (index, count) = name
            .strip_prefix(WHOLE_CHECKPOINT)?
            .strip_prefix('.')?
            .split_once('/')?;
        let partition = Partition::new(index.parse().ok()?, count.parse().ok()?).ok()?;
        (partition.checkpoint_name() == name && !partition.is_whole()).then_some(partition)
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_whole() {
            f.write_str("the whole projection")
        } else {
            write!(f, "partition {} of {}", self.index, self.count)
        }
    }
}

/// Where each partition of the projection stands: what read-your-writes
/// waits on. A write is readable once its organization's partition has
/// folded its position; the other partitions need not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// By partition index; as many as the split has.
    positions: Vec<i64>,
}

impl Default for Projection {
    /// The whole projection at the start of the log.
    fn default() -> Projection {
        Projection { positions: vec![0] }
    }
}

impl Projection {
    /// The split as read from the checkpoints (`store::projection_split`).
    pub fn from_split(split: &[(Partition, i64)]) -> Projection {
        let mut projection = Projection {
            positions: vec![0; split.len().max(1)],
        };
        for &(partition, position) in split {
            projection.advance(partition, position);
        }
        projection
    }

    /// Whether the read tables hold `org_id`'s events up to `position`.
    pub fn holds(&self, org_id: Uuid, position: i64) -> bool {
        let partition = Partition::of(org_id, self.positions.len() as u32);
        self.positions[partition.index as usize] >= position
    }

    /// Where `partition` stands, if the split is the one it belongs to.
    pub fn position_of(&self, partition: Partition) -> Option<i64> {
        (self.positions.len() as u32 == partition.count)
            .then(|| self.positions[partition.index as usize])
    }

    /// Up to where every partition has folded every event.
    pub fn lowest(&self) -> i64 {
        self.positions.iter().copied().min().unwrap_or(0)
    }

    /// The furthest any partition has folded.
    pub fn highest(&self) -> i64 {
        self.positions.iter().copied().max().unwrap_or(0)
    }

    /// Moves `partition` forward (never back); says whether it moved. A
    /// partition of another split starts the positions afresh (the split
    /// changed): the others count from 0 until they are heard of.
    pub fn advance(&mut self, partition: Partition, position: i64) -> bool {
        if self.positions.len() as u32 != partition.count {
            self.positions = vec![0; partition.count as usize];
        }
        let current = &mut self.positions[partition.index as usize];
        let moved = position > *current;
        if moved {
            *current = position;
        }
        moved
    }
}

fn check_count(count: u32) -> Result<(), PartitionError> {
    if (1..=BUCKETS).contains(&count) {
        Ok(())
    } else {
        Err(PartitionError::Count(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_organization_falls_in_exactly_one_partition_of_each_split() {
        for count in [1, 2, 3, 7, 64] {
            for _ in 0..200 {
                let org_id = Uuid::new_v4();
                let holding: Vec<Partition> = Partition::all(count)
                    .unwrap()
                    .into_iter()
                    .filter(|partition| partition.holds(org_id))
                    .collect();
                assert_eq!(holding, vec![Partition::of(org_id, count)], "{count} ways");
            }
        }
    }

    #[test]
    fn each_bucket_is_bound_by_exactly_one_partition() {
        for count in [1, 2, 5, 64] {
            let mut bound: Vec<u32> = Partition::all(count)
                .unwrap()
                .into_iter()
                .flat_map(Partition::buckets)
                .collect();
            bound.sort_unstable();
            assert_eq!(bound, (0..BUCKETS).collect::<Vec<_>>(), "{count} ways");
        }
    }

    #[test]
    fn an_organization_routes_to_a_bucket_its_partition_binds() {
        for _ in 0..200 {
            let org_id = Uuid::now_v7();
            let partition = Partition::of(org_id, 3);
            assert!(
                partition
                    .buckets()
                    .any(|bucket| bucket == super::bucket(org_id))
            );
        }
    }

    #[test]
    fn version_7_ids_made_together_spread_over_the_partitions() {
        let mut seen = [0; 4];
        for _ in 0..400 {
            seen[Partition::of(Uuid::now_v7(), 4).index() as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 40), "{seen:?}");
    }

    #[test]
    fn checkpoint_names_read_back_as_their_partition() {
        for partition in Partition::all(1)
            .unwrap()
            .into_iter()
            .chain(Partition::all(5).unwrap())
        {
            assert_eq!(
                Partition::from_checkpoint_name(&partition.checkpoint_name()),
                Some(partition)
            );
        }
        assert_eq!(Partition::WHOLE.checkpoint_name(), "projector");
        assert_eq!(
            Partition::new(1, 2).unwrap().checkpoint_name(),
            "projector.1/2"
        );
    }

    #[test]
    fn names_that_are_not_a_partition_read_as_none() {
        for name in [
            "relay",
            "linker",
            "projector.",
            "projector.2/2",
            "projector.0/1",
            "projector.01/2",
            "projector.0/65",
            "projector.x/2",
            "projectors",
        ] {
            assert_eq!(Partition::from_checkpoint_name(name), None, "{name}");
        }
    }

    #[test]
    fn a_write_is_held_once_its_own_partition_has_folded_it() {
        let (first, second) = (Partition::new(0, 2).unwrap(), Partition::new(1, 2).unwrap());
        let org = std::iter::repeat_with(Uuid::new_v4)
            .find(|org| first.holds(*org))
            .unwrap();
        let mut projection = Projection::from_split(&[(first, 10), (second, 3)]);
        assert!(projection.holds(org, 10));
        assert!(!projection.holds(org, 11));
        assert_eq!(projection.lowest(), 3);
        assert!(projection.advance(second, 20));
        assert!(!projection.advance(second, 19), "never back");
        assert!(
            !projection.holds(org, 11),
            "the other partition's progress is not this one's"
        );
        assert!(projection.advance(first, 11));
        assert!(projection.holds(org, 11));
        assert_eq!(projection.position_of(second), Some(20));
        assert_eq!(projection.position_of(Partition::WHOLE), None);
    }

    #[test]
    fn a_new_split_starts_the_positions_afresh() {
        let mut projection = Projection::default();
        assert!(projection.advance(Partition::WHOLE, 50));
        assert!(projection.advance(Partition::new(2, 3).unwrap(), 60));
        assert_eq!(projection.lowest(), 0);
        assert_eq!(
            projection.position_of(Partition::new(2, 3).unwrap()),
            Some(60)
        );
    }

    #[test]
    fn impossible_splits_are_refused_with_what_is_possible() {
        assert_eq!(Partition::new(0, 0), Err(PartitionError::Count(0)));
        assert_eq!(Partition::all(65), Err(PartitionError::Count(65)));
        let error = Partition::new(2, 2).unwrap_err();
        assert_eq!(error, PartitionError::Index { index: 2, count: 2 });
        assert!(error.to_string().contains("numbered 0 to 1"), "{error}");
    }
}
