// Runs docs/frontend.md's client (todo-client.ts) against a live todo-api at process.argv[2]
// and checks what the guide says of it. Two "tabs" share one token store and one lock, as two
// tabs of a browser share localStorage and navigator.locks. Exits non-zero at the first check
// that fails; tests/test_frontend.py runs it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import {
  type Copy,
  type LoginResponse,
  type Tokens,
  type TokenStore,
  Session,
  addTask,
  describeProblem,
  editTask,
  pageLock,
  sync,
  todoClient,
} from "./todo-client.js";

const baseUrl = process.argv[2];
assert.ok(baseUrl, "usage: node check.js http://127.0.0.1:PORT");

let stored: Tokens | null = null;
const memory: TokenStore = { read: () => stored, write: (t) => void (stored = t) };
const lock = pageLock();

// Every request any tab sends, to count the refreshes.
const sent: string[] = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
  const url = input instanceof Request ? input.url : String(input);
  sent.push(url.replace(baseUrl, ""));
  return realFetch(input, init);
};
const refreshes = () => sent.filter((url) => url === "/api/auth/refresh").length;

let checks = 0;
function check(what: string, ok: boolean, detail?: unknown): void {
  assert.ok(ok, `${what}: ${JSON.stringify(detail)}`);
  checks += 1;
}

const tab1 = new Session(baseUrl, memory, lock);
const tab2 = new Session(baseUrl, memory, lock);
const api1 = todoClient(baseUrl, tab1);
const api2 = todoClient(baseUrl, tab2);

// Register: the typed body, the login response kept.
const name = `fe${randomUUID().slice(0, 8)}`;
const registered = await api1.POST("/api/auth/register", {
  body: { email: `${name}@example.com`, password: "correct horse" },
});
check("register", registered.response.status === 201, registered.error);
tab1.signedIn(registered.data as LoginResponse);
const me = (registered.data as LoginResponse).user.id;

// Idempotency-Key: the retry gets the first answer back.
const key = randomUUID();
const first = await addTask(api1, me, { title: "Buy milk", tags: ["errands"] }, key);
const again = await addTask(api1, me, { title: "Buy milk", tags: ["errands"] }, key);
check("create", first.response.status === 201 && first.data !== undefined, first.error);
check("retry replays", again.data?.id === first.data?.id, again.data);
check("replay header", again.response.headers.get("Idempotent-Replayed") === "true");
const task = first.data!;

// If-Match: the first edit wins, the one from the older version is 412 and changes nothing.
const edited = await editTask(api1, me, task, { priority: "high" });
check("edit", edited.response.status === 200 && edited.data?.version === 2, edited.error);
const stale = await editTask(api2, me, task, { title: "Buy oat milk" });
check("stale edit is 412", stale.response.status === 412, stale.error);
check("412 names the current version", stale.response.headers.get("ETag") === '"2"');
check("412 has a detail", describeProblem(stale.error).length > 0);

// A problem body with `errors`: the field and the rule.
const invalid = await api1.POST("/api/{user_id}/tasks", {
  params: { path: { user_id: me } },
  body: { title: "  " },
});
check("blank title is 422", invalid.response.status === 422, invalid.error);
check("errors name the field", describeProblem(invalid.error).includes("title: "), invalid.error);

// The list page's weak ETag: If-None-Match gets 304 (a browser does this itself).
const page = await api1.GET("/api/{user_id}/tasks", { params: { path: { user_id: me } } });
const etag = page.response.headers.get("ETag") ?? "";
check("list ETag is weak", etag.startsWith('W/"'), etag);
check("X-Total-Count", page.response.headers.get("X-Total-Count") === "1");
const unchanged = await api1.GET("/api/{user_id}/tasks", {
  params: { path: { user_id: me } },
  headers: { "If-None-Match": etag },
});
check("list 304", unchanged.response.status === 304);

// Two tabs, five requests, an access token that no longer works: one refresh for all.
const before = refreshes();
stored = { ...stored!, access: "expired.or.revoked" };
const results = await Promise.all(
  [api1, api2, api1, api2, api1].map((api) =>
    api.GET("/api/{user_id}/tasks", { params: { path: { user_id: me } } }),
  ),
);
check("all five answered after a refresh", results.every((r) => r.response.status === 200));
check("exactly one refresh", refreshes() === before + 1, refreshes() - before);
const sessions = await api2.GET("/api/auth/sessions");
check("the session survived", sessions.data?.length === 1, sessions.data);

// Refresh ahead of expiry: no 401 needed.
stored = { ...stored!, accessExpiresAt: Date.now() + 1000 };
const ahead = await api1.GET("/api/{user_id}/tags", { params: { path: { user_id: me } } });
check("refreshed ahead", ahead.response.status === 200 && refreshes() === before + 2);

// The change feed: a copy kept up to date, deletions included.
const copy: Copy = { tasks: new Map() };
await sync(api1, me, copy);
check("copy has the task", copy.tasks.get(task.id)?.priority === "high", [...copy.tasks]);
await api2.DELETE("/api/{user_id}/tasks/{task_id}", {
  params: { path: { user_id: me, task_id: task.id } },
});
await sync(api1, me, copy);
check("the deletion reached the copy", copy.tasks.size === 0, [...copy.tasks]);

// Logout: the server ends the session; its tokens stop working in every tab.
const last = stored!;
await tab2.logout();
check("logged out here", stored === null);
const after = await realFetch(`${baseUrl}/api/auth/me`, {
  headers: { Authorization: `Bearer ${last.access}` },
});
check("the old access token is refused", after.status === 401);
const reuse = await realFetch(`${baseUrl}/api/auth/refresh`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ refresh_token: last.refresh }),
});
check("the old refresh token is refused", reuse.status === 401);

console.log(`frontend check: ${checks} passed, 0 failed`);
