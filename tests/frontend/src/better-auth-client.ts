// What docs/better-auth.md shows a frontend doing: getting todo-api's token from Better Auth's
// JWT plugin (the client's `token()`, GET /api/auth/token with the session cookie), renewing it
// before its 15 minutes are up, and using it with the typed client. Compiled under
// `tsc --strict` with the real better-auth package by tests/test_frontend.py; the HTTP calls
// it makes are the ones tests/test_better_auth.py makes against a real Better Auth server.
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import createClient from "openapi-fetch";

import type { paths } from "../generated/api.js";

export const authClient = createAuthClient({
  plugins: [jwtClient()],
});

let current: { token: string; expiresAt: number } | null = null;
let asking: Promise<string> | null = null;

/** The JWT to send to todo-api: Better Auth's, asked for again when it has less than a minute
 * left (it lives 15 minutes), by one request however many calls need it at once. */
export function todoApiToken(): Promise<string> {
  if (current !== null && Date.now() < current.expiresAt - 60_000) {
    return Promise.resolve(current.token);
  }
  asking ??= authClient
    .token()
    .then(({ data, error }) => {
      if (data === null) throw new Error(`signed out of Better Auth (${error.status})`);
      current = { token: data.token, expiresAt: expiryOf(data.token) };
      return data.token;
    })
    .finally(() => {
      asking = null;
    });
  return asking;
}

/** A JWT's `exp`, in Date.now() milliseconds (read, not verified: todo-api verifies it). */
function expiryOf(token: string): number {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return (JSON.parse(atob(payload)) as { exp: number }).exp * 1000;
}

/** fetch for todo-api's client: the token on every request; on a 401, a new one and one retry. */
export async function withBetterAuth(request: Request): Promise<Response> {
  const retry = request.clone();
  const first = await fetch(bearer(request, await todoApiToken()));
  if (first.status !== 401) return first;
  current = null;
  return fetch(bearer(retry, await todoApiToken()));
}

function bearer(request: Request, token: string): Request {
  const sent = new Request(request);
  sent.headers.set("Authorization", `Bearer ${token}`);
  return sent;
}

export const api = createClient<paths>({
  baseUrl: "https://api.example.com",
  fetch: withBetterAuth,
});
