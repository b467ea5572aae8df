//! Amazon Simple Queue Service (SQS): standard and FIFO queues.
//!
//! Queues live per account and region ([`state`]); each queue's messages move through the
//! state machine in [`queue`] (delayed, visible, in flight; FIFO group locks and
//! deduplication) on the shared clock. Receivers long-poll on a per-queue `Notify` and on
//! the clock, so an idle poller costs nothing and advancing the clock wakes it. Messages
//! and queue records are committed before a request is acknowledged, and so is what
//! receives change (in flight until, receive count, receipt handle), FIFO deduplication
//! entries and a reservation of sequence numbers: after a restart an unacknowledged
//! message stays invisible until its visibility timeout, a deleted one never reappears,
//! duplicates within five minutes are still recognized and sequence numbers keep growing.
//!
//! - [`queues`]: create, find, list, attributes, tags, permissions, purge, delete;
//! - [`messages`]: send, receive, delete, visibility, batches, dead-lettering;
//! - [`moves`]: message move tasks out of dead-letter queues;
//! - [`attributes`], [`message`], [`names`]: validation, digests, URLs; queue policies are
//!   evaluated by `nephos-policy` (principals, actions, resources, conditions).

pub mod attributes;
mod errors;
pub mod message;
mod messages;
mod moves;
pub mod names;
pub mod queue;
mod queues;
mod state;

use nephos_core::{AwsError, BoxFuture, Input, Output, Provider, RequestContext};
use nephos_storage::Storage;
use state::Core;
use std::sync::Arc;

pub struct SqsProvider {
    core: Arc<Core>,
}

impl SqsProvider {
    /// Opens the provider, reloading queues and messages stored before a restart.
    pub fn new(storage: Storage) -> Result<SqsProvider, String> {
        Ok(SqsProvider {
            core: Arc::new(Core::load(storage)?),
        })
    }
}

impl Provider for SqsProvider {
    fn service(&self) -> &'static str {
        "sqs"
    }

    fn resource_facts(&self, _ctx: &RequestContext, arn: &str) -> nephos_core::ResourceFacts {
        let Some(q) = self.core.by_arn(arn) else {
            return nephos_core::ResourceFacts::default();
        };
        let inner = q.inner.lock().unwrap();
        let meta = inner.meta();
        nephos_core::ResourceFacts {
            owner: Some(q.account.clone()),
            policy: meta.attrs.get("Policy").cloned(),
            tags: meta
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }

    fn operations(&self) -> &'static [&'static str] {
        &[
            "AddPermission",
            "CancelMessageMoveTask",
            "ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch",
            "CreateQueue",
            "DeleteMessage",
            "DeleteMessageBatch",
            "DeleteQueue",
            "GetQueueAttributes",
            "GetQueueUrl",
            "ListDeadLetterSourceQueues",
            "ListMessageMoveTasks",
            "ListQueueTags",
            "ListQueues",
            "PurgeQueue",
            "ReceiveMessage",
            "RemovePermission",
            "SendMessage",
            "SendMessageBatch",
            "SetQueueAttributes",
            "StartMessageMoveTask",
            "TagQueue",
            "UntagQueue",
        ]
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let c = &*self.core;
            let i = &input.value;
            let value = match ctx.operation.as_str() {
                "CreateQueue" => queues::create_queue(c, ctx, i).await?,
                "GetQueueUrl" => queues::get_queue_url(c, ctx, i)?,
                "ListQueues" => queues::list_queues(c, ctx, i)?,
                "DeleteQueue" => queues::delete_queue(c, ctx, i).await?,
                "GetQueueAttributes" => queues::get_queue_attributes(c, ctx, i)?,
                "SetQueueAttributes" => queues::set_queue_attributes(c, ctx, i).await?,
                "TagQueue" => queues::tag_queue(c, ctx, i).await?,
                "UntagQueue" => queues::untag_queue(c, ctx, i).await?,
                "ListQueueTags" => queues::list_queue_tags(c, ctx, i)?,
                "AddPermission" => queues::add_permission(c, ctx, i).await?,
                "RemovePermission" => queues::remove_permission(c, ctx, i).await?,
                "PurgeQueue" => queues::purge_queue(c, ctx, i).await?,
                "ListDeadLetterSourceQueues" => queues::list_dead_letter_source_queues(c, ctx, i)?,
                "SendMessage" => messages::send_message(c, ctx, i).await?,
                "SendMessageBatch" => messages::send_message_batch(c, ctx, i).await?,
                "ReceiveMessage" => messages::receive_message(c, ctx, i).await?,
                "DeleteMessage" => messages::delete_message(c, ctx, i).await?,
                "DeleteMessageBatch" => messages::delete_message_batch(c, ctx, i).await?,
                "ChangeMessageVisibility" => messages::change_message_visibility(c, ctx, i).await?,
                "ChangeMessageVisibilityBatch" => {
                    messages::change_message_visibility_batch(c, ctx, i).await?
                }
                "StartMessageMoveTask" => moves::start(&self.core, ctx, i)?,
                "ListMessageMoveTasks" => moves::list(c, ctx, i)?,
                "CancelMessageMoveTask" => moves::cancel(c, i)?,
                other => return Err(AwsError::not_implemented("sqs", other)),
            };
            Ok(Output::new(value))
        })
    }

    fn reset(&self) {
        for (_, region) in self.core.regions.all() {
            for q in region.queues.read().unwrap().values() {
                q.inner.lock().unwrap().deleted = true;
                q.notify.notify_waiters();
            }
        }
        self.core.regions.clear();
    }
}
