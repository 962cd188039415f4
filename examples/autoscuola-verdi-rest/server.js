#!/usr/bin/env node
// The "Autoscuola Verdi" sample: a stand-in for the school's cloud gestionale, serving the records of
// data/gestionale.json as a small REST/JSON API on 127.0.0.1 (see README.md). Node's standard library
// only. It re-reads the data file at every request, so an edited record shows up in the next sync.
//
//   node server.js [--port N] [--key KEY] [--data FILE]
//
// --port 0 (the default) takes a free port. Once listening it prints one line,
// "listening on http://127.0.0.1:<port>/v1", then one line per request. SIGINT / SIGTERM stop it.
//
// API (every endpoint needs the header X-API-Key; answers {"dati": [...], ...}, records ordered by
// aggiornato_il then id; `modificati_dal` = ISO 8601 time: only records with aggiornato_il >= it):
//   GET /v1/allievi?modificati_dal=&pagina=1&per_pagina=50   page numbers
//   GET /v1/pratiche?modificati_dal=&limite=50&cursore=T     "prossimo_cursore": T of the next page
//   GET /v1/agenda?modificati_dal=&limite=50                 next page in the Link header (rel="next")
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

function option(name, fallback) {
  const at = process.argv.indexOf('--' + name);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}
const port = Number(option('port', '0'));
const apiKey = option('key', 'verdi-demo-chiave-2025');
const dataFile = path.resolve(option('data', path.join(__dirname, 'data', 'gestionale.json')));
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('server.js: --port must be a number from 0 to 65535');
  process.exit(2);
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function positiveInteger(query, name, fallback, max) {
  const text = query.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value < 1 || value > max)
    throw new HttpError(400, `${name}: expected a whole number from 1 to ${max}`);
  return value;
}

// The records of one collection changed at or after `modificati_dal`, in a stable order.
function select(collection, query) {
  const records = JSON.parse(fs.readFileSync(dataFile, 'utf8'))[collection];
  const since = query.get('modificati_dal');
  let from = -Infinity;
  if (since !== null) {
    from = Date.parse(since);
    if (Number.isNaN(from)) throw new HttpError(400, 'modificati_dal: expected an ISO 8601 time');
  }
  return records.filter((record) => Date.parse(record.aggiornato_il) >= from)
      .sort((a, b) => a.aggiornato_il.localeCompare(b.aggiornato_il) ||
                String(a.id).localeCompare(String(b.id), undefined, {numeric: true}));
}

// The pagination style of each endpoint: its page of records and how to find the next one.
const endpoints = {
  '/v1/allievi': (query) => {
    const records = select('allievi', query);
    const page = positiveInteger(query, 'pagina', 1, 1e6);
    const size = positiveInteger(query, 'per_pagina', 50, 500);
    return {body: {dati: records.slice((page - 1) * size, page * size),
                   meta: {pagina: page, per_pagina: size, totale: records.length}}};
  },
  '/v1/pratiche': (query) => {
    const records = select('pratiche', query);
    const size = positiveInteger(query, 'limite', 50, 500);
    // The cursor is opaque to clients: the offset of the next page, base64url-encoded.
    let offset = 0;
    if (query.get('cursore') !== null) {
      offset = Number(Buffer.from(query.get('cursore'), 'base64url').toString());
      if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, 'cursore: not valid');
    }
    const next = offset + size < records.length
        ? Buffer.from(String(offset + size)).toString('base64url') : null;
    return {body: {dati: records.slice(offset, offset + size), prossimo_cursore: next}};
  },
  '/v1/agenda': (query, url) => {
    const records = select('agenda', query);
    const size = positiveInteger(query, 'limite', 50, 500);
    const page = positiveInteger(query, 'pagina', 1, 1e6);
    const headers = {};
    if (page * size < records.length) {
      const next = new URL(url);
      next.searchParams.set('pagina', String(page + 1));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    return {body: {dati: records.slice((page - 1) * size, page * size)}, headers};
  },
};

function send(response, status, body, headers = {}) {
  const text = JSON.stringify(body);
  response.writeHead(status, {'Content-Type': 'application/json; charset=utf-8',
                              'Content-Length': Buffer.byteLength(text), ...headers});
  response.end(text);
}

const server = http.createServer((request, response) => {
  const url = new URL(request.url, `http://${request.headers.host || '127.0.0.1'}`);
  console.log(`${request.method} ${url.pathname}${url.search}`);
  try {
    const endpoint = endpoints[url.pathname];
    if (!endpoint) throw new HttpError(404, `no endpoint ${url.pathname}`);
    if (request.method !== 'GET') throw new HttpError(405, 'only GET');
    if (request.headers['x-api-key'] !== apiKey) throw new HttpError(401, 'missing or wrong X-API-Key');
    const {body, headers} = endpoint(url.searchParams, url);
    send(response, 200, body, headers);
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500;
    send(response, status, {errore: status === 500 ? 'internal error' : error.message});
    if (status === 500) console.error(error);
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/v1`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();  // idle keep-alive connections would hold close() open
  });
}
