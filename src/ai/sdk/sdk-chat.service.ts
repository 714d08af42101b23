import {
  ConflictException,
  ForbiddenException,
  HttpException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { catchError, defer, map, Observable, of } from 'rxjs';
import { AccessService } from '../../auth/access.service';
import type { Principal } from '../../auth/principal';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { EVENT_LOG, EventLog } from '../../event-log/event-log';
import {
  batchMessages,
  isSseBatch,
  isSseOpen,
  sseBatch,
  SseEmission,
  SseMessage,
} from '../../sse/sse-message';
import { AiAccessService } from '../ai-access.service';
import { AiEvent, aiTopic, isTerminal } from '../ai-events';
import type { ChatMessage } from '../ai-provider';
import { GenerationService } from '../generation.service';
import { failureMessages, openingOf, toUiMessages } from './ui-message-stream';

/**
 * The log topic of an AI SDK chat: one `turn` event per answer started, newest last. The `/` keeps
 * it out of every client endpoint (client topic names are letters, digits and `. _ : -` only), so
 * the owner recorded here never reaches a client.
 */
export const SDK_CHAT_TOPIC_PREFIX = 'ai/sdk-chat/';

export function sdkChatTopic(chatId: string): string {
  return `${SDK_CHAT_TOPIC_PREFIX}${chatId}`;
}

/** A `turn` event of a chat topic: the generation answering one message, and who started the chat. */
export interface ChatTurn {
  generationId: string;
  owner?: string;
}

export type StopOutcome = 'cancelled' | 'finished';

/**
 * AI SDK chats (`useChat` with DefaultChatTransport) on Rivulet generations. A chat is its topic of
 * turns; each turn's answer is an ordinary generation (GenerationService: the model called once,
 * every delta in the log, detached readers kept through AI_DETACH_GRACE_MS, a cancel seen on every
 * instance), read back as the UI message stream protocol (ui-message-stream.ts). Nothing is kept in
 * memory: any instance sharing the store finds a chat's running answer, replays it and stops it.
 *
 * Access (with AUTH_JWT_SECRET set): starting needs what starting a generation needs (publish to
 * `ai:*`); a chat belongs to the `sub` that started it, and only that user adds turns to it. Reading
 * or stopping someone else's chat is a 404, the answer for a chat that does not exist, unless the
 * token may read (subscribe) or cancel (publish) the answer's own topic `ai:<id>` (an admin scope,
 * checked by AiAccessService).
 */
@Injectable()
export class SdkChatService {
  private readonly logger = new Logger(SdkChatService.name);
  /** UI messages of each generation message, built once and shared by every reader (see toUi). */
  private readonly uiMessages = new WeakMap<SseMessage, readonly SseMessage[]>();

  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    private readonly generations: GenerationService,
    private readonly access: AccessService,
    private readonly aiAccess: AiAccessService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Checks the caller may start an answer (as for any generation); returns the owner to record. */
  authorizeStart(caller: Principal | undefined): string | undefined {
    return this.aiAccess.authorizeStart(caller);
  }

  /**
   * Starts the answer to a chat's latest message and records it as the chat's turn. Refused while the
   * chat has an answer running (409: stop it, or resume it, first) and, with auth on, when the chat
   * was started by another user (403).
   */
  async startTurn(
    chatId: string,
    owner: string | undefined,
    messages: readonly ChatMessage[],
    quotaKey?: string,
  ): Promise<string> {
    const latest = await this.latestTurn(chatId);
    if (latest) {
      if (!this.access.openMode && latest.owner !== owner) {
        throw new ForbiddenException(
          'This chat id belongs to another user; start your chat with a new id',
        );
      }
      if (await this.isRunning(latest.generationId)) {
        throw new ConflictException(
          'This chat is answering already: resume it (GET /api/ai/sdk/chat/:chatId/stream) or stop it (DELETE) first',
        );
      }
    }
    const topic = sdkChatTopic(chatId);
    // The chat lives as long as its newest answer: AI_RETENTION_MS after that ends, as its `ai:`
    // topic does (expireWith).
    const generationId = await this.generations.start(messages, {
      owner,
      quotaKey,
      expireWith: [topic],
    });
    const turn: ChatTurn = owner === undefined ? { generationId } : { generationId, owner };
    try {
      // The last answer's deadline must not take the chat away while this one runs.
      await this.log.persist([topic]);
      await this.log.append<ChatTurn>({ topic, type: 'turn', data: turn });
      // An answer that ended meanwhile set its deadline before the persist, or on no topic yet
      // (Redis expires only a key that exists): set it again.
      if (!(await this.isRunning(generationId))) {
        await this.log.expire([topic], this.config.ai.retentionMs);
      }
    } catch (error) {
      // Unrecorded, nobody could resume or stop it: the answer does not run on.
      await this.generations.cancel(generationId).catch(() => undefined);
      throw error;
    }
    return generationId;
  }

  /**
   * The chat's running answer the caller may read or stop, or undefined when it has none running
   * (finished, stopped, or expired). A chat unknown here, or another user's, is a 404.
   */
  async activeAnswer(
    caller: Principal | undefined,
    chatId: string,
    purpose: 'read' | 'stop',
  ): Promise<string | undefined> {
    const turn = await this.authorizeChat(caller, chatId, purpose);
    return (await this.isRunning(turn.generationId)) ? turn.generationId : undefined;
  }

  /** Stops a chat's answer for every reader, wherever it runs: upstream aborted, readers get `abort`. */
  stop(generationId: string): Promise<StopOutcome> {
    return this.generations.cancel(generationId);
  }

  /**
   * An answer as the UI message stream protocol: every chunk from its `start`, then live ones, ending
   * with `[DONE]`. A failure after the stream has opened (the store went away) ends it with an
   * `error` part, as the protocol says, rather than a frame the SDK could not parse.
   */
  uiStream(generationId: string): Observable<SseEmission> {
    return defer(() => {
      let opened = false;
      let started = false;
      const translate = (messages: readonly SseMessage[]): SseMessage[] => {
        const out: SseMessage[] = [];
        for (const message of messages) {
          const ui = this.toUi(message);
          if (ui.length === 0) continue;
          if (!started) {
            started = true;
            if (!isStart(message)) out.push(...openingOf(generationId));
          }
          out.push(...ui);
        }
        return out;
      };
      return this.generations.stream(generationId, undefined, 'chunk').pipe(
        map((emission): SseEmission => {
          opened = true;
          if (isSseOpen(emission)) return emission;
          const messages = translate(isSseBatch(emission) ? batchMessages(emission) : [emission]);
          return messages.length === 1 ? messages[0]! : sseBatch(messages);
        }),
        catchError((error: unknown) => {
          if (!opened) throw error;
          if (!(error instanceof HttpException)) this.logger.error(error);
          return of(sseBatch(failureMessages('The answer stream failed; reconnect to resume')));
        }),
      );
    });
  }

  /** The chat's newest turn, if the log still holds one. */
  private async latestTurn(chatId: string): Promise<ChatTurn | undefined> {
    const { events } = await this.log.readAfter([sdkChatTopic(chatId)], undefined);
    for (let i = events.length - 1; i >= 0; i--) {
      const turn = turnIn(events[i]!.data);
      if (turn) return turn;
    }
    return undefined;
  }

  /** Whether a generation's topic holds its `start` and no terminal event yet. */
  private async isRunning(generationId: string): Promise<boolean> {
    const { events } = await this.log.readAfter([aiTopic(generationId)], undefined);
    return events.length > 0 && !events.some((event) => isTerminal(event.data));
  }

  private async authorizeChat(
    principal: Principal | undefined,
    chatId: string,
    purpose: 'read' | 'stop',
  ): Promise<ChatTurn> {
    if (!this.access.openMode && !principal) {
      throw new UnauthorizedException('An access token is required for an AI SDK chat');
    }
    const turn = await this.latestTurn(chatId);
    if (!turn) throw new NotFoundException('No such chat');
    if (this.access.openMode) return turn;
    if (turn.owner !== undefined && turn.owner === principal?.sub) return turn;
    try {
      if (purpose === 'read') await this.aiAccess.authorizeRead(principal, turn.generationId);
      else await this.aiAccess.authorizeCancel(principal, turn.generationId);
    } catch (error) {
      // Another user's chat looks exactly like one that does not exist.
      if (error instanceof ForbiddenException) throw new NotFoundException('No such chat');
      throw error;
    }
    return turn;
  }

  /** A generation stream message as UI messages; control messages (no generation event) have none. */
  private toUi(message: SseMessage): readonly SseMessage[] {
    let ui = this.uiMessages.get(message);
    if (!ui) {
      ui = isAiEvent(message.data) ? toUiMessages(message.data) : [];
      this.uiMessages.set(message, ui);
    }
    return ui;
  }
}

function turnIn(data: unknown): ChatTurn | undefined {
  const turn = data as Partial<Record<keyof ChatTurn, unknown>> | null;
  if (typeof turn?.generationId !== 'string') return undefined;
  return typeof turn.owner === 'string'
    ? { generationId: turn.generationId, owner: turn.owner }
    : { generationId: turn.generationId };
}

const AI_EVENT_TYPES: ReadonlySet<unknown> = new Set(['start', 'chunk', 'done', 'error']);

function isAiEvent(data: unknown): data is AiEvent {
  return AI_EVENT_TYPES.has((data as { type?: unknown } | null)?.type);
}

function isStart(message: SseMessage): boolean {
  return (message.data as { type?: unknown } | null)?.type === 'start';
}
