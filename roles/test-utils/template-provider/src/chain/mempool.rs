//! The mempool: transactions in arrival order (so parents come before children and any
//! prefix is a valid block), and what Bitcoin Core's mempool RPCs say of them.

use bitcoin::{OutPoint, Sequence, Transaction, Txid, Wtxid};
use std::collections::{HashMap, HashSet};

/// One mempool transaction.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tx: Transaction,
    pub txid: Txid,
    pub wtxid: Wtxid,
    pub fee: u64,
    pub weight: u64,
    /// Unix time it entered.
    pub time: u32,
    /// Height of the tip when it entered.
    pub height: u32,
    /// Known to the simulated miner only: in templates, absent from the RPC's mempool.
    pub private: bool,
}

impl Entry {
    pub fn new(tx: Transaction, fee: u64, time: u32, height: u32, private: bool) -> Entry {
        Entry {
            txid: tx.compute_txid(),
            wtxid: tx.compute_wtxid(),
            weight: tx.weight().to_wu(),
            tx,
            fee,
            time,
            height,
            private,
        }
    }
}

/// What `getmempoolentry` and `getrawmempool true` report of a transaction. Ancestor and
/// descendant figures count the transaction itself, as Core's do, and only transactions the
/// RPC shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolInfo {
    pub txid: Txid,
    pub wtxid: Wtxid,
    pub weight: u64,
    /// Weight / 4, rounded up.
    pub vsize: u64,
    /// Fee in satoshis.
    pub fee: u64,
    pub time: u32,
    pub height: u32,
    pub ancestor_count: u64,
    pub ancestor_size: u64,
    pub ancestor_fees: u64,
    pub descendant_count: u64,
    pub descendant_size: u64,
    pub descendant_fees: u64,
    /// Unconfirmed parents.
    pub depends: Vec<Txid>,
    /// Mempool children.
    pub spent_by: Vec<Txid>,
    /// BIP125 signalling, by the transaction or an ancestor.
    pub replaceable: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Mempool {
    entries: Vec<Entry>,
    by_txid: HashMap<Txid, usize>,
    /// Which mempool transaction spends each outpoint.
    spent_by: HashMap<OutPoint, Txid>,
    /// Bumped on every addition and removal (`getrawmempool`'s `mempool_sequence`).
    sequence: u64,
}

impl Mempool {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, txid: &Txid) -> Option<&Entry> {
        self.by_txid.get(txid).map(|&i| &self.entries[i])
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Whether `o` is an output of a mempool transaction.
    pub fn has_output(&self, o: &OutPoint) -> bool {
        self.get(&o.txid)
            .is_some_and(|e| (o.vout as usize) < e.tx.output.len())
    }

    /// The mempool transaction that spends `o`.
    pub fn spender(&self, o: &OutPoint) -> Option<Txid> {
        self.spent_by.get(o).copied()
    }

    pub fn push(&mut self, e: Entry) {
        for i in &e.tx.input {
            self.spent_by.insert(i.previous_output, e.txid);
        }
        self.by_txid.insert(e.txid, self.entries.len());
        self.entries.push(e);
        self.sequence += 1;
    }

    /// Put `front` (the transactions of disconnected blocks, oldest first) before the rest.
    pub fn prepend(&mut self, front: Vec<Entry>) {
        self.sequence += front.len() as u64;
        let rest = std::mem::replace(&mut self.entries, front);
        self.entries.extend(rest);
        self.reindex();
    }

    /// Remove what a connected block confirmed (by txid) and what conflicts with it, with the
    /// conflicts' descendants. True when something conflicted.
    pub fn remove_for_block(&mut self, block: &[Transaction], txids: &[Txid]) -> bool {
        let mut confirmed = HashSet::new();
        let mut conflicted = HashSet::new();
        for (tx, txid) in block.iter().zip(txids).skip(1) {
            if self.by_txid.contains_key(txid) {
                confirmed.insert(*txid);
            }
            for i in &tx.input {
                match self.spent_by.get(&i.previous_output) {
                    Some(s) if s != txid => {
                        conflicted.insert(*s);
                    }
                    _ => {}
                }
            }
        }
        if confirmed.is_empty() && conflicted.is_empty() {
            return false;
        }
        let had_conflicts = !conflicted.is_empty();
        if had_conflicts {
            // Entries are in topological order: one pass finds every descendant.
            for e in &self.entries {
                if e.tx
                    .input
                    .iter()
                    .any(|i| conflicted.contains(&i.previous_output.txid))
                {
                    conflicted.insert(e.txid);
                }
            }
        }
        self.retain(|e| !confirmed.contains(&e.txid) && !conflicted.contains(&e.txid));
        had_conflicts
    }

    /// Drop every transaction whose inputs are neither coins `coin_exists` knows nor outputs
    /// of an earlier kept transaction, or are spent twice. Returns how many went.
    pub fn revalidate(&mut self, coin_exists: impl Fn(&OutPoint) -> bool) -> usize {
        let mut outputs: HashMap<Txid, usize> = HashMap::new();
        let mut spent = HashSet::new();
        let before = self.entries.len();
        self.retain(|e| {
            let ok = e.tx.input.iter().all(|i| {
                let o = &i.previous_output;
                !spent.contains(o)
                    && (coin_exists(o)
                        || outputs.get(&o.txid).is_some_and(|&n| (o.vout as usize) < n))
            });
            if ok {
                outputs.insert(e.txid, e.tx.output.len());
                spent.extend(e.tx.input.iter().map(|i| i.previous_output));
            }
            ok
        });
        before - self.entries.len()
    }

    fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        let before = self.entries.len();
        self.entries.retain(keep);
        self.sequence += (before - self.entries.len()) as u64;
        self.reindex();
    }

    fn reindex(&mut self) {
        self.by_txid.clear();
        self.spent_by.clear();
        for (n, e) in self.entries.iter().enumerate() {
            self.by_txid.insert(e.txid, n);
            for i in &e.tx.input {
                self.spent_by.insert(i.previous_output, e.txid);
            }
        }
    }

    /// A public transaction's RPC view.
    pub fn info(&self, txid: &Txid) -> Option<MempoolInfo> {
        let e = self.get(txid).filter(|e| !e.private)?;
        let ancestors = self.closure(e.txid, |t| self.parents(t));
        let descendants = self.closure(e.txid, |t| self.children(t));
        let sum = |set: &[&Entry], f: fn(&Entry) -> u64| set.iter().map(|e| f(e)).sum::<u64>();
        let vsize = |e: &Entry| e.weight.div_ceil(4);
        Some(MempoolInfo {
            txid: e.txid,
            wtxid: e.wtxid,
            weight: e.weight,
            vsize: vsize(e),
            fee: e.fee,
            time: e.time,
            height: e.height,
            ancestor_count: ancestors.len() as u64,
            ancestor_size: sum(&ancestors, vsize),
            ancestor_fees: sum(&ancestors, |e| e.fee),
            descendant_count: descendants.len() as u64,
            descendant_size: sum(&descendants, vsize),
            descendant_fees: sum(&descendants, |e| e.fee),
            depends: self.parents(e.txid),
            spent_by: self.children(e.txid),
            replaceable: ancestors.iter().any(|a| {
                a.tx.input
                    .iter()
                    .any(|i| i.sequence < Sequence(0xffff_fffe))
            }),
        })
    }

    /// Every public transaction's RPC view, in mempool order.
    pub fn infos(&self) -> Vec<MempoolInfo> {
        self.entries
            .iter()
            .filter(|e| !e.private)
            .filter_map(|e| self.info(&e.txid))
            .collect()
    }

    /// Public mempool parents of a transaction.
    fn parents(&self, txid: Txid) -> Vec<Txid> {
        let Some(e) = self.get(&txid) else {
            return Vec::new();
        };
        let mut out: Vec<Txid> = Vec::new();
        for i in &e.tx.input {
            let p = i.previous_output.txid;
            if self.get(&p).is_some_and(|p| !p.private) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// Public mempool children of a transaction.
    fn children(&self, txid: Txid) -> Vec<Txid> {
        let Some(e) = self.get(&txid) else {
            return Vec::new();
        };
        let mut out: Vec<Txid> = Vec::new();
        for vout in 0..e.tx.output.len() as u32 {
            if let Some(c) = self.spent_by.get(&OutPoint { txid, vout }) {
                if self.get(c).is_some_and(|c| !c.private) && !out.contains(c) {
                    out.push(*c);
                }
            }
        }
        out
    }

    /// `start` and everything reachable from it through `next`.
    fn closure(&self, start: Txid, next: impl Fn(Txid) -> Vec<Txid>) -> Vec<&Entry> {
        let mut seen = HashSet::from([start]);
        let mut todo = vec![start];
        let mut out = Vec::new();
        while let Some(t) = todo.pop() {
            if let Some(e) = self.get(&t) {
                out.push(e);
            }
            for n in next(t) {
                if seen.insert(n) {
                    todo.push(n);
                }
            }
        }
        out
    }
}
