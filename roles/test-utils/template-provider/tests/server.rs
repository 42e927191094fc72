//! The template provider over a real socket, as any pool would use it.

use binary_sv2::{IntoStatic, Str0255};
use common_messages_sv2::SetupConnection;
use network_helpers_sv2::{with_tokio, Connection, ConnectionConfig, Security};
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, TemplateDistribution};
use std::time::Duration;
use template_distribution_sv2::{CoinbaseOutputConstraints, RequestTransactionData};
use template_provider::{Config, TemplateProvider};

async fn send(c: &Connection, m: impl Into<AnyMessage<'static>>) {
    let m: AnyMessage = m.into();
    c.sender.send(m.to_frame().unwrap()).await.unwrap();
}

async fn recv(c: &Connection) -> AnyMessage<'static> {
    let f = tokio::time::timeout(Duration::from_secs(10), c.receiver.recv())
        .await
        .expect("answer in time")
        .expect("open");
    AnyMessage::parse_frame(&f).unwrap().into_static()
}

fn setup(protocol: u8) -> CommonMessages<'static> {
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

async fn client(tp: &TemplateProvider) -> Connection {
    let stream = tokio::net::TcpStream::connect(tp.local_addr())
        .await
        .unwrap();
    with_tokio::connect(stream, Security::Plain, ConnectionConfig::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn templates_transactions_and_errors() {
    let tp = TemplateProvider::start(Config {
        listen_address: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    })
    .await
    .unwrap();
    let c = client(&tp).await;
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
    let t = match recv(&c).await {
        AnyMessage::TemplateDistribution(TemplateDistribution::NewTemplate(t)) => t,
        other => panic!("{other:?}"),
    };
    assert!(t.future_template);
    assert_eq!(t.coinbase_tx_outputs_count, 1, "the witness commitment");
    match recv(&c).await {
        AnyMessage::TemplateDistribution(TemplateDistribution::SetNewPrevHash(p)) => {
            assert_eq!(p.template_id, t.template_id)
        }
        other => panic!("{other:?}"),
    }
    send(
        &c,
        TemplateDistribution::RequestTransactionData(RequestTransactionData {
            template_id: t.template_id,
        }),
    )
    .await;
    match recv(&c).await {
        AnyMessage::TemplateDistribution(TemplateDistribution::RequestTransactionDataSuccess(
            s,
        )) => {
            assert_eq!(s.template_id, t.template_id);
            assert_eq!(
                s.transaction_list.len(),
                5,
                "the first mempool transactions"
            );
            assert_eq!(s.excess_data.len(), 32);
        }
        other => panic!("{other:?}"),
    }
    send(
        &c,
        TemplateDistribution::RequestTransactionData(RequestTransactionData { template_id: 999 }),
    )
    .await;
    match recv(&c).await {
        AnyMessage::TemplateDistribution(TemplateDistribution::RequestTransactionDataError(e)) => {
            assert_eq!(e.error_code.as_bytes(), b"template-id-not-found")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn wrong_protocol_and_wrong_messages_are_refused() {
    let tp = TemplateProvider::start(Config {
        listen_address: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    })
    .await
    .unwrap();
    let c = client(&tp).await;
    send(&c, setup(0)).await;
    match recv(&c).await {
        AnyMessage::Common(CommonMessages::SetupConnectionError(e)) => {
            assert_eq!(e.error_code.as_bytes(), b"unsupported-protocol")
        }
        other => panic!("{other:?}"),
    }
    // A message the server never receives closes that connection only.
    let c2 = client(&tp).await;
    send(&c2, setup(2)).await;
    recv(&c2).await;
    send(
        &c2,
        TemplateDistribution::RequestTransactionDataError(
            template_distribution_sv2::RequestTransactionDataError {
                template_id: 1,
                error_code: Str0255::new(vec![]).unwrap(),
            },
        ),
    )
    .await;
    let closed = tokio::time::timeout(Duration::from_secs(10), c2.receiver.recv())
        .await
        .unwrap();
    assert!(closed.is_err(), "connection closed");
    let c3 = client(&tp).await;
    send(&c3, setup(2)).await;
    assert!(matches!(
        recv(&c3).await,
        AnyMessage::Common(CommonMessages::SetupConnectionSuccess(_))
    ));
}
