"""WebhookDeliveryWorkflow: one signed message to one vendor webhook, retried for up to 24 hours.

The design, and why:

- **The request workflow never waits for a receiver.** When an `advance_request` result shows a
  threshold newly fired, a clock newly breached or met, a correction or the request closing
  (workflows/notifications.py), ServiceRequestWorkflow runs one more local activity,
  `notify_vendor` (activities/notify.py), in the same workflow task. That activity reads the
  vendor's webhooks subscribed to those kinds and *starts* one WebhookDeliveryWorkflow per message
  and webhook, then returns a count. The request's history grows by one marker per notifying change
  (plus the patch marker once per run), no workflow task, no child-workflow events, and nothing the
  receiver does can reach it: the breach is recorded before the deliveries even start.
- **Why not a child workflow per delivery (ParentClosePolicy.ABANDON)?** It would work too, but a
  child costs the parent three events per delivery (initiated, started, and later completed, which
  wakes the parent for another workflow task: three more) and the parent would have to wait for the
  child's start. A long-lived per-vendor dispatcher fed by signal-with-start would need
  continue-as-new, and the Python SDK cannot signal-with-start from a workflow anyway. Starting the
  deliveries from the local activity keeps the request's history at one event per notifying change.
- **Exactly one delivery per message and webhook.** The message id (the `webhook-id` header) is
  derived from request, clock, instance, cycle and kind (activities/notify.py); this workflow's id is
  `webhook-<webhook id>-<message id>` with REJECT_DUPLICATE: a retried local activity, a replayed
  workflow task or a second worker starts nothing twice, even after the delivery finished.
- **Retries cost no history.** The POST is one activity with a retry policy (exponential backoff
  from 1 s to 1 h, schedule-to-close 24 h). Temporal schedules the attempts on the server, so a
  receiver down for a day adds no events here; each attempt is written to the delivery log
  (`webhook_attempt`) by the activity itself, and the final failure by `record_delivery_failure`.
- **Isolation.** Delivery workflows and their activities run on their own task queue
  (`<task queue>-webhooks`, worker/build.py), so a slow receiver can take delivery slots, never the
  request workflows' or the history archive's. Each delivery is its own workflow: one vendor's dead
  receiver retries on its own schedule while another vendor's message goes out at once.

Only deterministic code here: temporalio, and the message types under imports_passed_through.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError, RetryState

with workflow.unsafe.imports_passed_through():
    from workflows.activity_stubs import deliver_webhook, record_delivery_failure
    from workflows.messages import DeliveryInput, DeliveryResult

DELIVERY_WINDOW = timedelta(hours=24)
# 1 s, 2 s, 4 s, ... capped at 1 h: ~30 attempts in 24 h, the first few within a minute.
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    non_retryable_error_types=["WebhookGone"],
)
_RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


def delivery_workflow_id(webhook_id: str, message_id: str) -> str:
    return f"webhook-{webhook_id}-{message_id}"


@workflow.defn
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, delivery: DeliveryInput) -> DeliveryResult:
        try:
            result = await workflow.execute_activity(
                deliver_webhook,
                delivery,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=DELIVERY_WINDOW,
                retry_policy=DELIVERY_RETRY,
            )
            return result
        except ActivityError as error:
            # 24 h of attempts, or the receiver answered 410 Gone: the log says so, the workflow ends.
            cause = error.cause
            last = cause.message if isinstance(cause, FailureError) else str(error)
            if error.retry_state == RetryState.TIMEOUT:
                reason = f"gave up after {DELIVERY_WINDOW.total_seconds() / 3600:g} h of retries; last: {last}"
            else:
                reason = last
            failed = await workflow.execute_activity(
                record_delivery_failure,
                args=[delivery, reason],
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_RECORD_RETRY,
            )
            return failed
