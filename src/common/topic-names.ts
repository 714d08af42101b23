/**
 * Names of the event log's topics and event types (docs/protocol.md §2), shared by the features that
 * write them and by access control. A leaf: it imports nothing, so any layer may use it.
 */

/** Topic names: letters, digits and `. _ : -`, 1..128 characters (`chat:lobby`, `user:42`, `orders.eu`). */
export const TOPIC_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
/** Event types (the `event:` field): letters, digits and `. _ : -`, 1..64 characters. */
export const EVENT_TYPE = /^[A-Za-z0-9._:-]{1,64}$/;
/** User ids, as in `user:<id>` topics and `?userId=`. */
export const USER_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A user's own topic: their notifications. */
export function userTopic(userId: string): string {
  return `user:${userId}`;
}

/** The topic every user's notification stream carries besides their own. */
export const BROADCAST_TOPIC = 'broadcast';
