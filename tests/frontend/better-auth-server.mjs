// A real Better Auth server, set up as docs/better-auth.md says, for tests/test_better_auth.py:
// email and password sign-in, the JWT plugin (EdDSA keys, 15-minute tokens, the key set at
// /api/auth/jwks), its tables in PostgreSQL through `pg`. It listens on loopback only.
//
// Environment: DATABASE_URL (an empty database: its tables are made at start), PORT,
// BETTER_AUTH_SECRET, BETTER_AUTH_URL (the app's origin: the tokens' `iss` and `aud`).
// Prints "listening" once it answers.
//
// One route is for the test only, never for an app: POST /test/sign signs the JSON payload it
// is given with Better Auth's own current key (its server-only signJWT), so the test can get a
// token that Better Auth itself made already expired.
import http from "node:http";

import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";
import pg from "pg";

const { DATABASE_URL, PORT, BETTER_AUTH_SECRET, BETTER_AUTH_URL } = process.env;

const todoApiTokens = jwt({
  jwks: {
    keyPairConfig: { alg: "EdDSA", crv: "Ed25519" }, // the default; ES256 and RS256 work too
    rotationInterval: 60 * 60 * 24 * 30, // a new signing key every 30 days
    gracePeriod: 60 * 60 * 24 * 30, // and the old one kept in the key set 30 days more
  },
  jwt: {
    issuer: BETTER_AUTH_URL, // todo-api's AUTH_ISSUER (the default: baseURL)
    audience: BETTER_AUTH_URL, // todo-api's AUTH_AUDIENCE (the default: baseURL)
    expirationTime: "15m", // the default
  },
});

const options = {
  baseURL: BETTER_AUTH_URL,
  secret: BETTER_AUTH_SECRET,
  database: new pg.Pool({ connectionString: DATABASE_URL, max: 4 }),
  emailAndPassword: { enabled: true },
  plugins: [todoApiTokens],
};

const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);
const handler = toNodeHandler(auth);

async function readJson(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const server = http.createServer(async (request, response) => {
  if (request.method === "POST" && request.url === "/test/sign") {
    const payload = await readJson(request);
    const { token } = await auth.api.signJWT({ body: { payload } });
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify({ token }));
    return;
  }
  console.log(`${request.method} ${request.url}`);
  return handler(request, response);
});
server.listen(Number(PORT), "127.0.0.1", () => console.log("listening"));
