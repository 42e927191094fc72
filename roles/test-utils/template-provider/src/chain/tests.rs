//! The chain's unit tests: solutions, whole blocks and Core's answers to them, branches,
//! reorganisations, private transactions, large mempools, bounded history.

use super::*;
use bitcoin::consensus::serialize;
use roles_logic_sv2::job::{CoinbaseConfig, JobTemplate, PayoutOutput};

const NOW: u32 = 1_700_000_000;

fn easy() -> Target {
    Target::from_be_bytes([
        0x7f, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0,
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

/// A whole block on the tip with `txs` (from the mempool, so their fee is [`FEE`]), its
/// coinbase paying what is allowed plus `overpay`, mined.
fn block_on_tip(chain: &Chain, txs: Vec<Transaction>, overpay: u64) -> Block {
    let height = chain.height() + 1;
    let fees = FEE * txs.len() as u64;
    let mut script_sig = bip34_prefix(height);
    script_sig.extend_from_slice(&[0x02, 0xab, 0xcd]);
    let coinbase = segwit_coinbase(
        script_sig,
        vec![
            TxOut {
                value: Amount::from_sat(subsidy(height) + fees + overpay),
                script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
            },
            witness_commitment(txs.iter().map(|t| t.compute_wtxid().to_byte_array())),
        ],
    );
    let mut txdata = vec![coinbase];
    txdata.extend(txs);
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(BLOCK_VERSION as i32),
            prev_blockhash: chain.tip(),
            merkle_root: TxMerkleNode::all_zeros(),
            time: chain.min_ntime(),
            bits: chain.bits(),
            nonce: 0,
        },
        txdata,
    };
    remine(&mut block);
    block
}

/// Recompute the merkle root and find a nonce that meets the header's target.
fn remine(block: &mut Block) {
    block.header.merkle_root = merkle_root_of(&block.txdata);
    mine_header(&mut block.header, true);
}

fn mine_header(header: &mut Header, meets: bool) {
    let target = Target::from_compact(header.bits);
    header.nonce = (0u32..)
        .find(|&n| {
            header.nonce = n;
            target.is_met_by(header.block_hash()) == meets
        })
        .unwrap();
}

/// A chain whose wallet has only `coins` funding coins, so that a mempool of more
/// transactions spends unconfirmed outputs.
fn with_coins(coins: u32, seed: u64) -> Chain {
    let mut chain = Chain::new(easy(), NOW, seed);
    chain.wallet.retain_coins(|o| o.vout < coins);
    chain
}

fn mempool_txs(chain: &Chain) -> Vec<Transaction> {
    chain
        .mempool
        .entries()
        .iter()
        .map(|e| e.tx.clone())
        .collect()
}

fn reason(r: Result<Vec<AcceptedBlock>, BlockRejection>) -> String {
    match r {
        Ok(_) => "accepted".into(),
        Err(e) => e.reason().to_string(),
    }
}

#[test]
fn a_solved_template_with_transactions_extends_the_chain() {
    let mut chain = Chain::new(easy(), NOW, 1);
    chain.add_transactions(5, NOW);
    let t = chain.new_template(Constraints::default());
    assert_eq!(t.txs.len(), 5);
    assert_eq!(t.merkle_path.len(), 3, "6 transactions: 3 levels");
    let (ntime, nonce, cb) = solve(&chain, &t, true);
    let b = chain
        .submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb, NOW)
        .unwrap();
    assert_eq!((b.height, b.transactions, b.submitted), (1, 5, true));
    assert_eq!(chain.mempool_len(), 0);
    assert_eq!(chain.tip(), b.hash);
    // The same solution again: its template is gone with the old tip.
    assert_eq!(
        chain.submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb, NOW),
        Err(SolutionError::UnknownTemplate(t.id))
    );
}

#[test]
fn bad_solutions_are_refused_with_cores_reasons() {
    let mut chain = Chain::new(easy(), NOW, 2);
    chain.add_transactions(3, NOW);
    let t = chain.new_template(Constraints::default());
    let (ntime, nonce, cb) = solve(&chain, &t, true);
    let refused = |r: &str| Err(SolutionError::Block(BlockRejection::Invalid(r.into())));
    // Dropping the witness reserved value leaves the commitment without its nonce.
    let mut tx: Transaction = deserialize(&cb).unwrap();
    tx.input[0].witness = Witness::new();
    assert_eq!(
        chain.submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &serialize(&tx), NOW),
        refused("bad-witness-nonce-size")
    );
    // Paying more than allowed.
    let mut tx: Transaction = deserialize(&cb).unwrap();
    tx.output[0].value = Amount::from_sat(t.value_remaining + 1);
    assert!(matches!(
        chain.submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &serialize(&tx), NOW),
        Err(SolutionError::TooMuchValue { .. })
    ));
    // A header above the target.
    let (bad_ntime, bad_nonce, _) = solve(&chain, &t, false);
    assert_eq!(
        chain.submit_solution(t.id, BLOCK_VERSION, bad_ntime, bad_nonce, &cb, NOW),
        refused("high-hash")
    );
    assert_eq!(
        chain.submit_solution(99, BLOCK_VERSION, ntime, nonce, &cb, NOW),
        Err(SolutionError::UnknownTemplate(99))
    );
    assert!(matches!(
        chain.submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &[1, 2, 3], NOW),
        Err(SolutionError::BadCoinbase(_))
    ));
    // An early time, once a header with it meets the target.
    let mut early = (0u32..)
        .map(|n| chain.submit_solution(t.id, BLOCK_VERSION, 5, n, &cb, NOW))
        .find(|r| r != &refused("high-hash"))
        .unwrap();
    assert_eq!(early, refused("time-too-old"));
    // A time too far ahead.
    early = (0u32..)
        .map(|n| chain.submit_solution(t.id, BLOCK_VERSION, NOW + 7201, n, &cb, NOW))
        .find(|r| r != &refused("high-hash"))
        .unwrap();
    assert_eq!(early, refused("time-too-new"));
    // Finally the real one works, and the tip moved on.
    assert!(chain
        .submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb, NOW)
        .is_ok());
    assert_eq!(chain.height(), 1);
}

#[test]
fn external_blocks_move_the_tip_and_stale_old_templates() {
    let mut chain = Chain::new(easy(), NOW, 3);
    chain.add_transactions(4, NOW);
    let t = chain.new_template(Constraints::default());
    let (ntime, nonce, cb) = solve(&chain, &t, true);
    let b = chain.mine_external_block(NOW + 100);
    assert_eq!((chain.height(), b.transactions, b.submitted), (1, 4, false));
    assert_eq!(chain.mempool_len(), 0);
    assert!(chain
        .submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb, NOW)
        .is_err());
    // The simulated network's block is a real block: its header hashes to its id and its
    // transactions hash to its merkle root.
    let info = chain.block_info(&b.hash).unwrap();
    assert_eq!(info.header.block_hash(), b.hash);
    let txs = chain.block_transactions(&b.hash).unwrap();
    assert_eq!(info.header.merkle_root, merkle_root_of(txs));
    assert_eq!(info.header.time, NOW + 100);
}

#[test]
fn constraints_reserve_block_space() {
    let mut chain = Chain::new(easy(), NOW, 4);
    chain.add_transactions(50, NOW);
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

#[test]
fn submitted_blocks_get_cores_answers() {
    let mut chain = Chain::new(easy(), NOW, 5);
    chain.add_transactions(4, NOW);
    let txs = mempool_txs(&chain);
    let good = block_on_tip(&chain, txs.clone(), 0);

    let mut high = good.clone();
    mine_header(&mut high.header, false);
    assert_eq!(reason(chain.submit_block(high, NOW)), "high-hash");

    let mut root = good.clone();
    root.header.merkle_root = TxMerkleNode::all_zeros();
    mine_header(&mut root.header, true);
    assert_eq!(reason(chain.submit_block(root, NOW)), "bad-txnmrklroot");

    let mut commitment = good.clone();
    let script = &mut commitment.txdata[0].output[1].script_pubkey;
    let mut bytes = script.to_bytes();
    bytes[10] ^= 1;
    *script = ScriptBuf::from_bytes(bytes);
    remine(&mut commitment);
    assert_eq!(
        reason(chain.submit_block(commitment.clone(), NOW)),
        "bad-witness-merkle-match"
    );
    // Not remembered: the hash does not commit to witnesses.
    assert_eq!(
        reason(chain.submit_block(commitment, NOW)),
        "bad-witness-merkle-match"
    );

    let mut height = good.clone();
    height.txdata[0].input[0].script_sig = ScriptBuf::from_bytes(vec![0x01, 0x07, 0x00]);
    remine(&mut height);
    assert_eq!(
        reason(chain.submit_block(height.clone(), NOW)),
        "bad-cb-height"
    );
    assert_eq!(reason(chain.submit_block(height, NOW)), "duplicate-invalid");

    let mut old = good.clone();
    old.header.time = chain.min_ntime() - 1;
    mine_header(&mut old.header, true);
    assert_eq!(reason(chain.submit_block(old, NOW)), "time-too-old");

    let mut bits = good.clone();
    bits.header.bits = CompactTarget::from_consensus(0x207f_fffe);
    mine_header(&mut bits.header, true);
    assert_eq!(reason(chain.submit_block(bits, NOW)), "bad-diffbits");

    let mut orphan = good.clone();
    orphan.header.prev_blockhash = BlockHash::from_byte_array([7; 32]);
    mine_header(&mut orphan.header, true);
    assert_eq!(
        reason(chain.submit_block(orphan, NOW)),
        "prev-blk-not-found"
    );

    let mut version = good.clone();
    version.header.version = Version::from_consensus(3);
    mine_header(&mut version.header, true);
    assert_eq!(
        reason(chain.submit_block(version, NOW)),
        "bad-version(0x00000003)"
    );

    let greedy = block_on_tip(&chain, txs.clone(), 1);
    assert_eq!(
        reason(chain.submit_block(greedy.clone(), NOW)),
        "bad-cb-amount"
    );
    assert_eq!(
        reason(chain.submit_block(greedy.clone(), NOW)),
        "duplicate-invalid"
    );
    // A block on an invalid one.
    let mut child = good.clone();
    child.header.prev_blockhash = greedy.block_hash();
    mine_header(&mut child.header, true);
    assert_eq!(reason(chain.submit_block(child, NOW)), "bad-prevblk");

    // A transaction nobody knows: its input does not exist.
    let mut unknown = txs[0].clone();
    unknown.input[0].previous_output.txid = Txid::from_byte_array([9; 32]);
    let missing = block_on_tip(&chain, vec![unknown], 0);
    assert_eq!(
        reason(chain.submit_block(missing, NOW)),
        "bad-txns-inputs-missingorspent"
    );
    // One that spends a real coin with a signature over something else.
    let mut forged = txs[0].clone();
    forged.output[0].value = Amount::from_sat(forged.output[0].value.to_sat() - 1);
    let forged = block_on_tip(&chain, vec![forged], 1);
    assert_eq!(
        reason(chain.submit_block(forged, NOW)),
        "block-script-verify-flag-failed (Script evaluated without error but finished with a false/empty top stack element)"
    );
    // A child before its parent.
    let mut chain2 = with_coins(100, 6);
    chain2.add_transactions(101, NOW);
    let mut reversed = mempool_txs(&chain2);
    assert_eq!(
        reversed[100].input[0].previous_output.txid,
        reversed[0].compute_txid()
    );
    reversed.swap(0, 100);
    let reversed = block_on_tip(&chain2, reversed, 0);
    assert_eq!(
        reason(chain2.submit_block(reversed, NOW)),
        "bad-txns-inputs-missingorspent"
    );

    // Nothing above changed the chain.
    assert_eq!((chain.height(), chain.mempool_len()), (0, 4));
    assert_eq!(reason(chain.submit_block(good.clone(), NOW)), "accepted");
    assert_eq!((chain.height(), chain.mempool_len()), (1, 0));
    assert_eq!(reason(chain.submit_block(good, NOW)), "duplicate");
}

#[test]
fn submitblock_adds_a_missing_witness_reserved_value_as_core_does() {
    let mut chain = Chain::new(easy(), NOW, 7);
    chain.add_transactions(2, NOW);
    let mut block = block_on_tip(&chain, mempool_txs(&chain), 0);
    block.txdata[0].input[0].witness = Witness::new();
    // The txid (and so the header) does not cover the witness.
    assert_eq!(reason(chain.submit_block(block, NOW)), "accepted");
}

#[test]
fn a_block_off_the_tip_is_inconclusive_until_its_branch_is_longer() {
    let mut chain = Chain::new(easy(), NOW, 8);
    chain.add_transactions(3, NOW);
    let genesis = chain.tip();
    let txs = mempool_txs(&chain);
    let a1 = block_on_tip(&chain, txs.clone(), 0);
    // B1: the same height on genesis, without transactions.
    let mut b1 = block_on_tip(&chain, vec![], 0);
    b1.txdata[0].input[0].script_sig = ScriptBuf::from_bytes(vec![0x51, 0x01, 0xbb]);
    remine(&mut b1);
    assert_eq!(reason(chain.submit_block(a1.clone(), NOW)), "accepted");
    assert_eq!(reason(chain.submit_block(b1.clone(), NOW)), "inconclusive");
    assert_eq!(reason(chain.submit_block(b1.clone(), NOW)), "duplicate");
    let stale = chain.block_info(&b1.block_hash()).unwrap();
    assert_eq!((stale.confirmations, stale.height), (-1, 1));
    assert_eq!(chain.tip(), a1.block_hash());
    // B2 on B1 makes that branch the longer one: A1 is disconnected and its transactions
    // return to the mempool.
    let mut b2 = b1.clone();
    b2.header.prev_blockhash = b1.block_hash();
    b2.header.time = b1.header.time + 1;
    b2.txdata[0].input[0].script_sig = ScriptBuf::from_bytes(vec![0x52, 0x01, 0xbb]);
    remine(&mut b2);
    let connected = chain.submit_block(b2.clone(), NOW).unwrap();
    let hashes: Vec<BlockHash> = connected.iter().map(|b| b.hash).collect();
    assert_eq!(hashes, vec![b1.block_hash(), b2.block_hash()]);
    assert!(connected[1].submitted);
    assert_eq!((chain.height(), chain.tip()), (2, b2.block_hash()));
    assert_eq!(
        chain.block_info(&a1.block_hash()).unwrap().confirmations,
        -1
    );
    assert_eq!(chain.block_at(1), Some(b1.block_hash()));
    assert_eq!(chain.block_at(0), Some(genesis));
    assert_eq!(mempool_txs(&chain), txs);
    // And a block that includes them is valid on the new tip.
    let b3 = block_on_tip(&chain, txs, 0);
    assert_eq!(reason(chain.submit_block(b3, NOW)), "accepted");
    assert_eq!(chain.mempool_len(), 0);
}

#[test]
fn reorg_replaces_blocks_and_returns_their_transactions() {
    let mut chain = Chain::new(easy(), NOW, 9);
    let mut old = Vec::new();
    for i in 0..3 {
        chain.add_transactions(2, NOW + i);
        old.push(chain.mine_external_block(NOW + 10 * i));
    }
    let template = chain.new_template(Constraints::default());
    let fork = chain.block_at(1).unwrap();
    assert_eq!(
        chain.reorg(0, NOW),
        Err(ReorgError::Depth { depth: 0, max: 3 })
    );
    assert_eq!(
        chain.reorg(4, NOW),
        Err(ReorgError::Depth { depth: 4, max: 3 })
    );
    let new = chain.reorg(2, NOW + 100).unwrap();
    assert_eq!(new.len(), 3);
    assert_eq!(chain.height(), 4);
    assert_eq!(chain.tip(), new[2].hash);
    assert!(new.iter().all(|b| !b.submitted && b.transactions == 0));
    // The new branch hangs off the fork point.
    assert_eq!(chain.block_at(1), Some(fork));
    let first = chain.block_info(&new[0].hash).unwrap();
    assert_eq!(first.header.prev_blockhash, fork);
    assert_eq!(chain.block_info(&fork).unwrap().next, Some(new[0].hash));
    for (i, b) in new.iter().enumerate() {
        assert_eq!(chain.block_at(2 + i as u32), Some(b.hash));
        assert!(!old.iter().any(|o| o.hash == b.hash));
    }
    // The replaced blocks are stale but known; their transactions are back.
    for o in &old[1..] {
        assert_eq!(chain.block_info(&o.hash).unwrap().confirmations, -1);
    }
    assert_eq!(chain.block_info(&old[0].hash).unwrap().confirmations, 4);
    assert_eq!(chain.mempool_len(), 4);
    assert_eq!(chain.mempool_infos().len(), 4);
    assert!(matches!(
        chain.template(template.id),
        None | Some((_, false))
    ));
    // They are valid on the new chain.
    let b = chain.mine_external_block(NOW + 200);
    assert_eq!(b.transactions, 4);
    // Old transactions are no longer found in blocks.
    let old_tx = chain.block_transactions(&old[2].hash).unwrap()[1].compute_txid();
    assert_eq!(
        chain
            .find_transaction(&old_tx, None)
            .unwrap()
            .block
            .unwrap()
            .hash,
        b.hash
    );
}

#[test]
fn private_transactions_are_in_templates_but_not_in_the_rpc_mempool() {
    let mut chain = Chain::new(easy(), NOW, 10);
    chain.add_transactions(3, NOW);
    assert_eq!(chain.add_private_transactions(200, NOW), 200);
    chain.add_transactions(300, NOW);
    assert_eq!(chain.mempool_len(), 503.min(chain.options().max_mempool));
    let t = chain.new_template(Constraints::default());
    assert_eq!(t.txs.len(), chain.mempool_len());
    let public = chain.mempool_infos();
    assert_eq!(public.len(), chain.public_mempool_len());
    assert_eq!(public.len(), chain.mempool_len() - 200);
    let private: Vec<&Entry> = chain
        .mempool
        .entries()
        .iter()
        .filter(|e| e.private)
        .collect();
    assert_eq!(private.len(), 200);
    let hidden = private[0].txid;
    assert_eq!(chain.mempool_info(&hidden), None);
    assert_eq!(
        chain.find_transaction(&hidden, None),
        Err(TxLookupError::NotFound)
    );
    // No public transaction depends on a private one.
    let private_ids: HashSet<Txid> = private.iter().map(|e| e.txid).collect();
    for e in chain.mempool.entries().iter().filter(|e| !e.private) {
        assert!(!private_ids.contains(&e.tx.input[0].previous_output.txid));
    }
    // A block with them is valid, and then they are found in it.
    let block = block_on_tip(&chain, t.txs.clone(), 0);
    let hash = block.block_hash();
    assert_eq!(reason(chain.submit_block(block, NOW)), "accepted");
    let found = chain.find_transaction(&hidden, None).unwrap();
    assert_eq!(found.block.unwrap().hash, hash);
}

#[test]
fn mempool_entries_show_dependencies_as_core_does() {
    let mut chain = with_coins(100, 13);
    chain.add_transactions(300, NOW);
    // 100 funding coins: transactions 0..100 spend them, then 100 and 101 spend the two
    // outputs of transaction 0, and nothing spends theirs yet.
    let e = chain.mempool.entries();
    let (root, a, b) = (e[0].txid, e[100].txid, e[101].txid);
    let info = chain.mempool_info(&root).unwrap();
    assert_eq!(info.spent_by, vec![a, b]);
    assert!(info.depends.is_empty());
    assert_eq!((info.ancestor_count, info.descendant_count), (1, 3));
    assert_eq!(info.fee, FEE);
    assert_eq!(info.vsize, info.weight.div_ceil(4));
    assert!(info.replaceable);
    let child = chain.mempool_info(&a).unwrap();
    let sibling = chain.mempool_info(&b).unwrap();
    assert_eq!(child.depends, vec![root]);
    assert!(child.spent_by.is_empty());
    assert_eq!((child.ancestor_count, child.descendant_count), (2, 1));
    assert_eq!(child.ancestor_fees, 2 * FEE);
    assert_eq!(child.ancestor_size, info.vsize + child.vsize);
    assert_eq!(
        info.descendant_size,
        info.vsize + child.vsize + sibling.vsize
    );
    assert_eq!(info.descendant_fees, 3 * FEE);
    // A block with the first 100 confirms the parents: their children depend on nothing.
    let first: Vec<Transaction> = mempool_txs(&chain)[..100].to_vec();
    let block = block_on_tip(&chain, first, 0);
    assert_eq!(reason(chain.submit_block(block, NOW)), "accepted");
    assert_eq!(chain.mempool_len(), 200);
    assert!(chain.mempool_infos().iter().all(|i| i.depends.is_empty()));
    assert!(chain.mempool_info(&root).is_none());
}

#[test]
fn thousands_of_transactions_fit_a_template_and_a_block() {
    let mut chain = Chain::with_options(
        easy(),
        NOW,
        14,
        ChainOptions {
            max_mempool: 3000,
            ..ChainOptions::default()
        },
    );
    assert_eq!(chain.add_transactions(3000, NOW), 3000);
    assert_eq!(chain.wallet_coins(), 3000 + 3000);
    let t = chain.new_template(Constraints::default());
    assert_eq!(t.txs.len(), 3000);
    assert_eq!(t.merkle_path.len(), 12);
    let (ntime, nonce, cb) = solve(&chain, &t, true);
    let b = chain
        .submit_solution(t.id, BLOCK_VERSION, ntime, nonce, &cb, NOW)
        .unwrap();
    assert_eq!(b.transactions, 3000);
    // The next interval spends the confirmed outputs.
    assert_eq!(chain.add_transactions(3000, NOW + 10), 3000);
    assert!(chain.mempool_infos().iter().all(|i| i.depends.is_empty()));
}

#[test]
fn padded_transactions_fill_blocks_up_to_the_weight_limit() {
    let mut chain = Chain::with_options(
        easy(),
        NOW,
        15,
        ChainOptions {
            max_mempool: 1000,
            transaction_padding: 10_000,
        },
    );
    chain.add_transactions(1000, NOW);
    let t = chain.new_template(Constraints::default());
    let weight: u64 = t.txs.iter().map(|t| t.weight().to_wu()).sum();
    assert!(t.txs.len() < 1000 && t.txs.len() > 90, "{}", t.txs.len());
    assert!(weight <= MAX_BLOCK_WEIGHT && weight > MAX_BLOCK_WEIGHT - 50_000);
    let b = chain.mine_external_block(NOW);
    assert_eq!(b.transactions, t.txs.len());
}

#[test]
fn history_is_bounded() {
    let mut chain = Chain::new(easy(), NOW, 16);
    let genesis = chain.tip();
    chain.add_transactions(1, NOW);
    let first = chain.mine_external_block(NOW);
    let tx = chain.block_transactions(&first.hash).unwrap()[1].compute_txid();
    assert!(chain.find_transaction(&tx, None).is_ok());
    for i in 0..BODIES_KEPT {
        chain.mine_external_block(NOW + i);
    }
    // The transactions of a block deeper than BODIES_KEPT are gone, its header is not.
    assert_eq!(
        chain.find_transaction(&tx, None),
        Err(TxLookupError::NotFound)
    );
    assert_eq!(
        chain.find_transaction(&tx, Some(&first.hash)),
        Err(TxLookupError::BlockNotAvailable)
    );
    assert!(chain.block_info(&first.hash).is_some());
    assert_eq!(
        chain.reorg(BODIES_KEPT + 1, NOW),
        Err(ReorgError::Depth {
            depth: BODIES_KEPT + 1,
            max: BODIES_KEPT
        })
    );
    while chain.height() < HEADERS_KEPT + 5 {
        chain.mine_external_block(NOW);
    }
    assert!(chain.block_info(&genesis).is_none());
    assert!(chain.block_info(&first.hash).is_none());
    assert_eq!(chain.blocks.len() as u32, HEADERS_KEPT);
    assert!(chain.tx_index.len() <= BODIES_KEPT as usize);
    assert_eq!(chain.block_at(5), None);
    let info = chain.block_info(&chain.tip()).unwrap();
    assert_eq!((info.height, info.confirmations), (HEADERS_KEPT + 5, 1));
    // The deepest allowed reorganisation still works.
    chain.reorg(BODIES_KEPT, NOW).unwrap();
    assert_eq!(chain.height(), HEADERS_KEPT + 6);
}

#[test]
fn median_time_past_bounds_header_times() {
    let mut chain = Chain::new(easy(), NOW, 17);
    for i in 0..11 {
        chain.mine_external_block(NOW + 100 * i);
    }
    // Genesis at NOW, then NOW+1 (the earliest after it), NOW+100 .. NOW+1000: the median of
    // the last 11 is NOW+500.
    assert_eq!(chain.min_ntime(), NOW + 501);
    assert_eq!(chain.block_time(NOW), NOW + 501);
    assert_eq!(chain.block_time(NOW + 2000), NOW + 2000);
    let info = chain.block_info(&chain.tip()).unwrap();
    assert_eq!(info.median_time, NOW + 500);
}
