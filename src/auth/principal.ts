/** Who a verified token speaks for, and what it may do. */
export interface Principal {
  /** The JWT `sub`: the user whose `user:<sub>` topic this is. Undefined for service tokens. */
  readonly sub: string | undefined;
  /** A display name from the token (`name`, else `preferred_username`), when it has a showable one. */
  readonly name?: string;
  /**
   * `rivulet.admin: true`: may read and cancel what belongs to other users (AI generations).
   * Never implied by topic patterns.
   */
  readonly admin?: boolean;
  /** Topic patterns this token may subscribe to (beyond public topics and its own). */
  readonly subscribe: readonly string[];
  /** Topic patterns this token may publish to. */
  readonly publish: readonly string[];
  /** Durable stream path patterns (`orders/*`) this token may read and write (claim `rivulet.streams`). */
  readonly streams?: { readonly read: readonly string[]; readonly write: readonly string[] };
}

export type AccessAction = 'subscribe' | 'publish';

/** What a request does to a durable stream: read (GET, HEAD) or write (PUT, POST, DELETE). */
export type StreamAccess = 'read' | 'write';
