#!/usr/bin/env node
// reglo-ingest: the reference client of the Reglo Hub ingestion API, for vendors who write their
// agents in Node.js. Standard library only (node:crypto, fetch). Signs a batch the Standard
// Webhooks way and pushes it to POST /api/hub/ingest:
//
//   node reglo-ingest.mjs --url https://hub:8471 --company C --source S [--cursor X]
//        [--stream S] [--id ID] records.json
//
// records.json: a JSON array of flat canonical records ({"entity", "externalId",
// "sourceUpdatedAt", ...fields}). The key and secret come from $REGLO_AGENT_API_KEY and
// $REGLO_AGENT_SIGNING_SECRET (never from the command line, where `ps` would show them).
// Prints the hub's JSON answer; exit 0 on 200, 1 on a refusal (the problem+json on stderr), 2 on
// bad usage. Also importable: `import { signRequest, push } from "./reglo-ingest.mjs"`.
import { createHmac, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { argv, env, exit, stderr, stdout } from "node:process";
import { pathToFileURL } from "node:url";

// The Standard Webhooks headers for `body` (a string), signed with `secret` ("whsec_<base64>").
export function signRequest(secret, id, timestampSeconds, body) {
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  const signature = createHmac("sha256", key)
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest("base64");
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": `v1,${signature}`,
  };
}

// Pushes one batch; resolves to { status, body, retryAfter }. Reuse `id` to retry the same
// batch safely (the hub answers a repeat with its first response and writes nothing).
export async function push({ url, apiKey, secret, companyId, sourceSystem, stream = "default",
                             cursor = null, records, id = randomUUID() }) {
  const body = JSON.stringify({ companyId, sourceSystem, stream, cursor, data: records });
  const headers = {
    "content-type": "application/json",
    authorization: `Bearer ${apiKey}`,
    ...signRequest(secret, id, Math.floor(Date.now() / 1000), body),
  };
  const response = await fetch(`${url.replace(/\/+$/, "")}/api/hub/ingest`, {
    method: "POST",
    headers,
    body,
  });
  return {
    status: response.status,
    body: await response.text(),
    retryAfter: Number(response.headers.get("retry-after") ?? 0),
  };
}

function usage(message) {
  stderr.write(`reglo-ingest: ${message}\n` +
    "usage: reglo-ingest.mjs --url URL --company C --source S [--stream S] [--cursor X] " +
    "[--id ID] records.json\n(key and secret from $REGLO_AGENT_API_KEY, " +
    "$REGLO_AGENT_SIGNING_SECRET)\n");
  exit(2);
}

async function main() {
  const options = {};
  const files = [];
  for (let i = 2; i < argv.length; ++i) {
    const arg = argv[i];
    if (arg.startsWith("--")) {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      options[arg.slice(2)] = argv[++i];
    } else {
      files.push(arg);
    }
  }
  for (const required of ["url", "company", "source"]) {
    if (!options[required]) usage(`--${required} is required`);
  }
  if (files.length !== 1) usage("give exactly one records file");
  const apiKey = env.REGLO_AGENT_API_KEY;
  const secret = env.REGLO_AGENT_SIGNING_SECRET;
  if (!apiKey || !secret) usage("set $REGLO_AGENT_API_KEY and $REGLO_AGENT_SIGNING_SECRET");
  let records;
  try {
    records = JSON.parse(await readFile(files[0], "utf8"));
  } catch (error) {
    usage(`cannot read ${files[0]}: ${error.message}`);
  }
  if (!Array.isArray(records)) usage(`${files[0]} must hold a JSON array of records`);
  let answer;
  try {
    answer = await push({
      url: options.url, apiKey, secret, companyId: options.company,
      sourceSystem: options.source, stream: options.stream ?? "default",
      cursor: options.cursor ?? null, records, id: options.id,
    });
  } catch (error) {
    stderr.write(`reglo-ingest: the hub is unreachable: ${error.cause?.message ?? error.message}\n`);
    exit(1);
  }
  if (answer.status === 200) {
    stdout.write(`${answer.body}\n`);
    exit(0);
  }
  stderr.write(`reglo-ingest: the hub refused the batch (${answer.status}` +
    `${answer.retryAfter ? `, retry after ${answer.retryAfter} s` : ""}): ${answer.body}\n`);
  exit(1);
}

if (import.meta.url === pathToFileURL(argv[1] ?? "").href) await main();
