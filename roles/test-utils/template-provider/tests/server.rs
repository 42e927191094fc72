//! The template provider over a real socket, as any pool would use it.

mod common;

use binary_sv2::Str0255;
use common::{client, recv, send, setup};
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, TemplateDistribution};
use std::time::Duration;
use template_distribution_sv2::{CoinbaseOutputConstraints, RequestTransactionData};
use template_provider::{Config, TemplateProvider};

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
