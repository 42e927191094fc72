//! A simulated chain, sans-IO: blocks, a wallet that funds a mempool of signed segwit
//! transactions, templates built from them, and full checks of submitted solutions.
//!
//! The chain starts from its own genesis, whose funding transaction gives the wallet coins.
//! Every mempool transaction spends a wallet output (P2WPKH, signed) and pays two new wallet
//! outputs, so templates carry real transactions with witnesses, and a pool must get the
//! witness commitment right for its blocks to be accepted.

use bitcoin::block::{Header, Version};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey, SignOnly};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, CompressedPublicKey, OutPoint,
    ScriptBuf, Sequence, Target, Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
    WitnessMerkleNode,
};
use roles_logic_sv2::job::coinbase_merkle_path;
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// Block version of templates (BIP9 top bits, nothing signalled).
pub const BLOCK_VERSION: u32 = 0x2000_0000;
const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// Weight of a coinbase before the pool adds anything (generous).
const COINBASE_BASE_WEIGHT: u64 = 4 * 200;
const FEE: u64 = 1_000;

/// What a client may add to the coinbase (CoinbaseOutputConstraints).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Constraints {
    pub max_additional_size: u32,
    pub max_additional_sigops: u16,
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

/// Why a solution was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolutionError {
    UnknownTemplate(u64),
    Stale { template_id: u64 },
    BadCoinbase(String),
    CoinbaseHeight { expected: u32 },
    MissingOutput,
    TooMuchValue { paid: u64, allowed: u64 },
    WitnessCommitment,
    ProofOfWork,
    Timestamp { ntime: u32, min: u32 },
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
            SolutionError::CoinbaseHeight { expected } => {
                write!(f, "coinbase does not start with BIP34 height {expected}")
            }
            SolutionError::MissingOutput => {
                f.write_str("coinbase lacks an output the template requires")
            }
            SolutionError::TooMuchValue { paid, allowed } => {
                write!(f, "coinbase pays {paid} sat, only {allowed} available")
            }
            SolutionError::WitnessCommitment => f.write_str("witness commitment does not match"),
            SolutionError::ProofOfWork => f.write_str("header hash is above the block target"),
            SolutionError::Timestamp { ntime, min } => {
                write!(f, "header time {ntime} before the minimum {min}")
            }
        }
    }
}

impl std::error::Error for SolutionError {}

/// A block the chain appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedBlock {
    pub height: u32,
    pub hash: BlockHash,
    pub transactions: usize,
    /// Whether it came from a client's SubmitSolution (rather than the simulated network).
    pub submitted: bool,
}

struct Wallet {
    secp: Secp256k1<SignOnly>,
    key: SecretKey,
    pubkey: CompressedPublicKey,
    script: ScriptBuf,
    utxos: VecDeque<(OutPoint, u64)>,
}

/// The simulated chain.
pub struct Chain {
    tip: BlockHash,
    tip_time: u32,
    height: u32,
    bits: CompactTarget,
    target: Target,
    wallet: Wallet,
    mempool: Vec<Transaction>,
    templates: HashMap<u64, Template>,
    next_template_id: u64,
    max_mempool: usize,
}

impl Chain {
    /// A chain whose blocks must meet `target` (rounded to what nbits can say).
    pub fn new(target: Target, now: u32, seed: u64) -> Chain {
        let bits = target.to_compact_lossy();
        let secp = Secp256k1::signing_only();
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&seed.wrapping_add(1).to_le_bytes());
        k[31] = 1;
        let key = SecretKey::from_slice(&k).expect("a non-zero 32-byte key below the order");
        let pubkey = CompressedPublicKey(key.public_key(&secp));
        let script = ScriptBuf::new_p2wpkh(&pubkey.wpubkey_hash());
        // Genesis funds the wallet: 100 outputs of 1 BTC. It is never validated.
        let funding = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn::default()],
            output: (0..100)
                .map(|_| TxOut {
                    value: Amount::from_sat(100_000_000),
                    script_pubkey: script.clone(),
                })
                .collect(),
        };
        let txid = funding.compute_txid();
        let utxos = (0..100)
            .map(|i| (OutPoint { txid, vout: i }, 100_000_000))
            .collect();
        let genesis = Header {
            version: Version::from_consensus(BLOCK_VERSION as i32),
            prev_blockhash: BlockHash::all_zeros(),
            merkle_root: TxMerkleNode::from_byte_array(txid.to_byte_array()),
            time: now,
            bits,
            nonce: seed as u32,
        };
        Chain {
            tip: genesis.block_hash(),
            tip_time: now,
            height: 0,
            bits,
            target: Target::from_compact(bits),
            wallet: Wallet {
                secp,
                key,
                pubkey,
                script,
                utxos,
            },
            mempool: Vec::new(),
            templates: HashMap::new(),
            next_template_id: 1,
            max_mempool: 500,
        }
    }

    pub fn tip(&self) -> BlockHash {
        self.tip
    }

    /// Height of the tip.
    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn bits(&self) -> CompactTarget {
        self.bits
    }

    pub fn target(&self) -> Target {
        self.target
    }

    /// Earliest header time for the next block.
    pub fn min_ntime(&self) -> u32 {
        self.tip_time + 1
    }

    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// Add up to `n` signed transactions to the mempool.
    pub fn add_transactions(&mut self, n: usize) {
        for _ in 0..n {
            if self.mempool.len() >= self.max_mempool {
                return;
            }
            let Some((outpoint, value)) = self.wallet.utxos.pop_front() else {
                return;
            };
            if value < 3 * FEE {
                continue;
            }
            let half = (value - FEE) / 2;
            let mut tx = Transaction {
                version: transaction::Version::TWO,
                lock_time: absolute::LockTime::ZERO,
                input: vec![TxIn {
                    previous_output: outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                }],
                output: vec![
                    TxOut {
                        value: Amount::from_sat(half),
                        script_pubkey: self.wallet.script.clone(),
                    },
                    TxOut {
                        value: Amount::from_sat(value - FEE - half),
                        script_pubkey: self.wallet.script.clone(),
                    },
                ],
            };
            let sighash = SighashCache::new(&tx)
                .p2wpkh_signature_hash(
                    0,
                    &self.wallet.script,
                    Amount::from_sat(value),
                    EcdsaSighashType::All,
                )
                .expect("input 0 exists and the script is P2WPKH");
            let sig = self.wallet.secp.sign_ecdsa(
                &Message::from_digest(sighash.to_byte_array()),
                &self.wallet.key,
            );
            let sig = bitcoin::ecdsa::Signature {
                signature: sig,
                sighash_type: EcdsaSighashType::All,
            };
            tx.input[0].witness = Witness::p2wpkh(&sig, &self.wallet.pubkey.0);
            let txid = tx.compute_txid();
            for (vout, o) in tx.output.iter().enumerate() {
                self.wallet.utxos.push_back((
                    OutPoint {
                        txid,
                        vout: vout as u32,
                    },
                    o.value.to_sat(),
                ));
            }
            self.mempool.push(tx);
        }
    }

    /// A template on the tip for a client with `constraints`.
    pub fn new_template(&mut self, constraints: Constraints) -> Template {
        let reserved = COINBASE_BASE_WEIGHT
            + 4 * constraints.max_additional_size as u64
            + 4 * 4 * constraints.max_additional_sigops as u64;
        let mut weight = 4 * 80 + reserved;
        let mut txs = Vec::new();
        // Mempool order has parents before children, so any prefix is a valid block.
        for tx in &self.mempool {
            let w = tx.weight().to_wu();
            if weight + w > MAX_BLOCK_WEIGHT {
                break;
            }
            weight += w;
            txs.push(tx.clone());
        }
        let fees = FEE * txs.len() as u64;
        let height = self.height + 1;
        let subsidy = 5_000_000_000u64 >> (height / 210_000).min(63);
        let commitment = witness_commitment(&txs);
        let txids: Vec<[u8; 32]> = txs
            .iter()
            .map(|t| t.compute_txid().to_byte_array())
            .collect();
        let id = self.next_template_id;
        self.next_template_id += 1;
        let t = Template {
            id,
            prev_hash: self.tip,
            height,
            merkle_path: coinbase_merkle_path(&txids),
            txs,
            value_remaining: subsidy + fees,
            coinbase_prefix: bip34_prefix(height),
            required_outputs: vec![commitment],
        };
        self.templates.insert(id, t.clone());
        // Keep the templates of the tip and the one before it.
        let tip = self.tip;
        if self.templates.len() > 256 {
            self.templates.retain(|_, t| t.prev_hash == tip);
        }
        t
    }

    /// A template by id, and whether it is still on the tip.
    pub fn template(&self, id: u64) -> Option<(&Template, bool)> {
        self.templates
            .get(&id)
            .map(|t| (t, t.prev_hash == self.tip))
    }

    /// Check a SubmitSolution and, if it is a valid block on the tip, append it.
    pub fn submit_solution(
        &mut self,
        template_id: u64,
        version: u32,
        header_timestamp: u32,
        header_nonce: u32,
        coinbase_tx: &[u8],
    ) -> Result<AcceptedBlock, SolutionError> {
        let t = self
            .templates
            .get(&template_id)
            .ok_or(SolutionError::UnknownTemplate(template_id))?;
        if t.prev_hash != self.tip {
            return Err(SolutionError::Stale { template_id });
        }
        if header_timestamp < self.min_ntime() {
            return Err(SolutionError::Timestamp {
                ntime: header_timestamp,
                min: self.min_ntime(),
            });
        }
        let coinbase: Transaction =
            deserialize(coinbase_tx).map_err(|e| SolutionError::BadCoinbase(e.to_string()))?;
        if !coinbase.is_coinbase() {
            return Err(SolutionError::BadCoinbase(
                "first input is not the null outpoint".into(),
            ));
        }
        let sig_len = coinbase.input[0].script_sig.len();
        if !(2..=100).contains(&sig_len) {
            return Err(SolutionError::BadCoinbase(format!(
                "scriptSig of {sig_len} bytes"
            )));
        }
        // BIP34 as Bitcoin Core checks it: the scriptSig starts with `CScript() << height`
        // (OP_1..OP_16 for small heights, which the bitcoin crate's parser does not accept).
        if !coinbase.input[0]
            .script_sig
            .as_bytes()
            .starts_with(&t.coinbase_prefix)
        {
            return Err(SolutionError::CoinbaseHeight { expected: t.height });
        }
        for required in &t.required_outputs {
            if !coinbase.output.contains(required) {
                return Err(SolutionError::MissingOutput);
            }
        }
        let paid: u64 = coinbase.output.iter().map(|o| o.value.to_sat()).sum();
        if paid > t.value_remaining {
            return Err(SolutionError::TooMuchValue {
                paid,
                allowed: t.value_remaining,
            });
        }
        let mut txdata = vec![coinbase];
        txdata.extend(t.txs.iter().cloned());
        let mut block = Block {
            header: Header {
                version: Version::from_consensus(version as i32),
                prev_blockhash: self.tip,
                merkle_root: TxMerkleNode::all_zeros(),
                time: header_timestamp,
                bits: self.bits,
                nonce: header_nonce,
            },
            txdata,
        };
        block.header.merkle_root = block
            .compute_merkle_root()
            .ok_or_else(|| SolutionError::BadCoinbase("empty block".into()))?;
        if !block.check_witness_commitment() {
            return Err(SolutionError::WitnessCommitment);
        }
        let hash = block
            .header
            .validate_pow(self.target)
            .map_err(|_| SolutionError::ProofOfWork)?;
        let n = block.txdata.len() - 1;
        // Round trip through bytes: what a node would receive.
        let _: Block = deserialize(&serialize(&block))
            .map_err(|e| SolutionError::BadCoinbase(e.to_string()))?;
        self.append(
            hash,
            header_timestamp,
            &block.txdata[1..]
                .iter()
                .map(|t| t.compute_txid())
                .collect::<Vec<_>>(),
        );
        Ok(AcceptedBlock {
            height: self.height,
            hash,
            transactions: n,
            submitted: true,
        })
    }

    /// The rest of the network finds a block (with the mempool in it).
    pub fn mine_external_block(&mut self, now: u32) -> AcceptedBlock {
        let t = self.new_template(Constraints::default());
        let ids: Vec<Txid> = t.txs.iter().map(|t| t.compute_txid()).collect();
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&(self.height as u64 + 1).to_le_bytes());
        h[8..12].copy_from_slice(&now.to_le_bytes());
        h[31] = 0xee;
        let hash = BlockHash::from_byte_array(h);
        let time = now.max(self.min_ntime());
        self.append(hash, time, &ids);
        AcceptedBlock {
            height: self.height,
            hash,
            transactions: ids.len(),
            submitted: false,
        }
    }

    fn append(&mut self, hash: BlockHash, time: u32, included: &[Txid]) {
        self.tip = hash;
        self.tip_time = time;
        self.height += 1;
        self.mempool
            .retain(|tx| !included.contains(&tx.compute_txid()));
        let tip = hash;
        self.templates.retain(|_, t| t.prev_hash == tip);
    }
}

/// The scriptSig start BIP34 requires: a push of the height.
pub fn bip34_prefix(height: u32) -> Vec<u8> {
    bitcoin::script::Builder::new()
        .push_int(height as i64)
        .into_script()
        .into_bytes()
}

/// The witness commitment output for a block of `txs` after the coinbase, with the witness
/// reserved value of 32 zero bytes.
fn witness_commitment(txs: &[Transaction]) -> TxOut {
    let wtxids = std::iter::once([0u8; 32])
        .chain(txs.iter().map(|t| t.compute_wtxid().to_byte_array()))
        .map(WitnessMerkleNode::from_byte_array);
    let root = bitcoin::merkle_tree::calculate_root(wtxids).expect("at least the coinbase");
    let commitment = Block::compute_witness_commitment(&root, &[0u8; 32]);
    let mut script = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    script.extend_from_slice(commitment.as_byte_array());
    TxOut {
        value: Amount::ZERO,
        script_pubkey: ScriptBuf::from_bytes(script),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roles_logic_sv2::job::{CoinbaseConfig, JobTemplate, PayoutOutput};

    fn easy() -> Target {
        Target::from_be_bytes([
            0x7f, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0,
        ])
    }

    /// Build the pool's coinbase for a chain template and mine it.
    fn solve(chain: &Chain, t: &Template, meets: bool) -> (u32, u32, Vec<u8>) {
        let outputs: Vec<u8> = t.required_outputs.iter().flat_map(serialize).collect();
        let nt = template_distribution_sv2::NewTemplate {
            template_id: t.id,
            future_template: false,
            version: BLOCK_VERSION,
            coinbase_tx_version: 2,
            coinbase_prefix: binary_sv2::B0255::new(t.coinbase_prefix.clone()).unwrap(),
            coinbase_tx_input_sequence: 0xffff_ffff,
            coinbase_tx_value_remaining: t.value_remaining,
            coinbase_tx_outputs_count: t.required_outputs.len() as u32,
            coinbase_tx_outputs: binary_sv2::B064K::new(outputs).unwrap(),
            coinbase_tx_locktime: 0,
            merkle_path: binary_sv2::Seq0255::from_items(
                t.merkle_path.iter().map(|h| binary_sv2::U256(*h)),
            )
            .unwrap(),
        };
        let job = JobTemplate::from_template(
            &nt,
            &CoinbaseConfig {
                payout_outputs: vec![PayoutOutput {
                    script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
                    weight: 1,
                }],
                pool_tag: b"t".to_vec(),
                extranonce_len: 8,
            },
        )
        .unwrap();
        let en = [3u8; 8];
        let root = job.merkle_root(&en).unwrap();
        let ntime = chain.min_ntime();
        let target = roles_logic_sv2::target::from_nbits(chain.bits().to_consensus());
        let nonce = (0u32..)
            .find(|&n| {
                let h = roles_logic_sv2::job::block_header(
                    BLOCK_VERSION,
                    chain.tip().as_byte_array(),
                    &root,
                    ntime,
                    chain.bits().to_consensus(),
                    n,
                );
                roles_logic_sv2::target::hash_meets_target(&roles_logic_sv2::sha256d(&h), &target)
                    == meets
            })
            .unwrap();
        let cb = job.full_coinbase(&en).unwrap();
        (ntime, nonce, cb)
    }

    #[test]
    fn a_solved_template_with_transactions_extends_the_chain() {
        let mut chain = Chain::new(easy(), 1_700_000_000, 1);
        chain.add_transactions(5);
        let t = chain.new_template(Constraints::default());
        assert_eq!(t.txs.len(), 5);
        assert_eq!(t.merkle_path.len(), 3, "6 transactions: 3 levels");
        let (ntime, nonce, cb) = solve(&chain, &t, true);
        let b = chain
            .submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb)
            .unwrap();
        assert_eq!((b.height, b.transactions), (1, 5));
        assert_eq!(chain.mempool_len(), 0);
        // The same solution again is stale now.
        assert_eq!(
            chain.submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb),
            Err(SolutionError::UnknownTemplate(t.id))
        );
    }

    #[test]
    fn bad_solutions_are_refused() {
        let mut chain = Chain::new(easy(), 1_700_000_000, 2);
        chain.add_transactions(3);
        let t = chain.new_template(Constraints::default());
        // Dropping the witness breaks the commitment.
        let (ntime, nonce, cb) = solve(&chain, &t, true);
        let mut tx: Transaction = deserialize(&cb).unwrap();
        tx.input[0].witness = Witness::new();
        assert_eq!(
            chain.submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &serialize(&tx)),
            Err(SolutionError::WitnessCommitment)
        );
        // Paying more than allowed.
        let mut tx: Transaction = deserialize(&cb).unwrap();
        tx.output[0].value = Amount::from_sat(t.value_remaining + 1);
        assert!(matches!(
            chain.submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &serialize(&tx)),
            Err(SolutionError::TooMuchValue { .. })
        ));
        // A header above the target.
        let (bad_ntime, bad_nonce, _) = solve(&chain, &t, false);
        assert_eq!(
            chain.submit_solution(t.id, BLOCK_VERSION, bad_ntime, bad_nonce, &cb),
            Err(SolutionError::ProofOfWork)
        );
        assert_eq!(
            chain.submit_solution(99, BLOCK_VERSION, ntime, nonce, &cb),
            Err(SolutionError::UnknownTemplate(99))
        );
        assert!(matches!(
            chain.submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &[1, 2, 3]),
            Err(SolutionError::BadCoinbase(_))
        ));
        assert!(matches!(
            chain.submit_solution(t.id, BLOCK_VERSION, 5, nonce, &cb),
            Err(SolutionError::Timestamp { .. })
        ));
        // Finally the real one works.
        assert!(chain
            .submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb)
            .is_ok());
    }

    #[test]
    fn external_blocks_move_the_tip_and_stale_old_templates() {
        let mut chain = Chain::new(easy(), 1_700_000_000, 3);
        let t = chain.new_template(Constraints::default());
        let (ntime, nonce, cb) = solve(&chain, &t, true);
        chain.mine_external_block(1_700_000_100);
        assert_eq!(chain.height(), 1);
        assert!(chain
            .submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb)
            .is_err());
    }

    #[test]
    fn constraints_reserve_block_space() {
        let mut chain = Chain::new(easy(), 1_700_000_000, 4);
        chain.add_transactions(50);
        let all = chain.new_template(Constraints::default()).txs.len();
        let some = chain
            .new_template(Constraints {
                max_additional_size: 999_000 - 50 * 120,
                max_additional_sigops: 0,
            })
            .txs
            .len();
        assert_eq!(all, 50);
        assert!(some < all, "{some} < {all}");
    }
}
