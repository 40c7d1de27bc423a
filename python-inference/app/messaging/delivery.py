"""What every consumer does with a delivery besides its own work: describe it on its span and count it, read a
header, read its events, settle it, and end quietly when its channel closes under it."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from aio_pika.abc import AbstractIncomingMessage

from app.core.telemetry import AttributeValue, Span, instruments, parse_traceparent
from app.schemas.events import Event, InvalidEventError, parse_events

logger = logging.getLogger(__name__)


def consumer_span_attributes(
    message: AbstractIncomingMessage, *, queue: str, exchange: str, queue_template: str | None = None
) -> dict[str, AttributeValue]:
    """A `process <queue>` span's attributes (semantic conventions 1.27). The destination is the queue consumed from,
    the exchange it was published to is `destination_publish`; a replica's own, auto-named queue also has the
    template that names its span."""
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": queue,
        "messaging.destination_publish.name": exchange,
        "messaging.message.redelivered": bool(message.redelivered),
    }
    if queue_template is not None:
        attributes["messaging.destination.template"] = queue_template
        attributes["messaging.destination.temporary"] = True
        attributes["messaging.destination.anonymous"] = True
    if message.message_id:
        attributes["messaging.message.id"] = message.message_id
    if message.routing_key:
        attributes["messaging.rabbitmq.destination.routing_key"] = message.routing_key
    if message.delivery_tag is not None:
        attributes["messaging.rabbitmq.message.delivery_tag"] = int(message.delivery_tag)
    return attributes


def count_consumed(queue: str) -> None:
    instruments.MESSAGING_CONSUMED.add(
        1,
        {"messaging.system": "rabbitmq", "messaging.operation.name": "process", "messaging.destination.name": queue},
    )


def header(message: AbstractIncomingMessage, name: str) -> str | None:
    value = (message.headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else None


class BatchedAcks:
    """Acknowledges a channel's deliveries many at a time: one ack frame per transaction rather than per event, which
    took a fifth off the broker's CPU per event (python-inference's own did not measurably change;
    docs/performance-history.md, "Lock waits, one span fewer, acks together").
    A delivery is `taken` when its handling begins and `done` once its effect is committed; one `multiple` ack then
    covers every done delivery below the lowest one still in hand, so none is acknowledged before its effect is. A
    delivery settled on its own (rejected, requeued) or abandoned is `released`: it no longer holds the others back.

    Deliveries are taken in the order the channel numbers them (aio-pika starts their handlers in arrival order), so
    a lower tag that was delivered is always in hand before a higher one can be done. Tags are per channel; a channel
    reopened after a reconnect counts again from 1 and has its own record."""

    def __init__(self) -> None:
        self._in_hand: dict[object, set[int]] = {}
        self._done: dict[object, dict[int, AbstractIncomingMessage]] = {}

    def take(self, message: AbstractIncomingMessage) -> None:
        self._in_hand.setdefault(message.channel, set()).add(message.delivery_tag)

    def release(self, message: AbstractIncomingMessage) -> AbstractIncomingMessage | None:
        """`message` was settled alone (or never will be); the delivery to ack with `multiple` now, if any."""
        self._in_hand.get(message.channel, set()).discard(message.delivery_tag)
        return self._ackable(message.channel)

    def done(self, messages: list[AbstractIncomingMessage]) -> list[AbstractIncomingMessage]:
        """Their effects are committed: the deliveries to ack with `multiple` now (one per channel, usually none or
        one)."""
        for message in messages:
            self._in_hand.get(message.channel, set()).discard(message.delivery_tag)
            self._done.setdefault(message.channel, {})[message.delivery_tag] = message
        return [ack for channel in {message.channel for message in messages} if (ack := self._ackable(channel))]

    def _ackable(self, channel: object) -> AbstractIncomingMessage | None:
        done = self._done.get(channel)
        if not done:
            self._forget_if_idle(channel)
            return None
        in_hand = self._in_hand.get(channel)
        lowest = min(in_hand) if in_hand else None
        ready = [tag for tag in done if lowest is None or tag < lowest]
        if not ready:
            return None
        last = done[max(ready)]
        for tag in ready:
            del done[tag]
        self._forget_if_idle(channel)
        return last

    def _forget_if_idle(self, channel: object) -> None:
        if not self._in_hand.get(channel) and not self._done.get(channel):
            self._in_hand.pop(channel, None)
            self._done.pop(channel, None)

    @property
    def unacknowledged(self) -> int:
        """Deliveries done but not acknowledged yet (held back by a lower one in hand)."""
        return sum(len(done) for done in self._done.values())


# How long settling a delivery may take before it is given up; the broker redelivers what was not settled.
SETTLE_TIMEOUT_S = 5.0


async def settle(message: AbstractIncomingMessage, operation: Literal["ack", "nack", "reject"], **flag: bool) -> None:
    """Ack, nack or reject `message` (with `multiple=` or `requeue=` as aio-pika takes them), or leave it to the broker.

    A delivery whose channel has closed is not settled: the broker redelivers it, which is harmless. And a settlement
    gets at most `SETTLE_TIMEOUT_S`: aiormq 6.4 puts it on the connection's write queue and waits until it is sent, and
    on a connection already gone that wait never ends (its future is made after the channel's were all failed). The
    analytics consumer's one writer waited so after a broker restart, and every later delivery waited behind it
    unacknowledged while the queue grew in the broker's memory (docs/reliability-history.md, "RabbitMQ's growth
    in the soak")."""
    if message.channel.is_closed:
        logger.info("delivery %s not settled: its channel closed (the broker will redeliver it)", message.delivery_tag)
        return
    try:
        await asyncio.wait_for(getattr(message, operation)(**flag), SETTLE_TIMEOUT_S)
    except TimeoutError:
        logger.warning(
            "settling delivery %s (%s) took over %.1f s; given up (the broker will redeliver it if it did not arrive)",
            message.delivery_tag,
            operation,
            SETTLE_TIMEOUT_S,
        )
    except Exception as error:  # noqa: BLE001
        logger.info("could not settle a delivery (the broker will redeliver it): %r", error)


Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


def consumer_callback(handler: Handler) -> Handler:
    """`handler` as the callback to give `queue.consume`: a delivery cancelled in progress ends quietly.

    aio-pika 8.2 runs each delivery's callback as a task, and when the channel closes (the broker restarting, the
    connection lost, the service stopping) it cancels the task of a delivery still in progress. The delivery was not
    settled, so the broker redelivers it; nothing is lost. But the task's done callback (`aio_pika.tools._task_done`)
    re-raises the cancellation, and the event loop prints it as an unhandled exception with its traceback. The task
    is aio-pika's own and nothing else awaits it, so its cancellation is ended here, with one line in the log."""

    @functools.wraps(handler)
    async def callback(message: AbstractIncomingMessage) -> None:
        try:
            await handler(message)
        except asyncio.CancelledError:
            logger.info(
                "delivery %s was cancelled in progress as its channel closed (the broker will redeliver it)",
                message.delivery_tag,
            )

    return callback


async def read_events(message: AbstractIncomingMessage, span: Span) -> list[Event] | None:
    """The delivery's events (one, or a batch's in order), named on its consumer span; an unparsable body is rejected
    (dead-lettered) and None."""
    try:
        events = parse_events(message.body)
    except InvalidEventError as error:
        logger.warning("dropping an unparsable event (message_id %s): %s", message.message_id, error)
        span.set_error("invalid event")
        await settle(message, "reject", requeue=False)
        return None
    # A batch's events share a type; its message is named by the first (as its message_id is).
    span.attributes["messaging.message.id"] = str(events[0].envelope.id)
    span.attributes["event.type"] = events[0].envelope.type
    if len(events) > 1:
        span.attributes["messaging.batch.message_count"] = len(events)
    # The span continues the message's trace (the first event's); an event of another trace (another job's) is linked,
    # when the span is exported at all (with production's sampling most are not).
    if span.sampled and span.recorded:
        linked = {span.trace_id}
        for event in events:
            context = parse_traceparent(event.envelope.traceparent)
            if context is not None and context.trace_id not in linked:
                linked.add(context.trace_id)
                span.add_link(context)
    return events
