//! A Template Distribution client for the tests, over a real socket as any pool would use it.

#![allow(dead_code)]

use binary_sv2::{IntoStatic, Str0255};
use common_messages_sv2::SetupConnection;
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use noise_sv2::AuthorityPublicKey;
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, TemplateDistribution};
use std::time::Duration;
use template_distribution_sv2::{
    CoinbaseOutputConstraints, NewTemplate, RequestTransactionData, SetNewPrevHash,
};
use template_provider::TemplateProvider;

pub async fn send(c: &Connection, m: impl Into<AnyMessage<'static>>) {
    let m: AnyMessage = m.into();
    c.sender.send(m.to_frame().unwrap()).await.unwrap();
}

pub async fn recv(c: &Connection) -> AnyMessage<'static> {
    let f = tokio::time::timeout(Duration::from_secs(30), c.receiver.recv())
        .await
        .expect("answer in time")
        .expect("open");
    AnyMessage::parse_frame(&f).unwrap().into_static()
}

pub fn setup(protocol: u8) -> CommonMessages<'static> {
    let s = |v: &str| Str0255::new(v.as_bytes().to_vec()).unwrap();
    CommonMessages::SetupConnection(SetupConnection {
        protocol,
        min_version: 2,
        max_version: 2,
        flags: 0,
        endpoint_host: s("127.0.0.1"),
        endpoint_port: 0,
        vendor: s("test"),
        hardware_version: s(""),
        firmware: s(""),
        device_id: s(""),
    })
}

pub async fn client(tp: &TemplateProvider) -> Connection {
    let stream = tokio::net::TcpStream::connect(tp.local_addr())
        .await
        .unwrap();
    with_tokio::connect(stream, Security::Plain, ConnectionConfig::default())
        .await
        .unwrap()
}

/// A noise client that checks the template provider's certificate against `authority`.
pub async fn noise_client(tp: &TemplateProvider, authority: AuthorityPublicKey) -> Connection {
    let stream = tokio::net::TcpStream::connect(tp.local_addr())
        .await
        .unwrap();
    let security = Security::NoiseInitiator {
        authority: authority.0,
    };
    with_tokio::connect(stream, security, ConnectionConfig::default())
        .await
        .unwrap()
}

/// A plain client past SetupConnection and CoinbaseOutputConstraints, with its first template
/// and SetNewPrevHash.
pub async fn template_client(
    tp: &TemplateProvider,
) -> (Connection, NewTemplate<'static>, SetNewPrevHash) {
    set_up(client(tp).await).await
}

/// Take `c` past SetupConnection and CoinbaseOutputConstraints, to its first template and
/// SetNewPrevHash.
pub async fn set_up(c: Connection) -> (Connection, NewTemplate<'static>, SetNewPrevHash) {
    send(&c, setup(2)).await;
    assert!(matches!(
        recv(&c).await,
        AnyMessage::Common(CommonMessages::SetupConnectionSuccess(_))
    ));
    send(
        &c,
        TemplateDistribution::CoinbaseOutputConstraints(CoinbaseOutputConstraints {
            coinbase_output_max_additional_size: 100,
            coinbase_output_max_additional_sigops: 0,
        }),
    )
    .await;
    let (t, p) = next_tip(&c).await;
    (c, t, p)
}

/// Skip messages until a future template and its SetNewPrevHash.
pub async fn next_tip(c: &Connection) -> (NewTemplate<'static>, SetNewPrevHash) {
    let mut future = None;
    loop {
        match recv(c).await {
            AnyMessage::TemplateDistribution(TemplateDistribution::NewTemplate(t))
                if t.future_template =>
            {
                future = Some(t)
            }
            AnyMessage::TemplateDistribution(TemplateDistribution::SetNewPrevHash(p)) => {
                let t = future
                    .take()
                    .expect("a future template before SetNewPrevHash");
                assert_eq!(p.template_id, t.template_id);
                return (t, p);
            }
            _ => {}
        }
    }
}

/// The transactions of a template (RequestTransactionData), serialized.
pub async fn template_transactions(c: &Connection, template_id: u64) -> Vec<Vec<u8>> {
    send(
        c,
        TemplateDistribution::RequestTransactionData(RequestTransactionData { template_id }),
    )
    .await;
    loop {
        if let AnyMessage::TemplateDistribution(
            TemplateDistribution::RequestTransactionDataSuccess(s),
        ) = recv(c).await
        {
            assert_eq!(s.template_id, template_id);
            return s
                .transaction_list
                .iter()
                .map(|t| t.as_bytes().to_vec())
                .collect();
        }
    }
}
