//! The children's shares of the users, and their results files checked and merged into the
//! parent's summary.

use std::path::Path;

use crate::metrics::summary::Summary;
use crate::shard::Shard;

/// Shard `j` of `n` of the parent's share: the users `u` with `u % (M·n) == i + M·j`, where the
/// parent is shard `i` of `M`; together the children run exactly the parent's users.
pub fn sub_shard(parent: Shard, j: u32, n: u32) -> Shard {
    Shard {
        index: parent.index + parent.count * j,
        count: parent.count * n,
    }
}

/// Checks the children's results as `merge` checks files, and that together they are exactly
/// the parent's share (the other generators' shards are absent by design), then adds them up.
pub(super) fn merge_parts(parts: &[Summary], parent: Shard, n: u32) -> Result<Summary, String> {
    use crate::metrics::merge::check;
    let labels: Vec<String> = (1..=parts.len()).map(|j| format!("process {j}")).collect();
    let inputs: Vec<check::Input<'_>> = parts
        .iter()
        .zip(&labels)
        .map(|(summary, label)| check::Input {
            label,
            summary,
            bytes: None,
        })
        .collect();
    let coverage = check::check(&inputs).map_err(|e| e.to_string())?;
    let expected: Vec<Shard> = (0..n).map(|j| sub_shard(parent, j, n)).collect();
    let covered = |s: &Shard| !coverage.missing.contains(s);
    let all = (0..coverage.count).map(|index| Shard {
        index,
        count: coverage.count,
    });
    if parent.count.checked_mul(n) != Some(coverage.count)
        || !all.filter(covered).eq(expected.iter().copied())
    {
        return Err("the processes' results are not exactly this generator's share".into());
    }
    crate::metrics::merge::merge(parts)
}

pub(super) fn read_part(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_shards_cover_the_parent_share_exactly_once() {
        let users = 1000u32;
        for parent in [Shard::default(), Shard { index: 1, count: 3 }] {
            let mut seen = vec![0u8; users as usize];
            for j in 0..4 {
                let s = sub_shard(parent, j, 4);
                for u in crate::runner::pacing::worker_users(0, 1, s, users) {
                    seen[u as usize] += 1;
                }
            }
            for (u, count) in seen.iter().enumerate() {
                let mine = u as u32 % parent.count == parent.index;
                assert_eq!(*count, u8::from(mine), "user {u} of parent {parent}");
            }
        }
    }
}
