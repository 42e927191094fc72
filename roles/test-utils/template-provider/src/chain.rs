//! A simulated chain, sans-IO: blocks, a wallet that funds a mempool of signed segwit
//! transactions, templates built from them, and whole-block checks of what clients submit.
//!
//! The chain starts from its own genesis, whose funding transaction gives the wallet coins.
//! Every mempool transaction spends a wallet output (P2WPKH, signed) and pays two new wallet
//! outputs, so templates carry real transactions with witnesses, and a pool must get the
//! witness commitment right for its blocks to be accepted.
//!
//! Blocks arrive three ways: a Template Distribution client's SubmitSolution
//! ([`Chain::submit_solution`]), a whole block as Bitcoin Core's `submitblock` takes it
//! ([`Chain::submit_block`]), and the simulated rest of the network
//! ([`Chain::mine_external_block`], [`Chain::reorg`]). The first two go through one
//! acceptance function that checks the block as Core does, in Core's order and with its
//! reject reasons; SubmitSolution first checks what only a template can tell (its id, its
//! required outputs, the value it allows).
//!
//! The chain keeps the last [`HEADERS_KEPT`] blocks' headers (stale ones too, as Core keeps
//! them) and the transactions and undo data of the last [`BODIES_KEPT`], so it can answer
//! `getblockheader` and `getrawtransaction`, switch to a longer branch, and reorganise on
//! command.

mod mempool;
mod validate;
mod wallet;

pub use mempool::MempoolInfo;
pub use validate::MAX_BLOCK_WEIGHT;
pub use wallet::FEE;

use bitcoin::block::{Header, Version};
use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::sighash::SighashCache;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence,
    Target, Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness, WitnessMerkleNode, Work,
};
use mempool::{Entry, Mempool};
use roles_logic_sv2::job::coinbase_merkle_path;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use wallet::Wallet;

/// Block version of templates (BIP9 top bits, nothing signalled).
pub const BLOCK_VERSION: u32 = 0x2000_0000;
/// Weight of a coinbase before the pool adds anything (generous).
const COINBASE_BASE_WEIGHT: u64 = 4 * 200;
/// Blocks whose headers are kept, counting back from the tip (older ones are forgotten).
pub const HEADERS_KEPT: u32 = 1000;
/// Blocks whose transactions are kept, counting back from the tip: the deepest reorganisation
/// and the reach of `getrawtransaction` into blocks.
pub const BODIES_KEPT: u32 = 100;
const COINBASE_MATURITY: u32 = 100;
/// Nonces the simulated network tries for each of its blocks: enough at regtest-like
/// difficulty, and the block goes without proof of work otherwise.
const EXTERNAL_NONCES: u32 = 256;

/// What a client may add to the coinbase (CoinbaseOutputConstraints).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Constraints {
    pub max_additional_size: u32,
    pub max_additional_sigops: u16,
}

/// Sizes of the simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainOptions {
    /// Most transactions (public and private) the mempool holds; new ones wait for room. The
    /// genesis funds at least this many wallet coins, so a full mempool spends confirmed
    /// coins rather than long chains of unconfirmed ones.
    pub max_mempool: usize,
    /// Bytes of OP_RETURN padding in each new transaction (0: none), for blocks that reach
    /// their weight limit with fewer transactions.
    pub transaction_padding: usize,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions {
            max_mempool: 500,
            transaction_padding: 0,
        }
    }
}

/// A template as the chain keeps it, to check solutions and answer RequestTransactionData.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: u64,
    pub prev_hash: BlockHash,
    pub height: u32,
    pub txs: Vec<Transaction>,
    pub value_remaining: u64,
    pub coinbase_prefix: Vec<u8>,
    pub required_outputs: Vec<TxOut>,
    pub merkle_path: Vec<[u8; 32]>,
}

/// Why a block was not connected, as Bitcoin Core's `submitblock` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockRejection {
    /// Known already: `duplicate`.
    Duplicate,
    /// Known, and found invalid before: `duplicate-invalid`.
    DuplicateInvalid,
    /// Stored, but not on the best chain (its branch has no more work than the tip), or a
    /// block below it failed: `inconclusive`.
    Inconclusive,
    /// Invalid, with Core's reject reason (`high-hash`, `bad-txnmrklroot`, `bad-cb-amount`...).
    Invalid(String),
}

impl BlockRejection {
    /// The string `submitblock` returns.
    pub fn reason(&self) -> &str {
        match self {
            BlockRejection::Duplicate => "duplicate",
            BlockRejection::DuplicateInvalid => "duplicate-invalid",
            BlockRejection::Inconclusive => "inconclusive",
            BlockRejection::Invalid(r) => r,
        }
    }
}

impl fmt::Display for BlockRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for BlockRejection {}

/// Why a solution was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolutionError {
    UnknownTemplate(u64),
    Stale {
        template_id: u64,
    },
    BadCoinbase(String),
    MissingOutput,
    TooMuchValue {
        paid: u64,
        allowed: u64,
    },
    /// The block the solution makes is invalid.
    Block(BlockRejection),
}

impl fmt::Display for SolutionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolutionError::UnknownTemplate(id) => write!(f, "unknown template {id}"),
            SolutionError::Stale { template_id } => {
                write!(
                    f,
                    "template {template_id} builds on a block that is no longer the tip"
                )
            }
            SolutionError::BadCoinbase(e) => write!(f, "coinbase: {e}"),
            SolutionError::MissingOutput => {
                f.write_str("coinbase lacks an output the template requires")
            }
            SolutionError::TooMuchValue { paid, allowed } => {
                write!(f, "coinbase pays {paid} sat, only {allowed} available")
            }
            SolutionError::Block(r) => write!(f, "block refused: {r}"),
        }
    }
}

impl std::error::Error for SolutionError {}

/// Why [`Chain::reorg`] did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReorgError {
    Depth { depth: u32, max: u32 },
}

impl fmt::Display for ReorgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReorgError::Depth { depth, max } => write!(
                f,
                "cannot replace {depth} blocks: between 1 and {max} can be replaced"
            ),
        }
    }
}

impl std::error::Error for ReorgError {}

/// A block the chain appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedBlock {
    pub height: u32,
    pub hash: BlockHash,
    pub transactions: usize,
    /// Whether a client submitted it (SubmitSolution or `submitblock`), rather than the
    /// simulated network.
    pub submitted: bool,
}

/// A block as `getblockheader` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    pub hash: BlockHash,
    pub header: Header,
    pub height: u32,
    /// 1 for the tip, more below it; -1 when the block is not on the active chain.
    pub confirmations: i64,
    /// Median time past: the median of its and its 10 predecessors' times.
    pub median_time: u32,
    pub chainwork: Work,
    pub transactions: usize,
    /// The next block on the active chain.
    pub next: Option<BlockHash>,
}

/// A transaction `getrawtransaction` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundTransaction {
    pub tx: Transaction,
    /// The block it is in, unless it is in the mempool.
    pub block: Option<FoundIn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundIn {
    pub hash: BlockHash,
    pub time: u32,
    /// As in [`BlockInfo::confirmations`].
    pub confirmations: i64,
}

/// Why `getrawtransaction` found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxLookupError {
    /// Not in the public mempool nor in a kept block of the active chain.
    NotFound,
    /// The block asked for is unknown.
    BlockNotFound,
    /// The block asked for is known but its transactions were not kept.
    BlockNotAvailable,
    /// The block asked for does not contain it.
    NotInBlock,
}

#[derive(Debug, Clone)]
struct Coin {
    output: TxOut,
    height: u32,
    coinbase: bool,
}

struct BlockRecord {
    header: Header,
    height: u32,
    chainwork: Work,
    n_tx: usize,
    /// Its transactions, coinbase first, while kept.
    txs: Option<Arc<Vec<Transaction>>>,
    /// What its transactions spent, in order, while it is connected and kept.
    undo: Option<Vec<(OutPoint, Coin)>>,
    /// Failed a check after its header was accepted.
    invalid: bool,
}

/// The simulated chain.
pub struct Chain {
    blocks: HashMap<BlockHash, BlockRecord>,
    /// The active chain from `base_height` to the tip.
    active: VecDeque<BlockHash>,
    base_height: u32,
    bits: CompactTarget,
    target: Target,
    utxos: HashMap<OutPoint, Coin>,
    /// Transactions of the active chain's kept blocks.
    tx_index: HashMap<Txid, BlockHash>,
    mempool: Mempool,
    wallet: Wallet,
    templates: HashMap<u64, Template>,
    next_template_id: u64,
    options: ChainOptions,
    /// Blocks the simulated network made, so that each one's coinbase differs.
    external_blocks: u64,
}

impl Chain {
    /// A chain whose blocks must meet `target` (rounded to what nbits can say).
    pub fn new(target: Target, now: u32, seed: u64) -> Chain {
        Chain::with_options(target, now, seed, ChainOptions::default())
    }

    pub fn with_options(target: Target, now: u32, seed: u64, options: ChainOptions) -> Chain {
        let bits = target.to_compact_lossy();
        let mut wallet = Wallet::new(seed);
        // Genesis funds the wallet with 1 BTC coins. It is never validated.
        let funding = wallet.funding(options.max_mempool.max(100));
        wallet.fund(&funding);
        let txid = funding.compute_txid();
        let utxos = funding
            .output
            .iter()
            .enumerate()
            .map(|(vout, o)| {
                (
                    OutPoint {
                        txid,
                        vout: vout as u32,
                    },
                    Coin {
                        output: o.clone(),
                        height: 0,
                        coinbase: false,
                    },
                )
            })
            .collect();
        let genesis = Header {
            version: Version::from_consensus(BLOCK_VERSION as i32),
            prev_blockhash: BlockHash::all_zeros(),
            merkle_root: TxMerkleNode::from_byte_array(txid.to_byte_array()),
            time: now,
            bits,
            nonce: seed as u32,
        };
        let hash = genesis.block_hash();
        let target = Target::from_compact(bits);
        let record = BlockRecord {
            header: genesis,
            height: 0,
            chainwork: target.to_work(),
            n_tx: 1,
            txs: None,
            undo: None,
            invalid: false,
        };
        Chain {
            blocks: HashMap::from([(hash, record)]),
            active: VecDeque::from([hash]),
            base_height: 0,
            bits,
            target,
            utxos,
            tx_index: HashMap::new(),
            mempool: Mempool::default(),
            wallet,
            templates: HashMap::new(),
            next_template_id: 1,
            options,
            external_blocks: 0,
        }
    }

    pub fn tip(&self) -> BlockHash {
        *self.active.back().expect("the active chain is never empty")
    }

    /// Height of the tip.
    pub fn height(&self) -> u32 {
        self.base_height + self.active.len() as u32 - 1
    }

    pub fn bits(&self) -> CompactTarget {
        self.bits
    }

    pub fn target(&self) -> Target {
        self.target
    }

    pub fn options(&self) -> &ChainOptions {
        &self.options
    }

    /// Earliest header time for the next block: one more than the tip's median time past
    /// (Core's `mintime`).
    pub fn min_ntime(&self) -> u32 {
        self.median_time_past(&self.tip()) + 1
    }

    /// Header time for a block made at `now` (Core's `curtime`): now, unless that is too
    /// early.
    pub fn block_time(&self, now: u32) -> u32 {
        now.max(self.min_ntime())
    }

    /// Transactions in the mempool, private ones included.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// Transactions the RPC shows: the mempool without private transactions.
    pub fn public_mempool_len(&self) -> usize {
        self.mempool.entries().iter().filter(|e| !e.private).count()
    }

    /// Wallet coins not yet spent by a transaction it made.
    pub fn wallet_coins(&self) -> usize {
        self.wallet.coin_count()
    }

    /// Add up to `n` signed transactions to the mempool (fewer when it is full or the wallet
    /// has no coin left); returns how many.
    pub fn add_transactions(&mut self, n: usize, now: u32) -> usize {
        self.add(n, now, false)
    }

    /// Add up to `n` private transactions: ones the simulated miner has and puts in its
    /// templates, but the RPC does not show until a block contains them.
    pub fn add_private_transactions(&mut self, n: usize, now: u32) -> usize {
        self.add(n, now, true)
    }

    fn add(&mut self, n: usize, now: u32, private: bool) -> usize {
        let mut added = 0;
        while added < n && self.mempool.len() < self.options.max_mempool {
            let Some(tx) = self.wallet.spend(private, self.options.transaction_padding) else {
                break;
            };
            self.mempool
                .push(Entry::new(tx, FEE, now, self.height(), private));
            added += 1;
        }
        added
    }

    /// The longest mempool prefix that fits a block with `reserved` weight for the coinbase.
    fn select(&self, reserved: u64) -> &[Entry] {
        let mut weight = 4 * 80 + reserved;
        let entries = self.mempool.entries();
        let n = entries
            .iter()
            .take_while(|e| {
                weight += e.weight;
                weight <= MAX_BLOCK_WEIGHT
            })
            .count();
        &entries[..n]
    }

    /// A template on the tip for a client with `constraints`.
    pub fn new_template(&mut self, constraints: Constraints) -> Template {
        let reserved = COINBASE_BASE_WEIGHT
            + 4 * constraints.max_additional_size as u64
            + 4 * 4 * constraints.max_additional_sigops as u64;
        // Mempool order has parents before children, so any prefix is a valid block.
        let picked = self.select(reserved);
        let txs: Vec<Transaction> = picked.iter().map(|e| e.tx.clone()).collect();
        let fees: u64 = picked.iter().map(|e| e.fee).sum();
        let txids: Vec<[u8; 32]> = picked.iter().map(|e| e.txid.to_byte_array()).collect();
        let commitment = witness_commitment(picked.iter().map(|e| e.wtxid.to_byte_array()));
        let height = self.height() + 1;
        let id = self.next_template_id;
        self.next_template_id += 1;
        let t = Template {
            id,
            prev_hash: self.tip(),
            height,
            merkle_path: coinbase_merkle_path(&txids),
            txs,
            value_remaining: subsidy(height) + fees,
            coinbase_prefix: bip34_prefix(height),
            required_outputs: vec![commitment],
        };
        self.templates.insert(id, t.clone());
        // Keep the templates of the tip only, once there are many.
        let tip = self.tip();
        if self.templates.len() > 256 {
            self.templates.retain(|_, t| t.prev_hash == tip);
        }
        t
    }

    /// A template by id, and whether it is still on the tip.
    pub fn template(&self, id: u64) -> Option<(&Template, bool)> {
        self.templates
            .get(&id)
            .map(|t| (t, t.prev_hash == self.tip()))
    }

    /// Check a SubmitSolution and, if it makes a valid block on the tip, append it. What
    /// only the template can tell is checked here; the block then goes through the same
    /// checks as [`Chain::submit_block`].
    pub fn submit_solution(
        &mut self,
        template_id: u64,
        version: u32,
        header_timestamp: u32,
        header_nonce: u32,
        coinbase_tx: &[u8],
        now: u32,
    ) -> Result<AcceptedBlock, SolutionError> {
        let t = self
            .templates
            .get(&template_id)
            .ok_or(SolutionError::UnknownTemplate(template_id))?;
        if t.prev_hash != self.tip() {
            return Err(SolutionError::Stale { template_id });
        }
        let coinbase: Transaction =
            deserialize(coinbase_tx).map_err(|e| SolutionError::BadCoinbase(e.to_string()))?;
        if !coinbase.is_coinbase() {
            return Err(SolutionError::BadCoinbase(
                "first input is not the null outpoint".into(),
            ));
        }
        for required in &t.required_outputs {
            if !coinbase.output.contains(required) {
                return Err(SolutionError::MissingOutput);
            }
        }
        let paid = coinbase
            .output
            .iter()
            .fold(0u64, |sum, o| sum.saturating_add(o.value.to_sat()));
        if paid > t.value_remaining {
            return Err(SolutionError::TooMuchValue {
                paid,
                allowed: t.value_remaining,
            });
        }
        let mut txdata = Vec::with_capacity(t.txs.len() + 1);
        txdata.push(coinbase);
        txdata.extend(t.txs.iter().cloned());
        let mut block = Block {
            header: Header {
                version: Version::from_consensus(version as i32),
                prev_blockhash: t.prev_hash,
                merkle_root: TxMerkleNode::all_zeros(),
                time: header_timestamp,
                bits: self.bits,
                nonce: header_nonce,
            },
            txdata,
        };
        block.header.merkle_root = merkle_root_of(&block.txdata);
        let mut connected = self
            .process_block(block, now, true)
            .map_err(SolutionError::Block)?;
        Ok(connected.pop().expect("a block on the tip connects alone"))
    }

    /// A whole block, as Bitcoin Core's `submitblock` takes it. Returns the blocks that
    /// became active, the submitted one last (more than one when it completes a branch that
    /// is longer than the active chain).
    pub fn submit_block(
        &mut self,
        mut block: Block,
        now: u32,
    ) -> Result<Vec<AcceptedBlock>, BlockRejection> {
        // As Core's submitblock does: a coinbase without the witness reserved value its
        // commitment needs gets the default one (32 zero bytes).
        if self.blocks.contains_key(&block.header.prev_blockhash) {
            if let Some(cb) = block.txdata.first_mut() {
                if cb.is_coinbase()
                    && validate::witness_commitment_index(cb).is_some()
                    && cb.input.iter().all(|i| i.witness.is_empty())
                {
                    cb.input[0].witness = Witness::from_slice(&[[0u8; 32]]);
                }
            }
        }
        self.process_block(block, now, true)
    }

    /// The one acceptance path of submitted blocks, in Core's order: checks that need no
    /// chain, known blocks, the parent, the header in context, the block in context, then
    /// connecting it (inputs, values, scripts) when it extends the tip, or switching to its
    /// branch when that is now the longest.
    fn process_block(
        &mut self,
        block: Block,
        now: u32,
        submitted: bool,
    ) -> Result<Vec<AcceptedBlock>, BlockRejection> {
        let invalid = |reason: String| BlockRejection::Invalid(reason);
        validate::check_block(&block).map_err(|f| invalid(f.reason))?;
        let hash = block.block_hash();
        if let Some(known) = self.blocks.get(&hash) {
            return Err(if known.invalid {
                BlockRejection::DuplicateInvalid
            } else {
                BlockRejection::Duplicate
            });
        }
        let prev_hash = block.header.prev_blockhash;
        let Some(prev) = self.blocks.get(&prev_hash) else {
            return Err(invalid("prev-blk-not-found".into()));
        };
        if prev.invalid {
            return Err(invalid("bad-prevblk".into()));
        }
        let height = prev.height + 1;
        let parent_mtp = self.median_time_past(&prev_hash);
        validate::check_header(&block.header, self.bits, parent_mtp, now)
            .map_err(|f| invalid(f.reason))?;
        if let Err(f) = validate::check_contextual(&block, height, parent_mtp) {
            if !f.mutated {
                self.store(block, hash, height, true);
            }
            return Err(invalid(f.reason));
        }
        self.store(block, hash, height, false);
        if prev_hash == self.tip() {
            return match self.connect_tip(hash, false) {
                Ok(mut b) => {
                    b.submitted = submitted;
                    Ok(vec![b])
                }
                Err(reason) => {
                    self.mark_invalid(hash);
                    Err(invalid(reason))
                }
            };
        }
        if self.blocks[&hash].chainwork > self.blocks[&self.tip()].chainwork {
            return self.activate(hash, now, submitted);
        }
        Err(BlockRejection::Inconclusive)
    }

    /// Switch to the branch ending in `new_tip`, which has more work than the active chain.
    fn activate(
        &mut self,
        new_tip: BlockHash,
        now: u32,
        submitted: bool,
    ) -> Result<Vec<AcceptedBlock>, BlockRejection> {
        let mut path = Vec::new();
        let mut h = new_tip;
        while !self.is_active(&h) {
            match self.blocks.get(&h) {
                Some(r) if r.txs.is_some() => {
                    path.push(h);
                    h = r.header.prev_blockhash;
                }
                // Part of the branch is not kept: it cannot be connected.
                _ => return Err(BlockRejection::Inconclusive),
            }
        }
        path.reverse();
        let fork_height = self.blocks[&h].height;
        if self.height() - fork_height > BODIES_KEPT {
            return Err(BlockRejection::Inconclusive);
        }
        let old = self.disconnect_to(fork_height, now);
        let mut connected = Vec::new();
        for &h in &path {
            match self.connect_tip(h, false) {
                Ok(b) => connected.push(b),
                Err(reason) => {
                    self.mark_invalid(h);
                    // Back to the old chain, which was valid.
                    self.disconnect_to(fork_height, now);
                    for &o in &old {
                        self.connect_tip(o, true)
                            .expect("a block that was connected before connects again");
                    }
                    self.after_reorg();
                    return Err(if h == new_tip {
                        BlockRejection::Invalid(reason)
                    } else {
                        BlockRejection::Inconclusive
                    });
                }
            }
        }
        self.after_reorg();
        if let Some(last) = connected.last_mut() {
            last.submitted = submitted;
        }
        Ok(connected)
    }

    /// The rest of the network finds a block on the tip (with as much of the mempool as
    /// fits).
    pub fn mine_external_block(&mut self, now: u32) -> AcceptedBlock {
        self.mine_block(now, true)
    }

    /// Replace the last `depth` blocks: go back `depth` blocks (their transactions return to
    /// the mempool), then let the simulated network mine `depth + 1` empty blocks on the
    /// fork point, so the new branch is longer. The old blocks stay known as stale ones.
    /// Returns the new blocks, the new tip last.
    pub fn reorg(&mut self, depth: u32, now: u32) -> Result<Vec<AcceptedBlock>, ReorgError> {
        let max = self.height().min(BODIES_KEPT);
        if depth == 0 || depth > max {
            return Err(ReorgError::Depth { depth, max });
        }
        let fork_height = self.height() - depth;
        self.disconnect_to(fork_height, now);
        let new = (0..=depth).map(|_| self.mine_block(now, false)).collect();
        self.after_reorg();
        Ok(new)
    }

    fn mine_block(&mut self, now: u32, with_mempool: bool) -> AcceptedBlock {
        let height = self.height() + 1;
        let picked: &[Entry] = if with_mempool {
            self.select(COINBASE_BASE_WEIGHT)
        } else {
            &[]
        };
        let fees: u64 = picked.iter().map(|e| e.fee).sum();
        let commitment = witness_commitment(picked.iter().map(|e| e.wtxid.to_byte_array()));
        let txs: Vec<Transaction> = picked.iter().map(|e| e.tx.clone()).collect();
        self.external_blocks += 1;
        let mut script_sig = bip34_prefix(height);
        script_sig.push(8);
        script_sig.extend_from_slice(&self.external_blocks.to_le_bytes());
        let coinbase = segwit_coinbase(
            script_sig,
            vec![
                TxOut {
                    value: Amount::from_sat(subsidy(height) + fees),
                    script_pubkey: self.wallet.script().clone(),
                },
                commitment,
            ],
        );
        let mut txdata = vec![coinbase];
        txdata.extend(txs);
        let mut header = Header {
            version: Version::from_consensus(BLOCK_VERSION as i32),
            prev_blockhash: self.tip(),
            merkle_root: merkle_root_of(&txdata),
            time: self.block_time(now),
            bits: self.bits,
            nonce: 0,
        };
        for nonce in 0..EXTERNAL_NONCES {
            header.nonce = nonce;
            if self.target.is_met_by(header.block_hash()) {
                break;
            }
        }
        let hash = header.block_hash();
        self.store(Block { header, txdata }, hash, height, false);
        self.connect_tip(hash, true)
            .expect("a block built on the tip from the mempool connects")
    }

    fn store(&mut self, block: Block, hash: BlockHash, height: u32, invalid: bool) {
        let prev_work = self
            .blocks
            .get(&block.header.prev_blockhash)
            .map(|r| r.chainwork);
        let work = Target::from_compact(block.header.bits).to_work();
        let record = BlockRecord {
            header: block.header,
            height,
            chainwork: prev_work.map_or(work, |p| p + work),
            n_tx: block.txdata.len(),
            txs: (!invalid).then(|| Arc::new(block.txdata)),
            undo: None,
            invalid,
        };
        self.blocks.insert(hash, record);
    }

    fn mark_invalid(&mut self, hash: BlockHash) {
        if let Some(r) = self.blocks.get_mut(&hash) {
            r.invalid = true;
            r.txs = None;
        }
    }

    /// The active chain's block at `height`, if kept.
    pub fn block_at(&self, height: u32) -> Option<BlockHash> {
        self.active_hash(height)
    }

    fn is_active(&self, hash: &BlockHash) -> bool {
        self.blocks
            .get(hash)
            .is_some_and(|r| self.active_hash(r.height) == Some(*hash))
    }

    fn active_hash(&self, height: u32) -> Option<BlockHash> {
        let i = height.checked_sub(self.base_height)?;
        self.active.get(i as usize).copied()
    }

    /// Median of the times of `hash` and its 10 predecessors (fewer near the start of what
    /// is kept).
    fn median_time_past(&self, hash: &BlockHash) -> u32 {
        let mut times = Vec::with_capacity(11);
        let mut h = *hash;
        while times.len() < 11 {
            let Some(r) = self.blocks.get(&h) else { break };
            times.push(r.header.time);
            h = r.header.prev_blockhash;
        }
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }

    /// Check the inputs, values and scripts of a block on the tip, as Core's ConnectBlock:
    /// inputs in order (an input must be an unspent coin or an output of an earlier
    /// transaction of the block), then the coinbase value, then scripts. Transactions the
    /// mempool holds were checked on entry (and `trusted` skips every script).
    fn check_spends(
        &self,
        txs: &[Transaction],
        txids: &[Txid],
        height: u32,
        trusted: bool,
    ) -> Result<(), String> {
        let mut created: HashMap<OutPoint, TxOut> = HashMap::new();
        let mut spent: HashSet<OutPoint> = HashSet::new();
        let mut fees = 0u64;
        let mut script_error = None;
        for (n, (tx, txid)) in txs.iter().zip(txids).enumerate() {
            if n > 0 {
                let known = trusted
                    || self
                        .mempool
                        .get(txid)
                        .is_some_and(|e| e.wtxid == tx.compute_wtxid());
                let mut cache = SighashCache::new(tx);
                let mut value_in = 0u64;
                for (i, input) in tx.input.iter().enumerate() {
                    let o = &input.previous_output;
                    let coin = if spent.contains(o) {
                        None
                    } else if let Some(out) = created.get(o) {
                        Some(out)
                    } else {
                        match self.utxos.get(o) {
                            Some(c) if c.coinbase && height - c.height < COINBASE_MATURITY => {
                                return Err("bad-txns-premature-spend-of-coinbase".into())
                            }
                            Some(c) => Some(&c.output),
                            None => None,
                        }
                    };
                    let Some(out) = coin else {
                        return Err("bad-txns-inputs-missingorspent".into());
                    };
                    value_in = value_in
                        .checked_add(out.value.to_sat())
                        .ok_or_else(|| "bad-txns-inputvalues-outofrange".to_string())?;
                    if !known && script_error.is_none() {
                        script_error =
                            validate::verify_input(self.wallet.secp(), tx, &mut cache, i, out)
                                .err();
                    }
                }
                spent.extend(tx.input.iter().map(|i| i.previous_output));
                let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
                if value_in < value_out {
                    return Err("bad-txns-in-belowout".into());
                }
                fees += value_in - value_out;
            }
            for (vout, o) in tx.output.iter().enumerate() {
                if !o.script_pubkey.is_op_return() {
                    let op = OutPoint {
                        txid: *txid,
                        vout: vout as u32,
                    };
                    created.insert(op, o.clone());
                }
            }
        }
        let paid: u64 = txs[0].output.iter().map(|o| o.value.to_sat()).sum();
        if paid > subsidy(height) + fees {
            return Err("bad-cb-amount".into());
        }
        match script_error {
            Some(e) => Err(format!("block-script-verify-flag-failed ({e})")),
            None => Ok(()),
        }
    }

    /// Connect the stored block `hash`, whose parent is the tip.
    fn connect_tip(&mut self, hash: BlockHash, trusted: bool) -> Result<AcceptedBlock, String> {
        let r = &self.blocks[&hash];
        let (height, txs) = (r.height, r.txs.clone());
        let txs = txs.ok_or_else(|| "block-not-available".to_string())?;
        let txids: Vec<Txid> = txs.iter().map(|t| t.compute_txid()).collect();
        self.check_spends(&txs, &txids, height, trusted)?;
        let mut undo = Vec::new();
        for (n, (tx, txid)) in txs.iter().zip(&txids).enumerate() {
            if n > 0 {
                for i in &tx.input {
                    if let Some(c) = self.utxos.remove(&i.previous_output) {
                        undo.push((i.previous_output, c));
                    }
                }
            }
            for (vout, o) in tx.output.iter().enumerate() {
                if !o.script_pubkey.is_op_return() {
                    let op = OutPoint {
                        txid: *txid,
                        vout: vout as u32,
                    };
                    let coin = Coin {
                        output: o.clone(),
                        height,
                        coinbase: n == 0,
                    };
                    self.utxos.insert(op, coin);
                }
            }
            self.tx_index.insert(*txid, hash);
        }
        if let Some(r) = self.blocks.get_mut(&hash) {
            r.undo = Some(undo);
        }
        self.active.push_back(hash);
        if self.mempool.remove_for_block(&txs, &txids) {
            self.revalidate_wallet();
        }
        self.templates.retain(|_, t| t.prev_hash == hash);
        self.prune();
        Ok(AcceptedBlock {
            height,
            hash,
            transactions: txs.len() - 1,
            submitted: false,
        })
    }

    /// Disconnect the tip; returns its transactions but the coinbase.
    fn disconnect_tip(&mut self) -> Vec<Transaction> {
        let hash = self.tip();
        let r = self
            .blocks
            .get_mut(&hash)
            .expect("the tip is a known block");
        let txs = r
            .txs
            .clone()
            .expect("blocks within BODIES_KEPT of the tip keep their transactions");
        let mut undo = r.undo.take().unwrap_or_default();
        for (n, tx) in txs.iter().enumerate().rev() {
            let txid = tx.compute_txid();
            for vout in 0..tx.output.len() as u32 {
                self.utxos.remove(&OutPoint { txid, vout });
            }
            if n > 0 {
                for _ in &tx.input {
                    if let Some((o, c)) = undo.pop() {
                        self.utxos.insert(o, c);
                    }
                }
            }
            self.tx_index.remove(&txid);
        }
        self.active.pop_back();
        txs[1..].to_vec()
    }

    /// Disconnect blocks down to `height`; their transactions return to the front of the
    /// mempool, oldest first. Returns the disconnected blocks, lowest first.
    fn disconnect_to(&mut self, height: u32, now: u32) -> Vec<BlockHash> {
        let mut hashes = Vec::new();
        let mut blocks = Vec::new();
        while self.height() > height {
            hashes.push(self.tip());
            blocks.push(self.disconnect_tip());
        }
        hashes.reverse();
        blocks.reverse();
        let tip_height = self.height();
        let mut front = Vec::new();
        let mut outputs: HashMap<OutPoint, u64> = HashMap::new();
        for tx in blocks.into_iter().flatten() {
            let value_in: Option<u64> = tx
                .input
                .iter()
                .map(|i| {
                    let o = &i.previous_output;
                    self.utxos
                        .get(o)
                        .map(|c| c.output.value.to_sat())
                        .or_else(|| outputs.get(o).copied())
                })
                .sum();
            // A transaction whose inputs are gone (a coinbase it spent was disconnected
            // too) is dropped.
            let Some(value_in) = value_in else { continue };
            let txid = tx.compute_txid();
            for (vout, o) in tx.output.iter().enumerate() {
                outputs.insert(
                    OutPoint {
                        txid,
                        vout: vout as u32,
                    },
                    o.value.to_sat(),
                );
            }
            let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
            let fee = value_in.saturating_sub(value_out);
            front.push(Entry::new(tx, fee, now, tip_height, false));
        }
        self.mempool.prepend(front);
        hashes
    }

    /// After blocks were disconnected and others connected: drop mempool transactions whose
    /// inputs are gone, and wallet coins that went with them.
    fn after_reorg(&mut self) {
        let utxos = &self.utxos;
        self.mempool.revalidate(|o| utxos.contains_key(o));
        self.revalidate_wallet();
    }

    fn revalidate_wallet(&mut self) {
        let (utxos, mempool) = (&self.utxos, &self.mempool);
        self.wallet.retain_coins(|o| {
            (utxos.contains_key(o) || mempool.has_output(o)) && mempool.spender(o).is_none()
        });
    }

    /// Forget headers beyond [`HEADERS_KEPT`] and transactions beyond [`BODIES_KEPT`].
    fn prune(&mut self) {
        while self.active.len() as u32 > HEADERS_KEPT {
            self.active.pop_front();
            self.base_height += 1;
        }
        let (base, tip) = (self.base_height, self.height());
        self.blocks.retain(|_, r| r.height >= base);
        let active = &self.active;
        let tx_index = &mut self.tx_index;
        for (hash, r) in self.blocks.iter_mut() {
            if r.height + BODIES_KEPT > tip {
                continue;
            }
            r.undo = None;
            if let Some(txs) = r.txs.take() {
                if active.get((r.height - base) as usize) == Some(hash) {
                    for t in txs.iter() {
                        tx_index.remove(&t.compute_txid());
                    }
                }
            }
        }
    }

    /// A known block, as `getblockheader` describes it.
    pub fn block_info(&self, hash: &BlockHash) -> Option<BlockInfo> {
        let r = self.blocks.get(hash)?;
        let active = self.is_active(hash);
        Some(BlockInfo {
            hash: *hash,
            header: r.header,
            height: r.height,
            confirmations: if active {
                (self.height() - r.height + 1) as i64
            } else {
                -1
            },
            median_time: self.median_time_past(hash),
            chainwork: r.chainwork,
            transactions: r.n_tx,
            next: if active {
                self.active_hash(r.height + 1)
            } else {
                None
            },
        })
    }

    /// A kept block's transactions, coinbase first.
    pub fn block_transactions(&self, hash: &BlockHash) -> Option<&[Transaction]> {
        self.blocks.get(hash)?.txs.as_deref().map(Vec::as_slice)
    }

    /// What the RPC shows of a mempool transaction; `None` for unknown and private ones.
    pub fn mempool_info(&self, txid: &Txid) -> Option<MempoolInfo> {
        self.mempool.info(txid)
    }

    /// What the RPC shows of the mempool, in mempool order.
    pub fn mempool_infos(&self) -> Vec<MempoolInfo> {
        self.mempool.infos()
    }

    /// Bumped on every mempool addition and removal.
    pub fn mempool_sequence(&self) -> u64 {
        self.mempool.sequence()
    }

    /// A transaction as `getrawtransaction` finds it: in the public mempool or a kept block
    /// of the active chain, or in the block `block` when given.
    pub fn find_transaction(
        &self,
        txid: &Txid,
        block: Option<&BlockHash>,
    ) -> Result<FoundTransaction, TxLookupError> {
        let in_block = |hash: &BlockHash| -> Result<FoundTransaction, TxLookupError> {
            let r = self.blocks.get(hash).ok_or(TxLookupError::BlockNotFound)?;
            let txs = r.txs.as_ref().ok_or(TxLookupError::BlockNotAvailable)?;
            let tx = txs
                .iter()
                .find(|t| t.compute_txid() == *txid)
                .ok_or(TxLookupError::NotInBlock)?;
            let info = self.block_info(hash).ok_or(TxLookupError::BlockNotFound)?;
            Ok(FoundTransaction {
                tx: tx.clone(),
                block: Some(FoundIn {
                    hash: *hash,
                    time: r.header.time,
                    confirmations: info.confirmations,
                }),
            })
        };
        if let Some(hash) = block {
            return in_block(hash);
        }
        if let Some(e) = self.mempool.get(txid).filter(|e| !e.private) {
            return Ok(FoundTransaction {
                tx: e.tx.clone(),
                block: None,
            });
        }
        match self.tx_index.get(txid) {
            Some(hash) => in_block(hash).map_err(|_| TxLookupError::NotFound),
            None => Err(TxLookupError::NotFound),
        }
    }
}

/// The block subsidy at `height` (halving every 210,000 blocks), as the JDS computes it.
pub use roles_logic_sv2::job_declaration::block_subsidy as subsidy;

/// A segwit coinbase: one null input with `script_sig` and the all-zero witness reserved
/// value, version 2, no lock time.
pub fn segwit_coinbase(script_sig: Vec<u8>, outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0u8; 32]]),
        }],
        output: outputs,
    }
}

/// The scriptSig start BIP34 requires: a push of the height.
pub fn bip34_prefix(height: u32) -> Vec<u8> {
    bitcoin::script::Builder::new()
        .push_int(height as i64)
        .into_script()
        .into_bytes()
}

fn merkle_root_of(txs: &[Transaction]) -> TxMerkleNode {
    let txids = txs
        .iter()
        .map(|t| t.compute_txid().to_byte_array())
        .collect();
    TxMerkleNode::from_byte_array(validate::merkle_root(txids).0)
}

/// The witness commitment output for a block whose transactions after the coinbase have
/// `wtxids`, with the witness reserved value of 32 zero bytes.
fn witness_commitment(wtxids: impl Iterator<Item = [u8; 32]>) -> TxOut {
    let leaves = std::iter::once([0u8; 32]).chain(wtxids).collect();
    let root = WitnessMerkleNode::from_byte_array(validate::merkle_root(leaves).0);
    let commitment = Block::compute_witness_commitment(&root, &[0u8; 32]);
    let mut script = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    script.extend_from_slice(commitment.as_byte_array());
    TxOut {
        value: Amount::ZERO,
        script_pubkey: ScriptBuf::from_bytes(script),
    }
}

#[cfg(test)]
mod tests;
