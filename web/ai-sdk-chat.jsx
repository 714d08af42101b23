// The "AI SDK chat" demo: the AI SDK's own React client (`useChat` from @ai-sdk/react, with
// `DefaultChatTransport` from `ai`) pointed at Rivulet. No Rivulet code runs here: the page is what an
// application written for the AI SDK looks like, with `api` set to /api/ai/sdk/chat and
// `resume: true`. Bundled by scripts/build-web.mjs (npm run build) into public/build/.
import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport } from 'ai';
import { useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';

const API = '/api/ai/sdk/chat';
const STORAGE_PREFIX = 'rivulet:ai-sdk-chat:';

/**
 * The chat id lives in the URL (`?chat=`), so a reload or a second tab opens the same chat; a page
 * without one starts a new chat. The conversation is the application's to keep (here localStorage,
 * as the SDK's "message persistence" guide does with a database): Rivulet keeps the answers.
 */
function chatFromUrl() {
  const url = new URL(window.location.href);
  const existing = url.searchParams.get('chat');
  if (existing && /^[A-Za-z0-9_-]{1,128}$/.test(existing)) return { id: existing, known: true };
  const id = crypto.randomUUID();
  url.searchParams.set('chat', id);
  window.history.replaceState(null, '', url);
  return { id, known: false };
}

function loadMessages(chatId) {
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_PREFIX + chatId) ?? '[]');
    return Array.isArray(stored) ? stored : [];
  } catch {
    return [];
  }
}

function saveMessages(chatId, messages) {
  try {
    localStorage.setItem(STORAGE_PREFIX + chatId, JSON.stringify(messages));
  } catch {
    // Storage full or disabled: the chat still works, a reload just starts from what Rivulet replays.
  }
}

const chat = chatFromUrl();
const transport = new DefaultChatTransport({ api: API });

const PILL = {
  submitted: ['connecting', 'Sending'],
  streaming: ['open', 'Answering'],
  ready: ['online', 'Ready'],
  error: ['error', 'Error'],
};

function textOf(message) {
  return message.parts.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

function App() {
  const [input, setInput] = useState('');
  const [stopping, setStopping] = useState(false);
  const conversation = useRef(null);
  const { messages, sendMessage, status, stop, error, clearError } = useChat({
    id: chat.id,
    messages: loadMessages(chat.id),
    transport,
    // On load, the SDK asks GET /api/ai/sdk/chat/<id>/stream: the running answer, replayed whole
    // and then live, or 204 when nothing runs.
    resume: chat.known,
  });

  useEffect(() => saveMessages(chat.id, messages), [messages]);
  useEffect(() => {
    const node = conversation.current;
    if (node) node.scrollTop = node.scrollHeight;
  }, [messages]);
  // A chat id nobody has sent a message on yet is unknown to the server (404): a new, empty chat.
  const unknownChat = error && /No such chat/.test(error.message);
  useEffect(() => {
    if (unknownChat) clearError();
  }, [unknownChat, clearError]);

  const busy = status === 'submitted' || status === 'streaming';
  const [pillState, pillLabel] = PILL[status] ?? ['idle', status];

  const onSubmit = (event) => {
    event.preventDefault();
    const text = input.trim();
    if (!text || busy) return;
    setInput('');
    void sendMessage({ text });
  };

  // The SDK's stop() only hangs up this tab's request (for a resumable stream that is a detach, the
  // answer runs on). Stopping the answer itself, for every tab, is Rivulet's DELETE.
  const onStop = async () => {
    setStopping(true);
    try {
      await fetch(`${API}/${encodeURIComponent(chat.id)}/stream`, { method: 'DELETE' });
    } finally {
      setStopping(false);
    }
  };

  const newChat = () => {
    void stop();
    const url = new URL(window.location.href);
    url.searchParams.delete('chat');
    window.location.assign(url);
  };

  return (
    <>
      <div className="page-head">
        <div>
          <h1>AI SDK chat</h1>
          <p className="lead">
            The AI SDK's own <code>useChat</code> with <code>resume: true</code>, pointed at
            Rivulet. Reload mid-answer or open this chat in a second tab: the answer resumes from
            the event log, on any instance. Stop ends it for every tab.
          </p>
        </div>
        <span className="pill" id="status" data-state={pillState}>
          {pillLabel}
        </span>
      </div>
      <section className="card">
        <div className="conversation" id="conversation" aria-live="polite" ref={conversation}>
          {messages.length === 0 ? (
            <p className="feed-empty" id="empty">
              Ask something to start.
            </p>
          ) : (
            messages.map((message) => (
              <div
                key={message.id}
                className={`turn ${message.role}`}
                data-role={message.role}
                data-message-id={message.id}
              >
                <span className="role">{message.role === 'user' ? 'You' : 'Assistant'}</span>
                <div className="content">{textOf(message)}</div>
              </div>
            ))
          )}
          {error && !unknownChat ? (
            <div className="turn error" id="error">
              <span className="role">Error</span>
              <div className="content">{error.message}</div>
            </div>
          ) : null}
        </div>
        <form className="composer" id="composer" onSubmit={onSubmit}>
          <textarea
            id="prompt"
            rows={2}
            maxLength={4000}
            placeholder="Ask a question"
            required
            value={input}
            onChange={(event) => setInput(event.target.value)}
          />
          <div className="stack">
            <button className="primary" type="submit" id="send" disabled={busy}>
              Send
            </button>
            <button
              type="button"
              id="stop"
              disabled={!busy || stopping}
              onClick={() => void onStop()}
            >
              Stop
            </button>
          </div>
        </form>
        <div className="row small muted">
          <span>
            Chat <code id="chat-id">{chat.id}</code>
          </span>
          <span className="spacer"></span>
          <button type="button" id="new-chat" onClick={newChat}>
            New chat
          </button>
        </div>
      </section>
    </>
  );
}

createRoot(document.getElementById('app')).render(<App />);
