//! The simulated miner's wallet: it owns every coin of the chain's genesis and signs the
//! segwit transactions that fill the mempool.

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{All, Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    absolute, transaction, Amount, CompressedPublicKey, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Txid, Witness,
};
use std::collections::VecDeque;

/// The fee of every wallet transaction, in satoshis.
pub const FEE: u64 = 1_000;

/// Largest push in the padding output (the script interpreter's limit, kept although an
/// OP_RETURN output is never run).
const MAX_PUSH: usize = 520;

pub(crate) struct Wallet {
    secp: Secp256k1<All>,
    key: SecretKey,
    pubkey: CompressedPublicKey,
    script: ScriptBuf,
    /// Coins that new public transactions spend, oldest first, so that blocks (which take
    /// the oldest transactions) confirm coins before they are spent again.
    coins: VecDeque<(OutPoint, u64)>,
    /// Outputs of private transactions. Only private transactions spend them, so no
    /// transaction the RPC shows ever depends on one it hides.
    private_coins: VecDeque<(OutPoint, u64)>,
}

impl Wallet {
    pub fn new(seed: u64) -> Wallet {
        let secp = Secp256k1::new();
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&seed.wrapping_add(1).to_le_bytes());
        k[31] = 1;
        let key = SecretKey::from_slice(&k).expect("a non-zero 32-byte key below the order");
        let pubkey = CompressedPublicKey(key.public_key(&secp));
        let script = ScriptBuf::new_p2wpkh(&pubkey.wpubkey_hash());
        Wallet {
            secp,
            key,
            pubkey,
            script,
            coins: VecDeque::new(),
            private_coins: VecDeque::new(),
        }
    }

    pub fn secp(&self) -> &Secp256k1<All> {
        &self.secp
    }

    /// A transaction (never validated: its input is null) that pays the wallet `coins`
    /// outputs of 1 BTC; [`Wallet::fund`] takes them.
    pub fn funding(&self, coins: usize) -> Transaction {
        Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn::default()],
            output: vec![
                TxOut {
                    value: Amount::from_sat(100_000_000),
                    script_pubkey: self.script.clone(),
                };
                coins
            ],
        }
    }

    /// The wallet's P2WPKH script.
    pub fn script(&self) -> &ScriptBuf {
        &self.script
    }

    /// Take the outputs of a funding transaction as coins.
    pub fn fund(&mut self, funding: &Transaction) {
        let txid = funding.compute_txid();
        for (vout, o) in funding.output.iter().enumerate() {
            if o.script_pubkey == self.script {
                self.coins.push_back((
                    OutPoint {
                        txid,
                        vout: vout as u32,
                    },
                    o.value.to_sat(),
                ));
            }
        }
    }

    /// Coins not yet spent by a transaction the wallet made.
    pub fn coin_count(&self) -> usize {
        self.coins.len() + self.private_coins.len()
    }

    /// Keep only the coins `valid` accepts (after a reorganisation dropped transactions).
    pub fn retain_coins(&mut self, valid: impl Fn(&OutPoint) -> bool) {
        self.coins.retain(|(o, _)| valid(o));
        self.private_coins.retain(|(o, _)| valid(o));
    }

    /// A signed transaction that spends the next coin into two halves (less [`FEE`]), plus an
    /// OP_RETURN output of `padding` bytes when asked; `None` when every coin is spent.
    /// A private transaction spends private coins first and leaves its outputs to private
    /// transactions only.
    pub fn spend(&mut self, private: bool, padding: usize) -> Option<Transaction> {
        let (outpoint, value) = loop {
            let queue = if private && !self.private_coins.is_empty() {
                &mut self.private_coins
            } else {
                &mut self.coins
            };
            let (outpoint, value) = queue.pop_front()?;
            // Coins too small to split stay unspent.
            if value >= 3 * FEE {
                break (outpoint, value);
            }
        };
        let half = (value - FEE) / 2;
        let mut output = vec![
            TxOut {
                value: Amount::from_sat(half),
                script_pubkey: self.script.clone(),
            },
            TxOut {
                value: Amount::from_sat(value - FEE - half),
                script_pubkey: self.script.clone(),
            },
        ];
        if padding > 0 {
            output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: padding_script(padding),
            });
        }
        let mut tx = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            }],
            output,
        };
        let sighash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(
                0,
                &self.script,
                Amount::from_sat(value),
                EcdsaSighashType::All,
            )
            .expect("input 0 exists and the script is P2WPKH");
        let signature = self
            .secp
            .sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &self.key);
        let sig = bitcoin::ecdsa::Signature {
            signature,
            sighash_type: EcdsaSighashType::All,
        };
        tx.input[0].witness = Witness::p2wpkh(&sig, &self.pubkey.0);
        let txid: Txid = tx.compute_txid();
        let queue = if private {
            &mut self.private_coins
        } else {
            &mut self.coins
        };
        for vout in 0..2u32 {
            let v = tx.output[vout as usize].value.to_sat();
            queue.push_back((OutPoint { txid, vout }, v));
        }
        Some(tx)
    }
}

/// `OP_RETURN` followed by pushes of `len` zero bytes in all.
fn padding_script(len: usize) -> ScriptBuf {
    let mut s = vec![0x6a];
    let mut left = len;
    while left > 0 {
        let n = left.min(MAX_PUSH);
        match n {
            1..=75 => s.push(n as u8),
            76..=255 => s.extend_from_slice(&[0x4c, n as u8]),
            _ => {
                s.push(0x4d);
                s.extend_from_slice(&(n as u16).to_le_bytes());
            }
        }
        s.resize(s.len() + n, 0);
        left -= n;
    }
    ScriptBuf::from_bytes(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_makes_transactions_bigger_by_about_its_length() {
        let mut w = Wallet::new(1);
        let funding = w.funding(2);
        w.fund(&funding);
        let plain = w.spend(false, 0).unwrap();
        let padded = w.spend(false, 10_000).unwrap();
        let extra = padded.base_size() - plain.base_size();
        assert!((10_000..10_100).contains(&extra), "{extra}");
        assert!(padded.output[2].script_pubkey.is_op_return());
        // Outputs of the first transaction are spent after the funding coins.
        let third = w.spend(true, 0).unwrap();
        assert_eq!(third.input[0].previous_output.txid, plain.compute_txid());
    }
}
