// What docs/frontend.md shows, whole: a typed todo-api client for a browser app (openapi-fetch
// over the types openapi-typescript generates from /openapi.json), with the session life
// cycle, problem bodies, If-Match, Idempotency-Key and the change feed. tests/test_frontend.py
// generates the types from a running service, compiles this under `tsc --strict`, and runs
// check.ts with it against that service. Each code block of docs/frontend.md is a piece of
// this file, word for word.
import createClient from "openapi-fetch";

import type { components, paths } from "../generated/api.js";

export type Task = components["schemas"]["TaskOut"];
export type NewTask = components["schemas"]["TaskCreate"];
export type TaskChanges = Partial<NewTask>;
export type LoginResponse = components["schemas"]["LoginOut"];
export type Tombstone = components["schemas"]["TombstoneOut"];

// --- tokens: where they are kept, and one refresh at a time across tabs ---

export interface Tokens {
  access: string;
  refresh: string;
  accessExpiresAt: number; // Date.now() milliseconds
}

export interface TokenStore {
  read(): Tokens | null;
  write(tokens: Tokens | null): void;
}

/** Kept in localStorage: shared by every tab of the app's origin. */
export const localStorageTokens: TokenStore = {
  read: () => JSON.parse(localStorage.getItem("todo-api.tokens") ?? "null") as Tokens | null,
  write: (tokens) =>
    tokens === null
      ? localStorage.removeItem("todo-api.tokens")
      : localStorage.setItem("todo-api.tokens", JSON.stringify(tokens)),
};

/** Runs `task` while holding the lock `name`: one holder at a time. */
export type Lock = <T>(name: string, task: () => Promise<T>) => Promise<T>;

/** The Web Locks API: one holder across every tab of the origin. */
export const webLock: Lock = <T>(name: string, task: () => Promise<T>) =>
  new Promise<T>((resolve, reject) => {
    navigator.locks.request(name, () => task().then(resolve, reject)).catch(reject);
  });

/** One holder within this page only (for a runtime without navigator.locks). */
export function pageLock(): Lock {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(_name: string, task: () => Promise<T>): Promise<T> => {
    const run = last.then(task, task);
    last = run.catch(() => undefined);
    return run;
  };
}

export function tokensFrom(login: LoginResponse): Tokens {
  return {
    access: login.access_token,
    refresh: login.refresh_token,
    accessExpiresAt: Date.now() + login.expires_in * 1000,
  };
}

const REFRESH_AHEAD_MS = 60_000; // refresh when the access token has less than a minute left

export class Session {
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly baseUrl: string,
    private readonly store: TokenStore,
    private readonly lock: Lock,
  ) {}

  signedIn(login: LoginResponse): void {
    this.store.write(tokensFrom(login));
  }

  /** The fetch the client uses: sends the access token, refreshes it ahead of its expiry,
   * and on a 401 refreshes once and sends the request again. */
  fetch = async (request: Request): Promise<Response> => {
    const retry = request.clone();
    let tokens = this.store.read();
    if (tokens !== null && Date.now() > tokens.accessExpiresAt - REFRESH_AHEAD_MS) {
      await this.refresh(tokens.refresh);
      tokens = this.store.read();
    }
    const response = await fetch(withBearer(request, tokens));
    if (response.status !== 401 || tokens === null) return response;
    await this.refresh(tokens.refresh);
    const renewed = this.store.read();
    if (renewed === null || renewed.access === tokens.access) return response; // signed out
    return fetch(withBearer(retry, renewed));
  };

  /** Trades the refresh token for new tokens, once, however many requests and tabs ask at
   * the same moment: a refresh token works once, and a second use of it ends the session. */
  refresh(seen: string): Promise<void> {
    this.refreshing ??= this.lock("todo-api-refresh", async () => {
      const current = this.store.read();
      if (current === null || current.refresh !== seen) return; // refreshed meanwhile
      const response = await fetch(`${this.baseUrl}/api/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh }),
      });
      if (response.ok) this.store.write(tokensFrom((await response.json()) as LoginResponse));
      else if (response.status === 401 || response.status === 403) this.store.write(null);
      // Anything else (503, the network): keep the tokens; the next request tries again.
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Ends the session on the server (its tokens stop working at once), then here. */
  async logout(): Promise<void> {
    const tokens = this.store.read();
    this.store.write(null);
    if (tokens !== null) {
      await fetch(`${this.baseUrl}/api/auth/logout`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tokens.access}` },
      });
    }
  }
}

function withBearer(request: Request, tokens: Tokens | null): Request {
  const sent = new Request(request);
  if (tokens !== null) sent.headers.set("Authorization", `Bearer ${tokens.access}`);
  return sent;
}

export function todoClient(baseUrl: string, session: Session) {
  return createClient<paths>({ baseUrl, fetch: session.fetch });
}

export type TodoClient = ReturnType<typeof todoClient>;

// --- problem bodies ---

type ErrorItem = components["schemas"]["ErrorItem"];

/** What to show for a failed request: `detail`, and each rule broken with its field. */
export function describeProblem(error: unknown): string {
  const problem = error as { detail?: string; errors?: ErrorItem[] } | undefined;
  const fields = (problem?.errors ?? []).map((e) => `${e.loc.slice(1).join(".")}: ${e.msg}`);
  return [problem?.detail ?? "Something went wrong", ...fields].join("\n");
}

// --- writes that are safe to retry, and edits that never overwrite someone else's ---

/** Creates a task; `key` is made once per task the user adds, and sent again on a retry. */
export async function addTask(api: TodoClient, userId: string, task: NewTask, key: string) {
  return api.POST("/api/{user_id}/tasks", {
    params: { path: { user_id: userId } },
    headers: { "Idempotency-Key": key },
    body: task,
  });
}

/** Changes a task only if it is still the version the user saw (its ETag, `"3"`): else 412,
 * nothing changed, and the response's ETag and a GET give the current task to show. */
export async function editTask(
  api: TodoClient,
  userId: string,
  task: Task,
  changes: TaskChanges,
) {
  return api.PUT("/api/{user_id}/tasks/{task_id}", {
    params: { path: { user_id: userId, task_id: task.id } },
    headers: { "If-Match": `"${task.version}"` },
    body: changes,
  });
}

// --- the change feed: an app that stays open keeps its copy up to date ---

export interface Copy {
  tasks: Map<number, Task>;
  next?: string;
}

/** Brings `copy` up to date; call it on focus, on reconnect, or every few seconds. */
export async function sync(api: TodoClient, userId: string, copy: Copy): Promise<void> {
  for (;;) {
    const { data, response } = await api.GET("/api/{user_id}/tasks/changes", {
      params: { path: { user_id: userId }, query: { since: copy.next } },
    });
    if (response.status === 410) {
      copy.tasks.clear(); // the token is older than the history kept: start over
      copy.next = undefined;
      continue;
    }
    if (data === undefined) throw new Error(`sync failed: ${response.status}`);
    for (const change of data.changes) {
      if ("deleted" in change) copy.tasks.delete(change.id);
      else copy.tasks.set(change.id, change);
    }
    copy.next = data.next;
    if (!data.more) return;
  }
}
