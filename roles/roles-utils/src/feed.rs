//! What every downstream session of a server must know about jobs: the templates, the tip
//! they build on, and (for a proxy) the upstream's target and version rolling. Updates go to
//! the running sessions on a broadcast channel; a new session, or one that fell behind the
//! broadcast, catches up from the stored state with [`JobFeed::replay`].

use crate::lock;
use roles_logic_sv2::job::JobTemplate;
use roles_logic_sv2::mining_server::{PrevHash, Session};
use roles_logic_sv2::target::Target;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// One change, as the sessions receive it.
#[derive(Debug, Clone)]
pub enum FeedUpdate {
    NewTemplate(Arc<JobTemplate>),
    SetNewPrevHash(PrevHash),
    UpstreamTarget(Option<Target>),
    /// Every session asks its downstream to reconnect and closes (the reason is logged).
    Reconnect(Arc<str>),
}

#[derive(Debug)]
struct State {
    future: Vec<Arc<JobTemplate>>,
    active: Option<(Arc<JobTemplate>, PrevHash)>,
    /// Jobs on the active tip that came after the one SetNewPrevHash activated.
    latest: Option<Arc<JobTemplate>>,
    upstream_target: Option<Target>,
    version_rolling: bool,
}

/// The jobs of a server, shared by its sessions.
#[derive(Debug)]
pub struct JobFeed {
    state: Mutex<State>,
    updates: broadcast::Sender<FeedUpdate>,
}

impl Default for JobFeed {
    fn default() -> Self {
        Self::new(256)
    }
}

impl JobFeed {
    /// A feed whose broadcast holds `capacity` updates for a session that is behind.
    pub fn new(capacity: usize) -> Self {
        JobFeed {
            state: Mutex::new(State {
                future: Vec::new(),
                active: None,
                latest: None,
                upstream_target: None,
                version_rolling: true,
            }),
            updates: broadcast::channel(capacity.max(1)).0,
        }
    }

    /// Updates from now on; call before [`JobFeed::replay`] so nothing falls between.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedUpdate> {
        self.updates.subscribe()
    }

    /// Bring `session` up to date: the active job and its tip, the newest job on it, the
    /// future jobs, the upstream target.
    pub fn replay(&self, s: &mut Session) {
        let st = lock(&self.state);
        s.set_version_rolling(st.version_rolling);
        s.set_upstream_target(st.upstream_target);
        if let Some((t, p)) = &st.active {
            // The session activates only future jobs: replay the active one as one.
            let mut future = (**t).clone();
            future.future = true;
            s.on_new_template(Arc::new(future));
            let _ = s.on_set_new_prev_hash(*p);
            if let Some(l) = &st.latest {
                s.on_new_template(l.clone());
            }
        }
        for f in &st.future {
            s.on_new_template(f.clone());
        }
    }

    /// A new template (future or on the current tip).
    pub fn new_template(&self, t: Arc<JobTemplate>) {
        {
            let mut st = lock(&self.state);
            if t.future {
                st.future.push(t.clone());
            } else {
                st.latest = Some(t.clone());
            }
        }
        let _ = self.updates.send(FeedUpdate::NewTemplate(t));
    }

    /// The tip moved to the future template `p.template_id`. False (and nothing sent) when no
    /// such future template is known.
    pub fn set_new_prev_hash(&self, p: PrevHash) -> bool {
        {
            let mut st = lock(&self.state);
            let Some(i) = st
                .future
                .iter()
                .position(|t| t.template_id == p.template_id)
            else {
                return false;
            };
            let t = st.future.swap_remove(i);
            st.future.clear();
            st.latest = None;
            st.active = Some((t, p));
        }
        let _ = self.updates.send(FeedUpdate::SetNewPrevHash(p));
        true
    }

    /// A proxy's upstream target (see [`Session::set_upstream_target`]).
    pub fn set_upstream_target(&self, t: Option<Target>) {
        {
            let mut st = lock(&self.state);
            if st.upstream_target == t {
                return;
            }
            st.upstream_target = t;
        }
        let _ = self.updates.send(FeedUpdate::UpstreamTarget(t));
    }

    /// Ask every running session's downstream to reconnect (they get `Reconnect` to this same
    /// server, then are closed): for a change that their channels cannot follow.
    pub fn reconnect_all(&self, reason: &str) {
        let _ = self.updates.send(FeedUpdate::Reconnect(Arc::from(reason)));
    }

    /// Whether new sessions allow version rolling (see [`Session::set_version_rolling`]).
    pub fn set_version_rolling(&self, allowed: bool) {
        lock(&self.state).version_rolling = allowed;
    }

    /// Forget every job (the upstream they came from is gone); sessions keep what they have
    /// until the next tip.
    pub fn clear(&self) {
        let mut st = lock(&self.state);
        st.future.clear();
        st.active = None;
        st.latest = None;
    }

    /// Whether there is a tip to mine on.
    pub fn has_work(&self) -> bool {
        lock(&self.state).active.is_some()
    }
}
