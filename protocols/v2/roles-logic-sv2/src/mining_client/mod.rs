//! The downstream end of mining channels: what a device (or a proxy, translator or job
//! declarator client, toward its upstream) keeps to know what to mine and how to submit it.
//!
//! [`ClientSession`] is the whole connection, sans-IO; [`ClientChannel`] one channel in it.
//!
//! [`ClientChannel`] takes the channel's messages (jobs, prevhash, target, extranonce prefix)
//! and answers with the current [`Work`] whenever it changes. Jobs for the group channel are
//! accepted too: a standard channel in a group derives its merkle root from the extended job
//! with its own extranonce prefix, as 05 describes.

mod session;
mod shares;

pub use session::{ClientConfig, ClientError, ClientEvent, ClientSession, CommandError, Share};
pub use shares::ShareRefusal;

use crate::job::{JobError, JobTemplate};
use crate::target::Target;
use binary_sv2::B032;
use mining_sv2::{
    NewExtendedMiningJob, NewMiningJob, SetNewPrevHash, SetTarget, SubmitSharesExtended,
    SubmitSharesStandard,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a job's merkle root is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    /// Standard job: the root is given.
    Standard { merkle_root: [u8; 32] },
    /// Extended job: the root depends on the extranonce the miner rolls.
    Extended { template: Arc<JobTemplate> },
}

/// Everything needed to hash headers for the current job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    pub channel_id: u32,
    pub job_id: u32,
    pub version: u32,
    pub version_rolling_allowed: bool,
    /// Header byte order.
    pub prev_hash: [u8; 32],
    pub min_ntime: u32,
    pub nbits: u32,
    pub target: Target,
    pub job: JobKind,
    /// Bytes the miner rolls (0 for standard channels).
    pub extranonce_size: usize,
}

impl Work {
    /// The merkle root for `extranonce` (ignored for standard jobs).
    pub fn merkle_root(&self, extranonce: &[u8]) -> Result<[u8; 32], JobError> {
        match &self.job {
            JobKind::Standard { merkle_root } => Ok(*merkle_root),
            JobKind::Extended { template } => template.merkle_root(extranonce),
        }
    }

    /// The 80-byte header.
    pub fn header(&self, merkle_root: &[u8; 32], ntime: u32, nonce: u32, version: u32) -> [u8; 80] {
        crate::job::block_header(
            version,
            &self.prev_hash,
            merkle_root,
            ntime,
            self.nbits,
            nonce,
        )
    }
}

#[derive(Debug, Clone)]
struct Job {
    version: u32,
    version_rolling_allowed: bool,
    kind: JobKind,
}

/// State of one open channel, as its downstream end sees it.
#[derive(Debug, Clone)]
pub struct ClientChannel {
    pub channel_id: u32,
    pub group_channel_id: u32,
    pub extended: bool,
    pub extranonce_prefix: Vec<u8>,
    /// Bytes this end rolls (extended channels).
    pub extranonce_size: usize,
    pub target: Target,
    jobs: BTreeMap<u32, Job>,
    prev: Option<SetNewPrevHash>,
    next_sequence_number: u32,
}

impl ClientChannel {
    /// From OpenStandardMiningChannel.Success.
    pub fn standard(
        channel_id: u32,
        group_channel_id: u32,
        target: Target,
        extranonce_prefix: &[u8],
    ) -> Self {
        Self::new(
            channel_id,
            group_channel_id,
            false,
            target,
            extranonce_prefix,
            0,
        )
    }

    /// From OpenExtendedMiningChannel.Success.
    pub fn extended(
        channel_id: u32,
        group_channel_id: u32,
        target: Target,
        extranonce_prefix: &[u8],
        extranonce_size: usize,
    ) -> Self {
        Self::new(
            channel_id,
            group_channel_id,
            true,
            target,
            extranonce_prefix,
            extranonce_size,
        )
    }

    fn new(
        channel_id: u32,
        group_channel_id: u32,
        extended: bool,
        target: Target,
        prefix: &[u8],
        size: usize,
    ) -> Self {
        ClientChannel {
            channel_id,
            group_channel_id,
            extended,
            extranonce_prefix: prefix.to_vec(),
            extranonce_size: size,
            target,
            jobs: BTreeMap::new(),
            prev: None,
            next_sequence_number: 0,
        }
    }

    /// Whether a message addressed to `channel_id` is for this channel.
    pub fn addressed(&self, channel_id: u32) -> bool {
        channel_id == self.channel_id || channel_id == self.group_channel_id
    }

    /// The work to do now, if there is a tip and its job.
    pub fn current_work(&self) -> Option<Work> {
        let p = self.prev.as_ref()?;
        // The newest job active on this tip: the one SetNewPrevHash named or a later one.
        let (&job_id, job) = self.jobs.range(p.job_id..).next_back()?;
        Some(Work {
            channel_id: self.channel_id,
            job_id,
            version: job.version,
            version_rolling_allowed: job.version_rolling_allowed,
            prev_hash: p.prev_hash.0,
            min_ntime: p.min_ntime,
            nbits: p.nbits,
            target: self.target,
            job: job.kind.clone(),
            extranonce_size: self.extranonce_size,
        })
    }

    /// NewMiningJob; returns the new work when it is to be mined now.
    pub fn on_new_mining_job(&mut self, m: &NewMiningJob) -> Option<Work> {
        self.insert(
            m.job_id,
            m.min_ntime.is_some(),
            Job {
                version: m.version,
                version_rolling_allowed: true,
                kind: JobKind::Standard {
                    merkle_root: m.merkle_root.0,
                },
            },
        )
    }

    /// NewExtendedMiningJob (for this channel or its group).
    pub fn on_new_extended_mining_job(
        &mut self,
        m: &NewExtendedMiningJob<'_>,
    ) -> Result<Option<Work>, JobError> {
        let template =
            JobTemplate::from_extended_job(m, &self.extranonce_prefix, self.extranonce_size)?;
        let kind = if self.extended {
            JobKind::Extended {
                template: Arc::new(template),
            }
        } else {
            JobKind::Standard {
                merkle_root: template.merkle_root(&[])?,
            }
        };
        Ok(self.insert(
            m.job_id,
            m.min_ntime.is_some(),
            Job {
                version: m.version,
                version_rolling_allowed: m.version_rolling_allowed,
                kind,
            },
        ))
    }

    fn insert(&mut self, job_id: u32, active: bool, job: Job) -> Option<Work> {
        self.jobs.insert(job_id, job);
        // Keep the jobs of the current tip and a few futures.
        while self.jobs.len() > 32 {
            self.jobs.pop_first();
        }
        if active {
            self.current_work()
        } else {
            None
        }
    }

    /// SetNewPrevHash: only the job it names is valid from now.
    pub fn on_set_new_prev_hash(&mut self, m: &SetNewPrevHash) -> Option<Work> {
        self.jobs.retain(|&id, _| id >= m.job_id);
        self.prev = Some(m.clone());
        self.current_work()
    }

    /// SetTarget.
    pub fn on_set_target(&mut self, m: &SetTarget) -> Option<Work> {
        self.target = m.maximum_target.0;
        self.current_work()
    }

    /// SetExtranoncePrefix: applies to jobs sent after it.
    pub fn on_set_extranonce_prefix(&mut self, prefix: &[u8]) {
        self.extranonce_prefix = prefix.to_vec();
    }

    /// A SubmitSharesStandard for a nonce found on `work`.
    pub fn submit_standard(
        &mut self,
        work: &Work,
        nonce: u32,
        ntime: u32,
        version: u32,
    ) -> SubmitSharesStandard {
        SubmitSharesStandard {
            channel_id: self.channel_id,
            sequence_number: self.next_sequence(),
            job_id: work.job_id,
            nonce,
            ntime,
            version,
        }
    }

    /// A SubmitSharesExtended for a nonce found on `work` with the rolled `extranonce`.
    pub fn submit_extended(
        &mut self,
        work: &Work,
        nonce: u32,
        ntime: u32,
        version: u32,
        extranonce: &[u8],
    ) -> Option<SubmitSharesExtended<'static>> {
        Some(SubmitSharesExtended {
            channel_id: self.channel_id,
            sequence_number: self.next_sequence(),
            job_id: work.job_id,
            nonce,
            ntime,
            version,
            extranonce: B032::new(extranonce.to_vec()).ok()?,
        })
    }

    fn next_sequence(&mut self) -> u32 {
        let s = self.next_sequence_number;
        self.next_sequence_number = s.wrapping_add(1);
        s
    }
}
