//! The shares of one channel that wait for their upstream's answer, and how answers are read.
//!
//! Sequence numbers are per channel and increase (wrapping). `SubmitShares.Error` names one
//! share; `SubmitShares.Success` covers every share up to `last_sequence_number` but only
//! *counts* how many of them it accepts (05, 5.3.13), and 5.3.14 allows an error to arrive
//! after a success that covered its share ("delayed validation"; a proxy answers a forwarded
//! share when its own upstream does). So a success is read as credit, never as "everything
//! below is accepted":
//!
//! * the shares it covers move to an *uncertain* set and the count is added to a credit;
//! * an error for a share in that set takes it out (refused);
//! * when the credit covers the whole uncertain set, all of it is accepted;
//! * what is still uncertain at its answer deadline is reported unconfirmed, and the credit
//!   starts again from zero.
//!
//! A share is therefore reported accepted only when the upstream's counts account for it:
//! a lost frame or a miscounting upstream makes shares "unconfirmed", never wrongly accepted.

use std::collections::VecDeque;
use std::fmt;

/// Why a share was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareRefusal {
    /// `SubmitShares.Error` with this code.
    Upstream(String),
    /// No answer within the answer timeout.
    Timeout,
    /// The upstream's acknowledgements did not account for it (a lost frame, or counts that do
    /// not add up); it may or may not have been credited.
    Unconfirmed,
    /// The channel or the connection closed first.
    Closed,
    /// Too many shares already wait for an answer on this channel.
    Backlog,
    /// Refused here, never sent: this spec error code says why (a share whose extranonce
    /// does not fit its channel).
    Local(&'static str),
}

impl ShareRefusal {
    /// The `SubmitShares.Error` code to pass on to a downstream (a job that went with its
    /// upstream is stale for the miner).
    pub fn error_code(&self) -> &str {
        match self {
            ShareRefusal::Upstream(code) => code,
            ShareRefusal::Local(code) => code,
            ShareRefusal::Timeout
            | ShareRefusal::Unconfirmed
            | ShareRefusal::Closed
            | ShareRefusal::Backlog => const_sv2::error_codes::STALE_SHARE,
        }
    }
}

impl fmt::Display for ShareRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareRefusal::Upstream(code) => write!(f, "refused upstream: {code}"),
            ShareRefusal::Timeout => f.write_str("no answer from the upstream in time"),
            ShareRefusal::Unconfirmed => {
                f.write_str("the upstream's acknowledgements do not account for it")
            }
            ShareRefusal::Closed => f.write_str("the channel closed before an answer"),
            ShareRefusal::Backlog => f.write_str("too many shares wait for an answer"),
            ShareRefusal::Local(code) => write!(f, "refused before sending: {code}"),
        }
    }
}

#[derive(Debug)]
struct Entry<R> {
    sequence_number: u32,
    deadline_ms: u64,
    route: R,
}

/// The shares of one channel that wait for an answer.
#[derive(Debug)]
pub(crate) struct ShareBook<R> {
    next_sequence_number: u32,
    /// Sent, not yet covered by any success; in sequence order.
    pending: VecDeque<Entry<R>>,
    /// Covered by a success that did not count them all yet; in sequence order.
    uncertain: VecDeque<Entry<R>>,
    credit: u64,
    max_waiting: usize,
}

/// A share's answer: its sequence number, its route, and the result.
pub(crate) type Resolved<R> = (u32, R, Result<(), ShareRefusal>);

/// `a` is at or before `b` in a wrapping sequence (they are less than 2^31 apart).
fn at_or_before(a: u32, b: u32) -> bool {
    b.wrapping_sub(a) < 1 << 31
}

impl<R> ShareBook<R> {
    pub fn new(max_waiting: usize) -> Self {
        ShareBook {
            next_sequence_number: 0,
            pending: VecDeque::new(),
            uncertain: VecDeque::new(),
            credit: 0,
            max_waiting: max_waiting.max(1),
        }
    }

    /// Shares waiting for an answer.
    pub fn waiting(&self) -> usize {
        self.pending.len() + self.uncertain.len()
    }

    /// A sequence number for a new share, or the route back when the book is full.
    pub fn send(&mut self, route: R, deadline_ms: u64) -> Result<u32, R> {
        if self.waiting() >= self.max_waiting {
            return Err(route);
        }
        let sequence_number = self.next_sequence_number;
        self.next_sequence_number = sequence_number.wrapping_add(1);
        self.pending.push_back(Entry {
            sequence_number,
            deadline_ms,
            route,
        });
        Ok(sequence_number)
    }

    /// `SubmitShares.Success`.
    pub fn on_success(
        &mut self,
        last_sequence_number: u32,
        count: u32,
        out: &mut Vec<Resolved<R>>,
    ) {
        while self
            .pending
            .front()
            .is_some_and(|e| at_or_before(e.sequence_number, last_sequence_number))
        {
            if let Some(e) = self.pending.pop_front() {
                self.uncertain.push_back(e);
            }
        }
        self.credit += count as u64;
        self.settle(out);
    }

    /// `SubmitShares.Error`. False when no waiting share has that number.
    pub fn on_error(
        &mut self,
        sequence_number: u32,
        code: &str,
        out: &mut Vec<Resolved<R>>,
    ) -> bool {
        let take = |q: &mut VecDeque<Entry<R>>| {
            let i = q
                .iter()
                .position(|e| e.sequence_number == sequence_number)?;
            q.remove(i)
        };
        let Some(e) = take(&mut self.pending).or_else(|| take(&mut self.uncertain)) else {
            return false;
        };
        out.push((
            e.sequence_number,
            e.route,
            Err(ShareRefusal::Upstream(code.to_string())),
        ));
        self.settle(out);
        true
    }

    /// When the credit accounts for every uncertain share, they are all accepted.
    fn settle(&mut self, out: &mut Vec<Resolved<R>>) {
        if self.uncertain.is_empty() {
            // Credit for shares already reported otherwise (timed out, or answered twice) is
            // not carried over to later shares.
            self.credit = 0;
            return;
        }
        if self.credit >= self.uncertain.len() as u64 {
            self.credit = 0;
            for e in self.uncertain.drain(..) {
                out.push((e.sequence_number, e.route, Ok(())));
            }
        }
    }

    /// Shares past their deadline: unanswered ones time out; if any uncertain one is late,
    /// the whole uncertain set is reported unconfirmed and the credit starts again.
    pub fn on_timeout(&mut self, now_ms: u64, out: &mut Vec<Resolved<R>>) {
        while self
            .pending
            .front()
            .is_some_and(|e| e.deadline_ms <= now_ms)
        {
            if let Some(e) = self.pending.pop_front() {
                out.push((e.sequence_number, e.route, Err(ShareRefusal::Timeout)));
            }
        }
        if self
            .uncertain
            .front()
            .is_some_and(|e| e.deadline_ms <= now_ms)
        {
            self.credit = 0;
            for e in self.uncertain.drain(..) {
                out.push((e.sequence_number, e.route, Err(ShareRefusal::Unconfirmed)));
            }
        }
    }

    /// The earliest deadline of a waiting share.
    pub fn next_deadline(&self) -> Option<u64> {
        let a = self.pending.front().map(|e| e.deadline_ms);
        let b = self.uncertain.front().map(|e| e.deadline_ms);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every waiting share, refused with `why` (the channel or the link is gone).
    pub fn close(&mut self, why: ShareRefusal, out: &mut Vec<Resolved<R>>) {
        self.credit = 0;
        for e in self.uncertain.drain(..).chain(self.pending.drain(..)) {
            out.push((e.sequence_number, e.route, Err(why.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    fn book() -> ShareBook<u32> {
        ShareBook::new(1000)
    }

    fn accepted(out: &[Resolved<u32>]) -> Vec<u32> {
        out.iter().filter(|r| r.2.is_ok()).map(|r| r.1).collect()
    }

    #[test]
    fn a_batch_that_counts_every_share_accepts_them() {
        let mut b = book();
        for r in 0..10 {
            assert_eq!(b.send(r, 100), Ok(r));
        }
        let mut out = Vec::new();
        b.on_success(9, 10, &mut out);
        assert_eq!(accepted(&out), (0..10).collect::<Vec<_>>());
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn an_error_before_the_batch_is_not_counted_in_it() {
        let mut b = book();
        for r in 0..5 {
            b.send(r, 100).unwrap();
        }
        let mut out = Vec::new();
        assert!(b.on_error(2, "difficulty-too-low", &mut out));
        b.on_success(4, 4, &mut out);
        assert_eq!(accepted(&out), vec![0, 1, 3, 4]);
        assert_eq!(
            out[0].2,
            Err(ShareRefusal::Upstream("difficulty-too-low".into()))
        );
    }

    /// A proxy acknowledges local shares before a forwarded one's upstream answer: the
    /// forwarded share stays uncertain until its own answer, and the others wait with it.
    #[test]
    fn a_delayed_error_after_a_covering_success_refuses_only_its_share() {
        let mut b = book();
        for r in 0..4 {
            b.send(r, 100).unwrap();
        }
        let mut out = Vec::new();
        // 0, 2, 3 accepted; 1 is still being validated upstream.
        b.on_success(3, 3, &mut out);
        assert!(out.is_empty(), "three credits for four shares: wait");
        b.on_error(1, "stale-share", &mut out);
        assert_eq!(accepted(&out), vec![0, 2, 3]);
        assert_eq!(out[0].1, 1);
    }

    #[test]
    fn a_delayed_success_completes_the_credit() {
        let mut b = book();
        for r in 0..4 {
            b.send(r, 100).unwrap();
        }
        let mut out = Vec::new();
        b.on_success(3, 3, &mut out);
        b.on_success(1, 1, &mut out);
        assert_eq!(accepted(&out), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_lost_share_makes_its_batch_unconfirmed_not_accepted_and_later_batches_recover() {
        let mut b = book();
        for r in 0..10 {
            b.send(r, 100).unwrap();
        }
        let mut out = Vec::new();
        // Share 5 never reached the upstream: it counts 9 of 10.
        b.on_success(9, 9, &mut out);
        assert!(out.is_empty());
        b.on_timeout(100, &mut out);
        assert_eq!(out.len(), 10);
        assert!(out.iter().all(|r| r.2 == Err(ShareRefusal::Unconfirmed)));
        // The next batch is read on its own.
        out.clear();
        for r in 10..15 {
            b.send(r, 200).unwrap();
        }
        b.on_success(14, 5, &mut out);
        assert_eq!(accepted(&out), (10..15).collect::<Vec<_>>());
    }

    #[test]
    fn unanswered_shares_time_out_and_the_book_is_bounded() {
        let mut b: ShareBook<u32> = ShareBook::new(3);
        b.send(0, 10).unwrap();
        b.send(1, 20).unwrap();
        b.send(2, 30).unwrap();
        assert_eq!(b.send(3, 40), Err(3), "full");
        assert_eq!(b.next_deadline(), Some(10));
        let mut out = Vec::new();
        b.on_timeout(20, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|r| r.2 == Err(ShareRefusal::Timeout)));
        assert_eq!(b.send(3, 40), Ok(3));
        out.clear();
        b.close(ShareRefusal::Closed, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(b.waiting(), 0);
        assert!(
            !b.on_error(99, "x", &mut out),
            "unknown sequence numbers are ignored"
        );
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut b = book();
        b.next_sequence_number = u32::MAX - 1;
        for r in 0..4 {
            b.send(r, 100).unwrap();
        }
        let mut out = Vec::new();
        b.on_success(0, 3, &mut out);
        assert_eq!(accepted(&out), vec![0, 1, 2], "MAX-1, MAX and 0");
        b.on_success(1, 1, &mut out);
        assert_eq!(accepted(&out), vec![0, 1, 2, 3]);
    }

    quickcheck! {
        /// An upstream that accepts some shares, refuses others, drops some frames, answers
        /// in batches and late: a share is never reported accepted unless it was.
        fn never_reported_accepted_unless_accepted(plan: Vec<(u8, bool)>) -> bool {
            let mut b: ShareBook<u32> = ShareBook::new(10_000);
            // (route, accepted upstream?, answered?)
            let mut truth = Vec::new();
            let mut out = Vec::new();
            let mut batch = (None, 0u32);
            for (i, (kind, flush)) in plan.iter().enumerate() {
                let Ok(seq) = b.send(i as u32, 1_000) else { continue };
                match kind % 4 {
                    0 | 1 => {
                        truth.push(true);
                        batch = (Some(seq), batch.1 + 1);
                    }
                    2 => {
                        truth.push(false);
                        b.on_error(seq, "invalid-share", &mut out);
                    }
                    // Lost on the way: never answered.
                    _ => truth.push(false),
                }
                if *flush {
                    if let Some(last) = batch.0 {
                        b.on_success(last, batch.1, &mut out);
                    }
                    batch = (None, 0);
                }
            }
            b.on_timeout(1_000, &mut out);
            out.iter().all(|(_, route, r)| r.is_err() || truth[*route as usize])
                && b.waiting() == 0
        }
    }
}
