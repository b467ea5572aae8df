// nephos's runtime for Node.js functions: the Lambda Runtime API loop, as AWS's runs it.
//
// Loads `_HANDLER` (`file.export`, `dir/file.export`) from the task root as an ES module
// (`.mjs`, or `.js` in a `"type": "module"` package) or CommonJS (`.cjs`, `.js`), then
// fetches invocations, calls the handler (async, promise-returning or callback style)
// with the event and a context object, and posts the result or AWS's error shape.
//
// A handler wrapped in `awslambda.streamifyResponse` streams instead: it gets a writable
// response stream, posted to the Runtime API in streaming mode (chunked, as written), with
// an error sent as trailers; `awslambda.HttpResponseStream.from` puts a function URL's
// prelude (status, headers, cookies as JSON, then 8 NUL bytes) before the body.

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { pathToFileURL } from "node:url";

const [HOST, PORT] = (() => {
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  const i = api.lastIndexOf(":");
  return [api.slice(0, i), Number(api.slice(i + 1))];
})();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: PORT, method, path: "/2018-06-01/runtime" + p, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ res, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorShape(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      trace: (err.stack || "").split("\n"),
    };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

// The `awslambda` global of AWS's Node.js runtime, for streaming handlers.
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HIGH_WATER_MARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response";
globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = "response";
    if (options && Number.isInteger(options.highWaterMark)) handler[HIGH_WATER_MARK] = options.highWaterMark;
    return handler;
  },
  HttpResponseStream: class HttpResponseStream {
    static from(underlyingStream, prelude) {
      underlyingStream.setContentType(PRELUDE_TYPE);
      // JSON never holds a NUL byte, so the 8 NULs after it end the prelude.
      const metadata = JSON.stringify(prelude);
      underlyingStream._onBeforeFirstWrite = (write) => {
        write(metadata);
        write(new Uint8Array(8));
      };
      return underlyingStream;
    }
  },
};

// The response stream of one invocation: the POST itself, its body written as the handler
// writes. `done` settles once the Runtime API has answered (after the body's end).
function responseStream(requestId, highWaterMark) {
  const req = http.request({
    host: HOST,
    port: PORT,
    method: "POST",
    path: `/2018-06-01/runtime/invocation/${requestId}/response`,
    agent,
    highWaterMark,
    headers: {
      "Lambda-Runtime-Function-Response-Mode": "streaming",
      "Transfer-Encoding": "chunked",
      Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      "Content-Type": "application/octet-stream",
    },
  });
  const done = new Promise((resolve, reject) => {
    req.on("response", (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
  });
  let started = false;
  const write = req.write.bind(req);
  const end = req.end.bind(req);
  const start = () => {
    if (started) return;
    started = true;
    if (typeof req._onBeforeFirstWrite === "function") req._onBeforeFirstWrite((c) => write(c));
  };
  req.setContentType = (type) => {
    if (started) throw new Error("Cannot set content-type, too late.");
    req.setHeader("Content-Type", type);
  };
  req.write = (chunk, encoding, callback) => {
    if (typeof chunk !== "string" && !Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) {
      chunk = JSON.stringify(chunk);
    }
    start();
    return write(chunk, encoding, callback);
  };
  req.end = (chunk, encoding, callback) => {
    if (typeof chunk === "function") [chunk, callback] = [undefined, chunk];
    if (typeof encoding === "function") [encoding, callback] = [undefined, encoding];
    if (chunk !== undefined && chunk !== null) req.write(chunk, encoding);
    // A stream ended before any write still sends its prelude.
    start();
    return end(callback);
  };
  const fail = (err) => {
    const shape = errorShape(err);
    console.error(`Invoke Error \t${JSON.stringify(shape)}`);
    if (req.writableEnded) return;
    start();
    req.addTrailers({
      "Lambda-Runtime-Function-Error-Type": shape.errorType,
      "Lambda-Runtime-Function-Error-Body": Buffer.from(JSON.stringify(shape)).toString("base64"),
    });
    end();
  };
  return { stream: req, done, fail };
}

async function runStreaming(fn, requestId, event, context) {
  const { stream, done, fail } = responseStream(requestId, fn[HIGH_WATER_MARK]);
  // Like AWS's, the invocation ends when the stream does: a handler that returns without
  // ending it runs into its timeout.
  try {
    const r = fn(event, stream, context);
    if (!r || typeof r.then !== "function") {
      fail("Streaming does not support non-async handlers.");
    } else {
      const result = await r;
      if (result !== undefined) console.warn("Streaming handlers ignore return values.");
    }
  } catch (err) {
    fail(err);
  }
  try {
    await done;
  } catch {
    process.exit(1);
  }
}

let currentRequestId = undefined;
// AWS's runtime prefixes every console line with the time, request id and level, and
// keeps a multi-line message in one log event (newlines become carriage returns).
for (const [method, level] of [
  ["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"], ["trace", "TRACE"],
]) {
  console[method] = (...args) => {
    const text = util.format(...args).replace(/\n/g, "\r");
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${text}\n`);
  };
}

async function initError(errorType, errorMessage, trace = []) {
  const body = JSON.stringify({ errorType, errorMessage, trace });
  process.stdout.write(`${new Date().toISOString()}\tundefined\tERROR\t${JSON.stringify({ errorType, errorMessage })}\n`);
  await call("POST", "/init/error", body, { "Lambda-Runtime-Function-Error-Type": errorType });
  process.exit(1);
}

async function loadHandler() {
  const spec = process.env._HANDLER || "";
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = spec.indexOf(".", spec.lastIndexOf("/") + 1);
  if (dot < 0) {
    await initError("Runtime.MalformedHandlerName", "Bad handler");
  }
  const modulePath = spec.slice(0, dot);
  const names = spec.slice(dot + 1).split(".");
  let file;
  for (const ext of [".mjs", ".cjs", ".js"]) {
    const candidate = path.resolve(root, modulePath + ext);
    if (fs.existsSync(candidate)) {
      file = candidate;
      break;
    }
  }
  if (!file) {
    await initError(
      "Runtime.ImportModuleError",
      `Error: Cannot find module '${modulePath}'\nRequire stack:\n- /var/runtime/index.mjs`,
    );
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    const shape = errorShape(e);
    if (e instanceof SyntaxError) {
      await initError("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`, shape.trace);
    }
    // ES modules raise ERR_MODULE_NOT_FOUND, CommonJS require() MODULE_NOT_FOUND.
    const missing = e && (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND");
    await initError(
      missing ? "Runtime.ImportModuleError" : shape.errorType,
      missing ? `Error: ${e.message}` : shape.errorMessage,
      shape.trace,
    );
  }
  const lookup = (obj) => names.reduce((o, n) => (o == null ? undefined : o[n]), obj);
  let fn = lookup(mod);
  if (typeof fn !== "function" && mod.default) fn = lookup(mod.default);
  if (typeof fn !== "function") {
    await initError("Runtime.HandlerNotFound", `${spec} is undefined or not exported`);
  }
  return fn;
}

function runHandler(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, data) => {
      if (settled) return;
      settled = true;
      err ? reject(err) : resolve(data);
    };
    context.done = done;
    context.succeed = (data) => done(null, data);
    context.fail = (err) => done(err ?? new Error("handled"));
    try {
      const r = fn(event, context, done);
      if (r && typeof r.then === "function") {
        r.then((v) => done(null, v), (e) => done(e));
      } else if (fn.length < 3) {
        done(null, r);
      }
    } catch (e) {
      done(e);
    }
  });
}

process.on("unhandledRejection", (reason) => {
  const shape = errorShape(reason);
  const body = JSON.stringify({
    errorType: "Runtime.UnhandledPromiseRejection",
    errorMessage: `${shape.errorType}: ${shape.errorMessage}`,
    trace: shape.trace,
  });
  const id = currentRequestId;
  const p = id ? call("POST", `/invocation/${id}/error`, body, { "Lambda-Runtime-Function-Error-Type": "Runtime.UnhandledPromiseRejection" }) : Promise.resolve();
  p.finally(() => process.exit(128));
});

const handler = await loadHandler();
for (;;) {
  let next;
  try {
    next = await call("GET", "/invocation/next");
  } catch {
    process.exit(1);
  }
  const h = next.res.headers;
  const requestId = h["lambda-runtime-aws-request-id"];
  const deadline = Number(h["lambda-runtime-deadline-ms"] || 0);
  if (h["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"];
  else delete process.env._X_AMZN_TRACE_ID;
  currentRequestId = requestId;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: h["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: h["lambda-runtime-client-context"] ? JSON.parse(h["lambda-runtime-client-context"]) : undefined,
    identity: h["lambda-runtime-cognito-identity"] ? JSON.parse(h["lambda-runtime-cognito-identity"]) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let event;
  try {
    event = next.body.length ? JSON.parse(next.body.toString("utf8")) : {};
  } catch {
    event = next.body.toString("utf8");
  }
  if (handler[STREAMING] === "response") {
    await runStreaming(handler, requestId, event, context);
    continue;
  }
  try {
    const result = await runHandler(handler, event, context);
    const body = result === undefined ? "null" : JSON.stringify(result);
    await call("POST", `/invocation/${requestId}/response`, body ?? "null");
  } catch (err) {
    const shape = errorShape(err);
    console.error(`Invoke Error \t${JSON.stringify(shape)}`);
    await call("POST", `/invocation/${requestId}/error`, JSON.stringify(shape), {
      "Lambda-Runtime-Function-Error-Type": "Unhandled",
    });
  }
}
