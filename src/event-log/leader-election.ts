/**
 * Which instance runs a singleton job (the ticker): with several instances behind a load balancer, a
 * job that publishes on a timer must run on one of them at a time. Chosen with the store, in the
 * EventLogModule factory: in-memory = this process is alone (always leader), Redis = a lease in Redis.
 */
export interface LeaderElection {
  /** Whether this instance holds the lease now; checked at each run of the singleton job. */
  isLeader(): boolean;
  /** Gives the lease up (another instance takes over at once) and releases resources. */
  close(): Promise<void>;
}

export const LEADER_ELECTION = Symbol('LEADER_ELECTION');

/** One process, one store: always the leader. */
export class SingleInstanceLeader implements LeaderElection {
  isLeader(): boolean {
    return true;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
