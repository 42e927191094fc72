//! The JD client's template provider link (Template Distribution Protocol, client side):
//! templates, tips and transaction data in; transaction data requests and block solutions
//! out. It reconnects for as long as the JD client runs; a template provider that fails or
//! misbehaves only delays templates, it never stops the JD client.

use crate::{send_frame, Event};
use const_sv2::PROTOCOL_TEMPLATE_DISTRIBUTION;
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use noise_sv2::AuthorityPublicKey;
use roles_logic_sv2::parsers::{AnyMessage, TemplateDistribution};
use roles_utils::setup_connection;
use std::sync::Arc;
use std::time::Duration;
use template_distribution_sv2::{
    CoinbaseOutputConstraints, NewTemplate, RequestTransactionData, SetNewPrevHash, SubmitSolution,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// What the template provider sends, for the JD client's core.
#[derive(Debug)]
pub enum TpEvent {
    Up,
    Down(String),
    Template(NewTemplate<'static>),
    Tip(SetNewPrevHash),
    /// A template's transactions (serialized, in block order) and its excess data.
    TxData {
        template_id: u64,
        transactions: Arc<Vec<Vec<u8>>>,
        excess: Vec<u8>,
    },
}

/// What the core asks of the template provider.
#[derive(Debug)]
pub enum TpCommand {
    RequestTransactionData(u64),
    SubmitSolution(SubmitSolution<'static>),
}

/// Bytes and sigops a JD client's coinbase adds to a template: the pool's payout output and a
/// few zero-value ones a JDS may require, or the solo script.
const COINBASE_RESERVE_BYTES: u32 = 256;
const COINBASE_RESERVE_SIGOPS: u16 = 8;
/// Solutions kept while no link is up, at most.
const MAX_PENDING_SOLUTIONS: usize = 256;

/// Keep a link to the template provider at `address` until `commands` closes.
pub async fn run(
    address: String,
    key: Option<AuthorityPublicKey>,
    events: mpsc::Sender<Event>,
    mut commands: mpsc::Receiver<TpCommand>,
) {
    let mut pending: Vec<SubmitSolution<'static>> = Vec::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        let result = link(&address, key, &events, &mut commands, &mut pending).await;
        match result {
            Ok(()) => return,
            Err(reason) => {
                tracing::warn!(%address, "template provider: {reason}");
                if events.send(Event::Tp(TpEvent::Down(reason))).await.is_err() {
                    return;
                }
            }
        }
        // Keep solutions found meanwhile for the next link.
        let wait = tokio::time::sleep(backoff);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                c = commands.recv() => match c {
                    None => return,
                    Some(TpCommand::SubmitSolution(s)) => keep(&mut pending, s),
                    Some(TpCommand::RequestTransactionData(_)) => {}
                },
            }
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn keep(pending: &mut Vec<SubmitSolution<'static>>, s: SubmitSolution<'static>) {
    tracing::error!(
        template_id = s.template_id,
        "block found while no template provider link is up; kept for the next link"
    );
    if pending.len() >= MAX_PENDING_SOLUTIONS {
        pending.remove(0);
    }
    pending.push(s);
}

async fn connect(address: &str, key: Option<AuthorityPublicKey>) -> Result<Connection, String> {
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(address))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let peer = stream.peer_addr().map_err(|e| e.to_string())?;
    let security = match key {
        Some(k) => Security::NoiseInitiator { authority: k.0 },
        None => Security::Plain,
    };
    let conn = with_tokio::connect(stream, security, ConnectionConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    setup_connection(&conn, PROTOCOL_TEMPLATE_DISTRIBUTION, 0, peer, "jd-client").await?;
    send_frame(
        &conn,
        TemplateDistribution::CoinbaseOutputConstraints(CoinbaseOutputConstraints {
            coinbase_output_max_additional_size: COINBASE_RESERVE_BYTES,
            coinbase_output_max_additional_sigops: COINBASE_RESERVE_SIGOPS,
        }),
    )
    .await?;
    Ok(conn)
}

/// One link; `Ok` when the JD client stops.
async fn link(
    address: &str,
    key: Option<AuthorityPublicKey>,
    events: &mpsc::Sender<Event>,
    commands: &mut mpsc::Receiver<TpCommand>,
    pending: &mut Vec<SubmitSolution<'static>>,
) -> Result<(), String> {
    let conn = connect(address, key).await?;
    tracing::info!(%address, "template provider connected");
    let up = |e| async {
        events
            .send(Event::Tp(e))
            .await
            .map_err(|_| "stopping".to_string())
    };
    if up(TpEvent::Up).await.is_err() {
        return Ok(());
    }
    for s in pending.drain(..) {
        send_frame(&conn, TemplateDistribution::SubmitSolution(s)).await?;
    }
    loop {
        tokio::select! {
            f = conn.receiver.recv() => {
                let f = f.map_err(|_| "connection closed".to_string())?;
                let event = match AnyMessage::parse_frame(&f) {
                    Ok(AnyMessage::TemplateDistribution(m)) => on_message(m),
                    Ok(other) => {
                        tracing::warn!("template provider sent {}; ignored", other.name());
                        None
                    }
                    Err(e) => return Err(format!("bad frame: {e}")),
                };
                if let Some(e) = event {
                    if up(e).await.is_err() {
                        return Ok(());
                    }
                }
            }
            c = commands.recv() => match c {
                None => return Ok(()),
                Some(TpCommand::RequestTransactionData(template_id)) => {
                    let m = TemplateDistribution::RequestTransactionData(RequestTransactionData { template_id });
                    send_frame(&conn, m).await?;
                }
                Some(TpCommand::SubmitSolution(s)) => {
                    tracing::info!(template_id = s.template_id, "block submitted to the template provider");
                    let copy = s.clone();
                    if let Err(e) = send_frame(&conn, TemplateDistribution::SubmitSolution(s)).await {
                        keep(pending, copy);
                        return Err(e);
                    }
                }
            }
        }
    }
}

fn on_message(m: TemplateDistribution<'_>) -> Option<TpEvent> {
    use binary_sv2::IntoStatic;
    match m {
        TemplateDistribution::NewTemplate(t) => Some(TpEvent::Template(t.into_static())),
        TemplateDistribution::SetNewPrevHash(p) => Some(TpEvent::Tip(p)),
        TemplateDistribution::RequestTransactionDataSuccess(d) => Some(TpEvent::TxData {
            template_id: d.template_id,
            transactions: Arc::new(
                d.transaction_list
                    .iter()
                    .map(|t| t.as_bytes().to_vec())
                    .collect(),
            ),
            excess: d.excess_data.as_bytes().to_vec(),
        }),
        TemplateDistribution::RequestTransactionDataError(e) => {
            tracing::debug!(
                template_id = e.template_id,
                "no transaction data: {}",
                e.error_code.to_string_lossy()
            );
            None
        }
        other => {
            tracing::warn!("template provider sent {}; ignored", other.name());
            None
        }
    }
}
