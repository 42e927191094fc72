//! Handler traits: one per subprotocol and direction.
//!
//! A role implements the trait for the messages it receives, overriding one method per message
//! it handles; `handle_message` dispatches a parsed message to them. Messages the role does
//! not handle, and messages that travel the other way, end in
//! [`HandlerError::UnexpectedMessage`] by default, so a peer that sends them gets a clear error
//! instead of silence. The traits say nothing about I/O: a method changes the implementor's
//! state and queues what it wants to send.

use crate::parsers::{CommonMessages, JobDeclaration, Mining, TemplateDistribution};
use common_messages_sv2::*;
use framing_sv2::Sv2Message;
use job_declaration_sv2::*;
use mining_sv2::*;
use std::fmt;
use template_distribution_sv2 as td;
use template_distribution_sv2::{
    CoinbaseOutputConstraints, NewTemplate, RequestTransactionData, RequestTransactionDataError,
    RequestTransactionDataSuccess, SubmitSolution,
};

/// The default answer to a message a handler does not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// A message this side never receives, or one it does not support.
    UnexpectedMessage { name: &'static str },
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::UnexpectedMessage { name } => write!(f, "unexpected message {name}"),
        }
    }
}

impl std::error::Error for HandlerError {}

macro_rules! handler_trait {
    (
        $(#[$doc:meta])*
        $trait:ident for $enum:ident {
            $( $method:ident => $variant:ident($ty:ty) ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        pub trait $trait {
            type Error: From<HandlerError>;

            $(
                #[doc = concat!("Handle `", stringify!($variant), "`.")]
                fn $method(&mut self, m: $ty) -> Result<(), Self::Error> {
                    let _ = m;
                    Err(HandlerError::UnexpectedMessage { name: <$ty as Sv2Message>::NAME }.into())
                }
            )*

            /// Dispatch a parsed message to its method.
            fn handle_message(&mut self, msg: $enum<'_>) -> Result<(), Self::Error> {
                match msg {
                    $( $enum::$variant(m) => self.$method(m), )*
                    #[allow(unreachable_patterns)]
                    other => Err(HandlerError::UnexpectedMessage { name: other.name() }.into()),
                }
            }
        }
    };
}

handler_trait! {
    /// Common messages an upstream node (pool, proxy, template provider) receives.
    HandleCommonMessagesFromDownstream for CommonMessages {
        handle_setup_connection => SetupConnection(SetupConnection<'_>),
    }
}

handler_trait! {
    /// Common messages a downstream node receives.
    HandleCommonMessagesFromUpstream for CommonMessages {
        handle_setup_connection_success => SetupConnectionSuccess(SetupConnectionSuccess),
        handle_setup_connection_error => SetupConnectionError(SetupConnectionError<'_>),
        handle_channel_endpoint_changed => ChannelEndpointChanged(ChannelEndpointChanged),
        handle_reconnect => Reconnect(Reconnect<'_>),
    }
}

handler_trait! {
    /// Mining messages a pool or proxy receives from its downstreams.
    HandleMiningMessagesFromDownstream for Mining {
        handle_open_standard_mining_channel => OpenStandardMiningChannel(OpenStandardMiningChannel<'_>),
        handle_open_extended_mining_channel => OpenExtendedMiningChannel(OpenExtendedMiningChannel<'_>),
        handle_update_channel => UpdateChannel(UpdateChannel),
        handle_close_channel => CloseChannel(CloseChannel<'_>),
        handle_submit_shares_standard => SubmitSharesStandard(SubmitSharesStandard),
        handle_submit_shares_extended => SubmitSharesExtended(SubmitSharesExtended<'_>),
        handle_set_custom_mining_job => SetCustomMiningJob(SetCustomMiningJob<'_>),
    }
}

handler_trait! {
    /// Mining messages a device or proxy receives from its upstream.
    HandleMiningMessagesFromUpstream for Mining {
        handle_open_standard_mining_channel_success => OpenStandardMiningChannelSuccess(OpenStandardMiningChannelSuccess<'_>),
        handle_open_extended_mining_channel_success => OpenExtendedMiningChannelSuccess(OpenExtendedMiningChannelSuccess<'_>),
        handle_open_mining_channel_error => OpenMiningChannelError(OpenMiningChannelError<'_>),
        handle_new_mining_job => NewMiningJob(NewMiningJob),
        handle_update_channel_error => UpdateChannelError(UpdateChannelError<'_>),
        handle_close_channel => CloseChannel(CloseChannel<'_>),
        handle_set_extranonce_prefix => SetExtranoncePrefix(SetExtranoncePrefix<'_>),
        handle_submit_shares_success => SubmitSharesSuccess(SubmitSharesSuccess),
        handle_submit_shares_error => SubmitSharesError(SubmitSharesError<'_>),
        handle_new_extended_mining_job => NewExtendedMiningJob(NewExtendedMiningJob<'_>),
        handle_set_new_prev_hash => SetNewPrevHash(mining_sv2::SetNewPrevHash),
        handle_set_target => SetTarget(SetTarget),
        handle_set_custom_mining_job_success => SetCustomMiningJobSuccess(SetCustomMiningJobSuccess),
        handle_set_custom_mining_job_error => SetCustomMiningJobError(SetCustomMiningJobError<'_>),
        handle_set_group_channel => SetGroupChannel(SetGroupChannel<'_>),
    }
}

handler_trait! {
    /// Template Distribution messages a template provider receives from its client.
    HandleTemplateDistributionFromClient for TemplateDistribution {
        handle_coinbase_output_constraints => CoinbaseOutputConstraints(CoinbaseOutputConstraints),
        handle_request_transaction_data => RequestTransactionData(RequestTransactionData),
        handle_submit_solution => SubmitSolution(SubmitSolution<'_>),
    }
}

handler_trait! {
    /// Template Distribution messages a pool (or job declarator client) receives from its
    /// template provider.
    HandleTemplateDistributionFromServer for TemplateDistribution {
        handle_new_template => NewTemplate(NewTemplate<'_>),
        handle_set_new_prev_hash => SetNewPrevHash(td::SetNewPrevHash),
        handle_request_transaction_data_success => RequestTransactionDataSuccess(RequestTransactionDataSuccess<'_>),
        handle_request_transaction_data_error => RequestTransactionDataError(RequestTransactionDataError<'_>),
    }
}

handler_trait! {
    /// Job Declaration messages the job declarator server receives.
    HandleJobDeclarationFromClient for JobDeclaration {
        handle_allocate_mining_job_token => AllocateMiningJobToken(AllocateMiningJobToken<'_>),
        handle_declare_mining_job => DeclareMiningJob(DeclareMiningJob<'_>),
        handle_provide_missing_transactions_success => ProvideMissingTransactionsSuccess(ProvideMissingTransactionsSuccess<'_>),
        handle_push_solution => PushSolution(PushSolution<'_>),
    }
}

handler_trait! {
    /// Job Declaration messages the job declarator client receives.
    HandleJobDeclarationFromServer for JobDeclaration {
        handle_allocate_mining_job_token_success => AllocateMiningJobTokenSuccess(AllocateMiningJobTokenSuccess<'_>),
        handle_declare_mining_job_success => DeclareMiningJobSuccess(DeclareMiningJobSuccess<'_>),
        handle_declare_mining_job_error => DeclareMiningJobError(DeclareMiningJobError<'_>),
        handle_provide_missing_transactions => ProvideMissingTransactions(ProvideMissingTransactions<'_>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counter {
        targets: Vec<u32>,
    }

    impl HandleMiningMessagesFromUpstream for Counter {
        type Error = HandlerError;
        fn handle_set_target(&mut self, m: SetTarget) -> Result<(), HandlerError> {
            self.targets.push(m.channel_id);
            Ok(())
        }
    }

    #[test]
    fn dispatches_handled_and_refuses_the_rest() {
        let mut c = Counter::default();
        let st = SetTarget {
            channel_id: 4,
            maximum_target: binary_sv2::U256([0; 32]),
        };
        c.handle_message(Mining::SetTarget(st)).unwrap();
        assert_eq!(c.targets, vec![4]);
        // Handled by nobody: default error names it.
        let err = c
            .handle_message(Mining::SetGroupChannel(SetGroupChannel {
                group_channel_id: 1,
                channel_ids: binary_sv2::Seq064K::new(),
            }))
            .unwrap_err();
        assert_eq!(
            err,
            HandlerError::UnexpectedMessage {
                name: "SetGroupChannel"
            }
        );
        // Wrong direction: a downstream never receives SubmitSharesStandard.
        let err = c
            .handle_message(Mining::SubmitSharesStandard(SubmitSharesStandard {
                channel_id: 1,
                sequence_number: 0,
                job_id: 0,
                nonce: 0,
                ntime: 0,
                version: 0,
            }))
            .unwrap_err();
        assert_eq!(
            err,
            HandlerError::UnexpectedMessage {
                name: "SubmitSharesStandard"
            }
        );
    }
}
