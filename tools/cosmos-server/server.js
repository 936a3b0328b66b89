#!/usr/bin/env node
/*
 * orderflow Cosmos DB test server.
 *
 * This is a SIMULATOR, not Azure Cosmos DB. It is an in-memory Cosmos DB
 * SQL-API (gateway/REST) server for tests and CI: @vercel/cosmosdb-server
 * 1.0.1 (pinned in package.json) with our fixes applied in this file. Every
 * response carries `X-Simulator: cosmosdb-server` and the start-up line says
 * SIMULATOR. Authorization headers are NOT checked (any key works).
 *
 * We reuse the package's in-memory account, its router and most of its
 * handlers, but serve requests with our own HTTP(S) server and replace the
 * handlers that are wrong:
 *
 * FIX 1  Point read of a missing item answered 500 (read-document.js
 *        dereferenced the undefined document). We answer 404 with
 *        {"code":"NotFound",...} like Cosmos. Every error body also gets a
 *        Cosmos-style "code", and any request to a missing container answers
 *        404 instead of crashing into a 500.
 * FIX 2  Transactional batch: the package ignored the batch's partition key
 *        header (so every op but Create threw -> 500), had no Patch, and
 *        applied the ops before the failing one. We run all ops against the
 *        header's partition (Create, Upsert, Replace, Read, Delete, Patch, with
 *        per-op ifMatch) inside ONE synchronous turn of the event loop, so no
 *        other request can interleave (isolation; Node runs one JS callback at
 *        a time and the package's store is synchronous), and on the first
 *        failing op we restore a snapshot of the container (atomicity). Like
 *        the real gateway the failed batch answers HTTP 207 Multi-Status with
 *        the failing op's real status (400/404/409/412...) and 424 Failed
 *        Dependency for every other op; the Go SDK surfaces that as
 *        TransactionalBatchResponse.Success == false (it only treats 207 as a
 *        batch failure, see azcosmos cosmos_transactional_batch_response.go).
 * FIX 3  Queries ignored the partition key: the SDK sends
 *        x-ms-documentdb-query-enablecrosspartition: true on every query, so
 *        the package searched all items. With an x-ms-documentdb-partitionkey
 *        header we only search that partition. Without one (a cross-partition
 *        query) we refuse, like the real gateway, queries it cannot serve
 *        (TOP, ORDER BY, aggregates) with 400 unless --lenient-queries.
 * FIX 4  The package sends `Connection: close` on every response (HTTPS and
 *        HTTP), so every request paid a new TCP/TLS handshake. We keep
 *        connections alive (idle timeout 120 s, longer than Go's 90 s idle
 *        timeout, so the server never closes a connection the client is about
 *        to reuse). HTTP by default (the azcosmos SDK talks to an http://
 *        endpoint), HTTPS with --tls. The account document advertises the
 *        endpoint we really serve (the package hard-coded https://), because
 *        the SDK routes requests to the advertised regional endpoint.
 * ALSO   Writes honour "Prefer: return=minimal" (the Go SDK's default unless
 *        EnableContentResponseOnWrite): no body, like Cosmos, so code cannot
 *        come to rely on a body the real service does not send.
 *        Create/Upsert/Replace whose document's partition key value differs
 *        from the x-ms-documentdb-partitionkey header answer 400 (as Cosmos);
 *        Replace whose body id differs from the URL id answers 400. Ids
 *        with / \ ? # are refused on create/upsert (stricter than Cosmos,
 *        which accepts them and then cannot address the item).
 *        Partition key range ids are strings (the SDK's ReadManyItems and
 *        change feed decode them as strings; the package sent numbers).
 *        Container TTL (defaultTtl, item "ttl") is honoured: expired items are
 *        removed before each request on that container.
 *        Fault injection for tests (429 with x-ms-retry-after-ms, or any
 *        status) and connection/request counters, under /_sim/ (see below).
 *
 * Admin endpoints (not part of Cosmos; no auth):
 *   GET    /_sim/stats   -> {"connections":N,"requests":N,"faultsPending":N}
 *   POST   /_sim/faults  body {"status":429,"count":2,"retryAfterMs":50,
 *                              "pathPrefix":"/dbs/mydb/","method":"POST"}
 *          The next `count` requests whose path starts with pathPrefix (and
 *          method matches, if given) are answered with `status` and
 *          x-ms-retry-after-ms, without touching the store. Defaults:
 *          status 429, count 1, retryAfterMs 100, any path, any method.
 *   DELETE /_sim/faults  -> removes all pending faults.
 *   Env COSMOS_SIM_FAULTS='[{"status":429,"count":3}]' preloads faults.
 *
 * Usage:
 *   node tools/cosmos-server/server.js [--port 8081] [--host 127.0.0.1]
 *        [--tls [--tls-cert cert.pem --tls-key key.pem]] [--lenient-queries]
 *        [--exit-on-stdin-eof] [--verbose]
 * --port 0 picks a free port. On start it prints one line
 *   COSMOS_ENDPOINT=http://127.0.0.1:PORT/ (SIMULATOR ...)
 * and the well-known emulator key works as the account key.
 */
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");
const path = require("path");
const crypto = require("crypto");

const PKG = path.join(__dirname, "node_modules", "@vercel", "cosmosdb-server");
const lib = p => require(path.join(PKG, "lib", p));
const mod = p => lib(p).default;

const Account = mod("account");
const route = mod("routes");
const readJSON = mod("json");
const readItems = mod("handler/_read-items");
const docOps = lib("handler/_document-operations");
const { patchOperation } = lib("handler/_patch-operations");
const getValue = mod("utils/get-value");
const { SyntaxError: QuerySyntaxError } = require(require.resolve("@zeit/cosmosdb-query", { paths: [PKG] }));

const PK_HEADER = "x-ms-documentdb-partitionkey";
const SIM_HEADER = "X-Simulator";
const SIM_NAME = "cosmosdb-server";
const MAX_BATCH_OPS = 100;

const ERROR_CODES = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  408: "RequestTimeout",
  409: "Conflict",
  412: "PreconditionFailed",
  413: "RequestEntityTooLarge",
  424: "FailedDependency",
  429: "TooManyRequests",
  449: "RetryWith",
  500: "InternalServerError",
  503: "ServiceUnavailable"
};

const notFound = (res, message = "Entity with the specified id does not exist in the system.") => {
  res.statusCode = 404;
  return { code: "NotFound", message };
};

const badRequest = (res, message) => {
  res.statusCode = 400;
  return { code: "BadRequest", message };
};

/** The SDK sends "Prefer: return=minimal" on writes unless EnableContentResponseOnWrite. */
const preferMinimal = req => /return=minimal/i.test(String(req.headers.prefer || ""));

const isTrue = (req, name) => String(req.headers[name] || "").toLowerCase() === "true";

/**
 * Parses the partition key header. Returns undefined when absent or when it is
 * the SDK's "no partition key" marker ([{}] / []), else the array of values.
 */
function partitionKeyValues(req) {
  const raw = req.headers[PK_HEADER];
  if (!raw) return undefined;
  let parsed;
  try {
    parsed = JSON.parse(Array.isArray(raw) ? raw[0] : raw);
  } catch (err) {
    return null; // malformed
  }
  if (!Array.isArray(parsed)) parsed = [parsed];
  if (parsed.length === 0) return undefined;
  if (parsed.length === 1 && parsed[0] && typeof parsed[0] === "object") return undefined; // [{}]
  return parsed;
}

/** The container's partition key paths as arrays of property names. */
function partitionKeyPaths(collection) {
  const paths = ((collection.read() || {}).partitionKey || {}).paths || ["/id"];
  return paths.map(p => p.slice(1).split("/"));
}

/** The document's values at the container's partition key paths (one per level). */
function docPartitionValues(collection, doc) {
  return partitionKeyPaths(collection).map(keys => getValue(keys, doc));
}

const samePK = (a, b) => JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);

/** Does the document belong to the partition named by pkValues (a prefix for hierarchical keys)? */
function inPartition(collection, doc, pkValues) {
  const values = docPartitionValues(collection, doc);
  return pkValues.length <= values.length && pkValues.every((v, i) => samePK(values[i], v));
}

/** 400 body when the document does not belong to the header's partition, else null. */
function partitionMismatch(collection, doc, pkValues) {
  if (!pkValues || !doc || typeof doc !== "object") return null;
  if (pkValues.length === partitionKeyPaths(collection).length && inPartition(collection, doc, pkValues)) return null;
  return {
    statusCode: 400,
    body: {
      code: "BadRequest",
      message: "PartitionKey extracted from document doesn't match the one specified in the header."
    }
  };
}

/**
 * Real Cosmos accepts ids containing / \ ? # on create but then cannot read,
 * replace or delete them (400/401/404). We refuse them on create/upsert so a
 * store that forgets to validate ids fails in tests, not in production.
 */
function forbiddenId(doc) {
  if (!doc || typeof doc.id !== "string" || !/[/\\?#]/.test(doc.id)) return null;
  return {
    statusCode: 400,
    body: {
      code: "BadRequest",
      message: "SIMULATOR: id contains / \\ ? or # which Cosmos DB cannot address after creation"
    }
  };
}

function collectionOf(account, { dbId, collId }) {
  return account.database(dbId).collection(collId);
}

/* ---------- TTL (container defaultTtl + item ttl) ---------- */

function sweepExpired(collection) {
  const props = collection.read();
  if (!props || props.defaultTtl === undefined || props.defaultTtl === null) return;
  const now = Math.floor(Date.now() / 1000);
  const docs = collection.documents;
  for (const item of [...docs._data.values()]) {
    const d = item.read();
    const ttl = typeof d.ttl === "number" ? d.ttl : props.defaultTtl;
    if (typeof ttl === "number" && ttl > 0 && d._ts + ttl < now) {
      docs.delete(d.id, docs._getPartition(d));
    }
  }
}

/* ---------- FIX 1: point read ---------- */

async function readDocument(account, req, res, params) {
  const collection = collectionOf(account, params);
  const result = docOps.readOperation(collection, {
    partitionKey: req.headers[PK_HEADER] || "[{}]",
    id: params.docId
  });
  const pkValues = partitionKeyValues(req);
  if (result.statusCode === 200 && pkValues && !inPartition(collection, result.body, pkValues)) {
    return notFound(res); // hierarchical keys: the store only indexes the first level
  }
  res.statusCode = result.statusCode;
  return result.body;
}

/* ---------- single-item writes with the partition key check ---------- */

async function createDocument(account, req, res, params) {
  const body = await readJSON(req);
  const collection = collectionOf(account, params);
  const result = forbiddenId(body) || partitionMismatch(collection, body, partitionKeyValues(req)) ||
    docOps.createOperation(collection, { resourceBody: body });
  res.statusCode = result.statusCode;
  return result.body;
}

async function upsertDocument(account, req, res, params) {
  const body = await readJSON(req);
  const collection = collectionOf(account, params);
  const result = forbiddenId(body) || partitionMismatch(collection, body, partitionKeyValues(req)) ||
    docOps.upsertOperation(collection, {
      partitionKey: req.headers[PK_HEADER] || "[{}]",
      ifMatch: req.headers["if-match"],
      resourceBody: body
    });
  res.statusCode = result.statusCode;
  return result.body;
}

async function replaceDocument(account, req, res, params) {
  const body = await readJSON(req);
  const collection = collectionOf(account, params);
  if (body && body.id !== params.docId) {
    return badRequest(res, "The id in the request body does not match the id in the URL.");
  }
  const result = partitionMismatch(collection, body, partitionKeyValues(req)) ||
    docOps.replaceOperation(collection, {
      partitionKey: req.headers[PK_HEADER] || "[{}]",
      ifMatch: req.headers["if-match"],
      resourceBody: body
    });
  res.statusCode = result.statusCode;
  return result.body;
}

/* ---------- FIX 2: atomic transactional batch ---------- */

function runBatchOp(collection, op, pkHeader, pkValues) {
  if (!op || typeof op !== "object") {
    return { statusCode: 400, body: { code: "BadRequest", message: "invalid operation" } };
  }
  const ifMatch = op.ifMatch;
  switch (op.operationType) {
    case "Create":
      return forbiddenId(op.resourceBody) || partitionMismatch(collection, op.resourceBody, pkValues) ||
        docOps.createOperation(collection, { resourceBody: op.resourceBody });
    case "Upsert":
      return forbiddenId(op.resourceBody) || partitionMismatch(collection, op.resourceBody, pkValues) ||
        docOps.upsertOperation(collection, { partitionKey: pkHeader, ifMatch, resourceBody: op.resourceBody });
    case "Replace":
      if (!op.resourceBody || op.resourceBody.id !== op.id) {
        return { statusCode: 400, body: { code: "BadRequest", message: "replace: body id differs from operation id" } };
      }
      return partitionMismatch(collection, op.resourceBody, pkValues) ||
        docOps.replaceOperation(collection, { partitionKey: pkHeader, ifMatch, resourceBody: op.resourceBody });
    case "Read":
      return docOps.readOperation(collection, { partitionKey: pkHeader, id: op.id });
    case "Delete":
      return docOps.deleteOperation(collection, { partitionKey: pkHeader, ifMatch, id: op.id });
    case "Patch": {
      const spec = op.resourceBody || {};
      return patchOperation(collection, {
        id: op.id,
        partitionKey: pkHeader,
        ifMatch,
        operations: Array.isArray(spec) ? spec : spec.operations || [],
        condition: Array.isArray(spec) ? undefined : spec.condition
      });
    }
    default:
      return { statusCode: 400, body: { code: "BadRequest", message: `unsupported operationType ${op.operationType}` } };
  }
}

async function batchDocuments(account, req, res, params) {
  const ops = await readJSON(req);
  // Everything below is synchronous: no other request runs until we return.
  const collection = collectionOf(account, params);
  if (!Array.isArray(ops) || ops.length === 0) return badRequest(res, "batch body must be a non-empty array");
  if (ops.length > MAX_BATCH_OPS) return badRequest(res, `batch has more than ${MAX_BATCH_OPS} operations`);
  const pkValues = partitionKeyValues(req);
  if (!pkValues) return badRequest(res, "a transactional batch needs a valid x-ms-documentdb-partitionkey header");
  const pkHeader = JSON.stringify(pkValues);

  // The store never mutates stored documents in place (writes replace the
  // object), so shallow copies of its maps are a complete snapshot.
  const docs = collection.documents;
  const snapshot = { data: new Map(docs._data), index: new Map(docs._index), ridCount: docs._ridCount };
  const restore = () => {
    docs._data = snapshot.data;
    docs._index = snapshot.index;
    docs._ridCount = snapshot.ridCount;
  };

  const results = [];
  let failed = -1;
  try {
    for (let i = 0; i < ops.length; i += 1) {
      const r = runBatchOp(collection, ops[i], pkHeader, pkValues);
      results.push(r);
      if (r.statusCode >= 400) {
        failed = i;
        break;
      }
    }
  } catch (err) {
    restore();
    throw err;
  }

  if (failed >= 0) {
    restore();
    res.statusCode = 207;
    return ops.map((_, i) => (i === failed
      ? { statusCode: results[i].statusCode, requestCharge: 0, ...(results[i].body && results[i].body.message ? { message: results[i].body.message } : {}) }
      : { statusCode: 424, requestCharge: 0 }));
  }
  res.statusCode = 200;
  const minimal = preferMinimal(req);
  return results.map((r, i) => {
    const out = { statusCode: r.statusCode, requestCharge: 1 };
    if (r.body && r.body._etag) out.eTag = r.body._etag;
    const wantBody = !minimal || ops[i].operationType === "Read";
    if (r.body && r.statusCode !== 204 && wantBody) out.resourceBody = r.body;
    return out;
  });
}

/* ---------- FIX 3: queries honour the partition key ---------- */

const AGGREGATES = new Set(["COUNT", "SUM", "AVG", "MIN", "MAX"]);

function hasAggregate(node) {
  if (!node || typeof node !== "object") return false;
  if (node.type === "select_query" || node.type === "sql") return false; // subquery: served per item
  if (node.type === "scalar_function_expression" && node.name && AGGREGATES.has(String(node.name.name).toUpperCase())) {
    return true;
  }
  return Object.values(node).some(v => (Array.isArray(v) ? v.some(hasAggregate) : hasAggregate(v)));
}

/** Why the real gateway would refuse this query across partitions, or null. */
function gatewayRefusal(ast) {
  const body = ast && ast.body;
  if (!body) return null;
  if (body.top) return "TOP";
  if (body.orderBy) return "ORDER BY";
  if (hasAggregate(body.select)) return "aggregate";
  return null;
}

async function queryDocuments(account, req, res, params) {
  return readItems(req, res, "Documents", async ({ continuation, maxItemCount }) => {
    const body = await readJSON(req);
    if (!body || !body.query) return badRequest(res, "missing query");
    const collection = collectionOf(account, params);
    const docs = collection.documents;
    const q = docs._getQuery(body.query); // throws SyntaxError -> 400 in readItems
    const pkValues = partitionKeyValues(req);
    if (pkValues === null) return badRequest(res, "malformed x-ms-documentdb-partitionkey header");

    if (!pkValues) {
      const paths = ((collection.read().partitionKey || {}).paths) || [];
      if (!isTrue(req, "x-ms-documentdb-query-enablecrosspartition")) {
        if (paths.length && !q.containsPartitionKeys(paths)) {
          return badRequest(res, "Cross partition query is required but disabled. Set x-ms-documentdb-query-enablecrosspartition to true.");
        }
      } else if (!options.lenientQueries) {
        const why = gatewayRefusal(q.ast);
        if (why) {
          return badRequest(res, `The provided cross partition query can not be directly served by the gateway (${why}); pass a partition key (SIMULATOR: strict gateway rule, see tools/cosmos-server/README.md).`);
        }
      }
    }

    let data = [...docs._data.values()].map(item => item.read());
    if (pkValues) data = data.filter(d => inPartition(collection, d, pkValues));
    const props = collection.read();
    try {
      return q.exec(data, {
        parameters: body.parameters,
        udf: docs._userDefinedFunctions(),
        maxItemCount: maxItemCount && maxItemCount > 0 ? maxItemCount : undefined,
        continuation,
        compositeIndexes: (props.indexingPolicy && props.indexingPolicy.compositeIndexes) || []
      });
    } catch (err) {
      if (err instanceof QuerySyntaxError) throw err; // readItems answers 400
      return badRequest(res, err.message);
    }
  });
}

/* ---------- partition key ranges: ids are strings in Cosmos ---------- */

const originalReadPKRanges = mod("handler/read-partition-key-ranges");

async function readPartitionKeyRanges(account, req, res, params) {
  const body = await originalReadPKRanges(account, req, res, params);
  if (body && Array.isArray(body.PartitionKeyRanges)) {
    body.PartitionKeyRanges = body.PartitionKeyRanges.map(r => ({
      ...r, id: String(r.id), parents: (r.parents || []).map(String)
    }));
  }
  return body;
}

/* ---------- dispatch ---------- */

const OVERRIDES = new Map([
  [mod("handler/read-document"), readDocument],
  [mod("handler/create-document"), createDocument],
  [mod("handler/upsert-document"), upsertDocument],
  [mod("handler/replace-document"), replaceDocument],
  [mod("handler/batch-documents"), batchDocuments],
  [mod("handler/query-documents"), queryDocuments],
  [originalReadPKRanges, readPartitionKeyRanges]
]);
// Single-item writes: with Prefer: return=minimal Cosmos answers without a body.
const WRITE_HANDLERS = new Set([mod("handler/create-document"), mod("handler/upsert-document"),
  mod("handler/replace-document"), mod("handler/patch-document")]);
// Handlers under a container that must 404 (not 500) when it does not exist.
const CONTAINER_SCOPED = new Set([...OVERRIDES.keys(),
  mod("handler/delete-document"), mod("handler/patch-document"), mod("handler/read-documents")]);

const stats = { connections: 0, requests: 0 };
let faults = [];

function addFaults(list) {
  for (const f of Array.isArray(list) ? list : [list]) {
    faults.push({
      status: Number(f.status) || 429,
      count: f.count === undefined ? 1 : Number(f.count),
      retryAfterMs: f.retryAfterMs === undefined ? 100 : Number(f.retryAfterMs),
      pathPrefix: f.pathPrefix || "",
      method: f.method ? String(f.method).toUpperCase() : ""
    });
  }
}

function takeFault(req) {
  const p = req.url.replace(/^\/+/, "/");
  const f = faults.find(x => x.count > 0 && p.startsWith(x.pathPrefix) && (!x.method || x.method === req.method));
  if (!f) return null;
  f.count -= 1;
  faults = faults.filter(x => x.count > 0);
  return f;
}

function send(res, status, body, headers = {}) {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader("content-type", "application/json");
  res.setHeader(SIM_HEADER, SIM_NAME);
  res.end(body === undefined ? "" : JSON.stringify(body));
}

async function admin(req, res) {
  const p = req.url.split("?")[0];
  if (p === "/_sim/stats" && req.method === "GET") {
    return send(res, 200, { ...stats, faultsPending: faults.reduce((n, f) => n + f.count, 0) });
  }
  if (p === "/_sim/faults" && req.method === "POST") {
    addFaults(await readJSON(req));
    return send(res, 204);
  }
  if (p === "/_sim/faults" && req.method === "DELETE") {
    faults = [];
    return send(res, 204);
  }
  return send(res, 404, { code: "NotFound", message: "unknown simulator admin endpoint" });
}

async function handle(account, endpoint, req, res) {
  stats.requests += 1;
  if (req.url.startsWith("/_sim/")) return admin(req, res);

  const fault = takeFault(req);
  if (fault) {
    const headers = { "x-ms-retry-after-ms": String(fault.retryAfterMs), "x-ms-activity-id": crypto.randomUUID() };
    if (fault.status === 429) headers["x-ms-substatus"] = "3200";
    return send(res, fault.status, {
      code: ERROR_CODES[fault.status] || "Error",
      message: `SIMULATOR: injected ${fault.status} fault`
    }, headers);
  }

  const matched = route(req);
  let body;
  if (!matched) {
    res.statusCode = 400;
    body = { code: "BadRequest", message: "no route" };
  } else {
    const [params, original] = matched;
    const handler = OVERRIDES.get(original) || original;
    try {
      const collection = params.collId ? collectionOf(account, params) : null;
      if (collection && CONTAINER_SCOPED.has(original) && !collection.read()) {
        body = notFound(res, "Resource Not Found");
      } else {
        if (collection && collection.read()) sweepExpired(collection);
        body = await handler(account, req, res, params);
      }
    } catch (err) {
      console.error(`cosmos-server (SIMULATOR): ${req.method} ${req.url}:`, err);
      res.statusCode = 500;
      body = { code: "InternalServerError", message: String(err && err.message) };
    }
  }
  if (res.statusCode >= 400) {
    body = body && typeof body === "object" && !Array.isArray(body) ? body : {};
    if (!body.code) body.code = ERROR_CODES[res.statusCode] || "Error";
    if (body.message === undefined) body.message = "";
  }

  if (body && body._etag) res.setHeader("etag", body._etag);
  if (matched && WRITE_HANDLERS.has(matched[1]) && res.statusCode < 400 && preferMinimal(req)) body = undefined;
  res.setHeader("content-location", `${endpoint}${req.url.replace(/^\/+/, "")}`);
  res.setHeader("x-ms-activity-id", crypto.randomUUID());
  res.setHeader("x-ms-request-charge", "1");
  if (req.headers["x-ms-documentdb-populatequerymetrics"]) {
    res.setHeader("x-ms-documentdb-query-metrics", "totalExecutionTimeInMs=0.00;queryCompileTimeInMs=0.00;queryLogicalPlanBuildTimeInMs=0.00;queryPhysicalPlanBuildTimeInMs=0.00;queryOptimizationTimeInMs=0.00;VMExecutionTimeInMs=0.00;indexLookupTimeInMs=0.00;documentLoadTimeInMs=0.00;systemFunctionExecuteTimeInMs=0.00;userFunctionExecuteTimeInMs=0.00;retrievedDocumentCount=0;retrievedDocumentSize=0;outputDocumentCount=1;outputDocumentSize=0;writeOutputTimeInMs=0.00;indexUtilizationRatio=0.00");
  }
  let status = res.statusCode;
  if (req.headers["a-im"] && status === 200) {
    if (req.headers["if-none-match"]) status = 304;
    res.setHeader("etag", "1");
  }
  if (options.verbose) console.log(`cosmos-server (SIMULATOR): ${req.method} ${req.url} -> ${status}`);
  return send(res, status, status === 204 || status === 304 ? undefined : body);
}

/* ---------- CLI ---------- */

const USAGE = `Cosmos DB SQL-API SIMULATOR for tests (@vercel/cosmosdb-server 1.0.1 + orderflow fixes)
usage: node tools/cosmos-server/server.js [options]
  -p, --port N           listen port (default 8081; 0 = any free port)
  --host H               listen address (default 127.0.0.1)
  --tls                  serve HTTPS (keep-alive) instead of HTTP
  --tls-cert F --tls-key F  PEM certificate and key for --tls
  --lenient-queries      allow cross-partition TOP/ORDER BY/aggregates (the real gateway refuses them)
  --exit-on-stdin-eof    exit when stdin closes (used by the Go test helper)
  -v, --verbose          log every request
Prints COSMOS_ENDPOINT=<url> when ready. Admin: GET /_sim/stats, POST|DELETE /_sim/faults.`;

function parseArgs(argv) {
  const o = { port: 8081, host: "127.0.0.1", tls: false, lenientQueries: false, exitOnStdinEOF: false, verbose: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const next = () => {
      i += 1;
      if (i >= argv.length) throw new Error(`${a} needs a value`);
      return argv[i];
    };
    switch (a) {
      case "-p": case "--port": o.port = parseInt(next(), 10); break;
      case "--host": o.host = next(); break;
      case "--tls": o.tls = true; break;
      case "--tls-cert": o.tlsCert = next(); break;
      case "--tls-key": o.tlsKey = next(); break;
      case "--lenient-queries": o.lenientQueries = true; break;
      case "--exit-on-stdin-eof": o.exitOnStdinEOF = true; break;
      case "-v": case "--verbose": o.verbose = true; break;
      case "-h": case "--help":
        console.log(USAGE);
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error("--port must be 0..65535");
  return o;
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`cosmos-server: ${err.message} (see --help)`);
  process.exit(2);
}
if (process.env.COSMOS_SIM_FAULTS) addFaults(JSON.parse(process.env.COSMOS_SIM_FAULTS));

let account;
let endpoint;
const onRequest = (req, res) => {
  handle(account, endpoint, req, res).catch(err => {
    console.error("cosmos-server (SIMULATOR): unhandled", err);
    if (!res.headersSent) send(res, 500, { code: "InternalServerError", message: String(err && err.message) });
  });
};
let server;
if (options.tls) {
  const certFile = options.tlsCert || path.join(PKG, "cert.pem");
  const keyFile = options.tlsKey || path.join(PKG, "key.pem");
  if (!options.tlsCert) {
    console.error("cosmos-server: WARNING using the package's built-in certificate (expired, no SAN): clients must skip verification; pass --tls-cert/--tls-key");
  }
  server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, onRequest);
} else {
  server = http.createServer(onRequest);
}
server.keepAliveTimeout = 120000;
server.headersTimeout = 125000;
server.on("connection", () => { stats.connections += 1; });
server.on("error", err => {
  console.error(`cosmos-server: cannot listen on ${options.host}:${options.port}: ${err.message}`);
  process.exit(1);
});
server.listen(options.port, options.host, () => {
  const { port } = server.address();
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  endpoint = `${options.tls ? "https" : "http"}://${host}:${port}/`;
  account = new Account(host, port);
  const loc = [{ name: "South Central US", databaseAccountEndpoint: endpoint }];
  Object.assign(account.read(), { writableLocations: loc, readableLocations: loc });
  console.log(`COSMOS_ENDPOINT=${endpoint} (SIMULATOR: @vercel/cosmosdb-server 1.0.1 + orderflow fixes; any key is accepted)`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
if (options.exitOnStdinEOF) {
  // The Go test helper holds our stdin; when the test binary exits (even if
  // killed) the pipe closes and we exit, so no server outlives its tests.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}
