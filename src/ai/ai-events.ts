import type { AiFailure } from './ai-provider';

/**
 * Why a generation ended in an error: the provider failed, Rivulet stopped it, or the event store
 * could not take its events (`store`: the answer is cut short where the store failed).
 */
export type AiErrorReason = AiFailure | 'cancelled' | 'abandoned' | 'shutdown' | 'store';

/**
 * The events of a generation, as written to the log on topic `ai:<generationId>` and sent to
 * clients as the `data:` of each frame (the seed's shapes; `reason` is an addition). They never
 * carry the owner: anyone allowed to read the topic reads them. The owner is kept apart, on
 * aiOwnerTopic, which no client endpoint can name.
 */
export type AiEvent =
  | { type: 'start'; generationId: string }
  | { type: 'chunk'; content: string }
  | { type: 'done' }
  | { type: 'error'; message: string; reason: AiErrorReason };

/** `?pace=char`: one event per character; `index` is the character's position in the whole answer. */
export interface AiCharChunk {
  type: 'chunk';
  content: string;
  index: number;
}

export const AI_TOPIC_PREFIX = 'ai:';

export function aiTopic(generationId: string): string {
  return `${AI_TOPIC_PREFIX}${generationId}`;
}

/**
 * An event as clients see it. A `start` is rebuilt from its two fields, so nothing else a log
 * holds (an `owner` written by an older version) ever reaches the wire.
 */
export function toWire(event: AiEvent): AiEvent {
  if (event.type !== 'start') return event;
  return { type: 'start', generationId: event.generationId };
}

/**
 * Where a generation's owner (the JWT `sub` that started it) is recorded, for access checks on any
 * instance: one event `{"owner"}`, appended before the generation's first event. The `/` keeps it
 * out of every client endpoint (client topic names are letters, digits and `. _ : -` only).
 */
export function aiOwnerTopic(generationId: string): string {
  return `ai/owner/${generationId}`;
}

/** The owner in an aiOwnerTopic record (or in the `start` event of an older version's log). */
export function ownerIn(data: unknown): string | undefined {
  const record = data as Partial<{ type: unknown; owner: unknown }> | null;
  return typeof record?.owner === 'string' ? record.owner : undefined;
}

export function isTerminal(data: unknown): boolean {
  const type = (data as { type?: unknown } | null)?.type;
  return type === 'done' || type === 'error';
}

/**
 * The seed URL's generations of one asker and one message: topic `ai/seed:<promptKey>` holds an
 * entry per generation started with that `?message=` by that owner (see GenerationService.promptKey),
 * so EventSource's reconnect finds its generation with one direct read, from any instance, instead
 * of scanning every generation. The `/` keeps these topics out of every client endpoint: topic
 * names clients can give are letters, digits and `. _ : -` only. They expire with the generation.
 */
export const AI_SEED_TOPIC_PREFIX = 'ai/seed:';

export function seedTopic(promptKey: string): string {
  return `${AI_SEED_TOPIC_PREFIX}${promptKey}`;
}

/** An entry of a seed topic. Appended before the generation's `start` event. */
export interface AiSeedEntry {
  generationId: string;
}

export function seedEntryIn(data: unknown): AiSeedEntry | undefined {
  const entry = data as Partial<Record<keyof AiSeedEntry, unknown>> | null;
  return typeof entry?.generationId === 'string' ? { generationId: entry.generationId } : undefined;
}
