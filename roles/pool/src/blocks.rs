//! Found blocks, from the share that found them until a template provider has them.
//!
//! Template Distribution's `SubmitSolution` has no answer, so a block counts as delivered only
//! when the template provider's tip becomes it (a `SetNewPrevHash` whose `prev_hash` is the
//! block's hash). Until then it is kept: sent on the link that issued its template, sent
//! again after every reconnect, and written to the log as a whole block in hex (for
//! `bitcoin-cli submitblock`) whenever no link can take it. A block is given up only when
//! the chain has moved [`GIVE_UP_AFTER_TIPS`] tips past its delivery without taking it; it
//! is then counted failed and logged whole once more.
//!
//! This is sans-IO: the template provider link feeds it and sends what it returns.

use roles_logic_sv2::job::block_bytes;
use roles_logic_sv2::mining_server::BlockSolution;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// New tips after a block was delivered without becoming the tip, before it is given up.
pub const GIVE_UP_AFTER_TIPS: u32 = 2;
/// Blocks kept at most (a block needs proof of work at the network target, so this is only
/// reached on a test chain where every share is a block and no link takes them).
pub const MAX_PENDING: usize = 10_000;

/// A block waiting to be taken.
#[derive(Debug, Clone)]
pub struct PendingBlock {
    pub solution: BlockSolution,
    pub height: Option<u32>,
    pub user_identity: Arc<str>,
    /// The template provider's own id for the template.
    pub tp_template_id: u64,
    /// Template provider connections it was written to.
    pub delivered_on: Vec<u64>,
    /// Tips seen since its last delivery.
    tips_since_delivery: u32,
    /// When it was last delivered with no tip seen since (monotonic ms).
    delivered_at: Option<u64>,
    /// The template's other transactions, when known: the whole block can be logged.
    pub transactions: Option<Arc<Vec<Vec<u8>>>>,
}

impl PendingBlock {
    /// Block hash as explorers show it (big-endian hex).
    pub fn hash_hex(&self) -> String {
        let mut be = self.solution.block_hash;
        be.reverse();
        hex::encode(be)
    }

    /// The whole block in hex, when the template's transactions are known.
    pub fn block_hex(&self) -> Option<String> {
        let txs = self.transactions.as_ref()?;
        Some(hex::encode(block_bytes(
            &self.solution.header,
            &self.solution.coinbase_tx,
            txs,
        )))
    }
}

/// What became of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The template provider's tip is now this block.
    Confirmed { hash: String, height: Option<u32> },
    /// Given up: the chain moved on without it, or the queue was full.
    Failed {
        hash: String,
        height: Option<u32>,
        /// The whole block, for a manual `submitblock`, when known.
        block_hex: Option<String>,
    },
}

/// The blocks a pool has found and not yet seen taken.
#[derive(Debug, Default)]
pub struct BlockQueue {
    pending: VecDeque<PendingBlock>,
    /// Transactions of live templates (by the pool's template key).
    transactions: HashMap<u64, Arc<Vec<Vec<u8>>>>,
}

impl BlockQueue {
    /// Blocks not yet taken.
    pub fn pending(&self) -> impl Iterator<Item = &PendingBlock> {
        self.pending.iter()
    }

    /// A template's transactions arrived (RequestTransactionData.Success).
    pub fn set_transactions(&mut self, key: u64, txs: Vec<Vec<u8>>) {
        let txs = Arc::new(txs);
        for b in self.pending.iter_mut() {
            if b.solution.template_id == key && b.transactions.is_none() {
                b.transactions = Some(txs.clone());
            }
        }
        self.transactions.insert(key, txs);
    }

    /// Forget the transactions of templates below `key` (older than the new tip's).
    pub fn prune_transactions(&mut self, key: u64) {
        self.transactions.retain(|&k, _| k >= key);
    }

    /// A block was found. Returns what had to be given up to keep the queue bounded.
    pub fn found(
        &mut self,
        solution: BlockSolution,
        tp_template_id: u64,
        height: Option<u32>,
        user_identity: Arc<str>,
    ) -> Option<Outcome> {
        let transactions = self.transactions.get(&solution.template_id).cloned();
        self.pending.push_back(PendingBlock {
            solution,
            height,
            user_identity,
            tp_template_id,
            delivered_on: Vec::new(),
            tips_since_delivery: 0,
            delivered_at: None,
            transactions,
        });
        if self.pending.len() > MAX_PENDING {
            return self.pending.pop_front().map(|b| failed(&b));
        }
        None
    }

    /// Blocks to write to template provider connection `connection` (each is written once
    /// per connection); they count as delivered from `now_ms`.
    pub fn take_undelivered(&mut self, connection: u64, now_ms: u64) -> Vec<PendingBlock> {
        let mut out = Vec::new();
        for b in self.pending.iter_mut() {
            if !b.delivered_on.contains(&connection) {
                b.delivered_on.push(connection);
                b.tips_since_delivery = 0;
                b.delivered_at = Some(now_ms);
                out.push(b.clone());
            }
        }
        out
    }

    /// When a delivered block has seen no new tip at all for `patience_ms`, the template
    /// provider did not take it and did not tell us why: a node that accepted a valid block
    /// announces it at once. The link may have lost a message (a tip we never saw, so the
    /// block built on a stale one); the caller resyncs by reconnecting. `Some(deadline)`
    /// when one is pending, for the timer.
    pub fn stall_deadline(&self, patience_ms: u64) -> Option<u64> {
        self.pending
            .iter()
            .filter_map(|b| b.delivered_at)
            .min()
            .map(|t| t + patience_ms)
    }

    /// The template provider's tip moved to `prev_hash` (header byte order).
    pub fn on_new_tip(&mut self, prev_hash: &[u8; 32]) -> Vec<Outcome> {
        let mut out = Vec::new();
        self.pending.retain_mut(|b| {
            if &b.solution.block_hash == prev_hash {
                out.push(Outcome::Confirmed {
                    hash: b.hash_hex(),
                    height: b.height,
                });
                return false;
            }
            if b.delivered_on.is_empty() {
                return true;
            }
            b.delivered_at = None;
            b.tips_since_delivery += 1;
            if b.tips_since_delivery > GIVE_UP_AFTER_TIPS {
                out.push(failed(b));
                return false;
            }
            true
        });
        out
    }
}

fn failed(b: &PendingBlock) -> Outcome {
    Outcome::Failed {
        hash: b.hash_hex(),
        height: b.height,
        block_hex: b.block_hex(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solution(key: u64, hash: u8) -> BlockSolution {
        BlockSolution {
            channel_id: 1,
            template_id: key,
            version: 0x2000_0000,
            header_timestamp: 1,
            header_nonce: 2,
            coinbase_tx: vec![0xcb; 60],
            block_hash: [hash; 32],
            header: [hash; 80],
            extranonce: roles_logic_sv2::extranonce::Extranonce::from_parts(&[], &[]).unwrap(),
        }
    }

    #[test]
    fn a_block_is_kept_and_sent_on_every_new_connection_until_it_is_the_tip() {
        let mut q = BlockQueue::default();
        q.set_transactions(5, vec![vec![1, 2, 3]]);
        assert_eq!(q.found(solution(5, 9), 50, Some(100), "u".into()), None);
        // No link: it waits, and can be logged whole.
        let hex = q.pending().next().unwrap().block_hex().unwrap();
        let expected = format!("{}02{}010203", "09".repeat(80), "cb".repeat(60));
        assert_eq!(hex, expected);
        assert_eq!(q.stall_deadline(10_000), None, "not delivered: no stall");
        // Written on connection 1, which dies before the tip moves.
        assert_eq!(q.take_undelivered(1, 0).len(), 1);
        assert_eq!(q.stall_deadline(10_000), Some(10_000));
        assert!(q.take_undelivered(1, 0).is_empty(), "once per connection");
        // Connection 2: written again.
        let again = q.take_undelivered(2, 0);
        assert_eq!(again[0].tp_template_id, 50);
        // An unrelated tip does not drop it yet, and ends the stall watch.
        assert!(q.on_new_tip(&[1; 32]).is_empty());
        assert_eq!(q.stall_deadline(10_000), None);
        // Its own tip confirms it.
        assert_eq!(
            q.on_new_tip(&[9; 32]),
            vec![Outcome::Confirmed {
                hash: hex::encode([9; 32]),
                height: Some(100)
            }]
        );
        assert_eq!(q.pending().count(), 0);
    }

    #[test]
    fn a_delivered_block_the_chain_passes_by_is_given_up_with_its_hex() {
        let mut q = BlockQueue::default();
        q.found(solution(5, 9), 50, Some(7), "u".into());
        // Undelivered blocks are never given up, however the chain moves.
        for t in 10..20 {
            assert!(q.on_new_tip(&[t; 32]).is_empty());
        }
        q.take_undelivered(1, 0);
        assert!(q.on_new_tip(&[20; 32]).is_empty());
        assert!(q.on_new_tip(&[21; 32]).is_empty());
        match &q.on_new_tip(&[22; 32])[..] {
            [Outcome::Failed { block_hex, .. }] => {
                assert!(block_hex.is_none(), "no transactions were known")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_queue_is_bounded_and_transactions_follow_templates() {
        let mut q = BlockQueue::default();
        for i in 0..MAX_PENDING {
            assert!(
                q.found(solution(1, 0), 1, None, "u".into()).is_none(),
                "{i}"
            );
        }
        assert!(matches!(
            q.found(solution(1, 0), 1, None, "u".into()),
            Some(Outcome::Failed { .. })
        ));
        assert_eq!(q.pending().count(), MAX_PENDING);
        q.set_transactions(3, vec![]);
        q.set_transactions(4, vec![]);
        q.prune_transactions(4);
        assert_eq!(q.transactions.len(), 1);
    }
}
