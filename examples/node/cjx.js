// What both examples share: the cjx.v1 services loaded from the .proto
// files, a client of the agency's own cjxd, a cursor kept in a file, and a
// promise around a unary call.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// The repository's proto/ directory, unless CJX_PROTO_DIR says otherwise.
const PROTO_DIR = process.env.CJX_PROTO_DIR || path.join(__dirname, '..', '..', 'proto');

function loadServices() {
  const def = protoLoader.loadSync(
    ['cjx/v1/exchange.proto', 'cjx/v1/record_service.proto'],
    // Enums as names and 64-bit numbers as strings, so nothing is rounded.
    {includeDirs: [PROTO_DIR], keepCase: true, enums: String, longs: String,
     defaults: true, oneofs: true});
  return grpc.loadPackageDefinition(def).cjx.v1;
}

// target: "unix:/run/cjxd/cjxd.sock" (the daemon's local API, guarded by
// the socket's permissions) or "host:port" with PEM files for mTLS.
function credentials(target, opts) {
  if (target.startsWith('unix:')) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(fs.readFileSync(opts.ca),
                                    fs.readFileSync(opts.key),
                                    fs.readFileSync(opts.cert));
}

// The last change-feed position handled. Saved only after what it covers
// is done: a crash repeats work (with the same request ids, which change
// nothing) rather than losing it.
class Cursor {
  constructor(file) {
    this.file = file;
    this.seq = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() || '0' : '0';
  }
  save(seq) {
    const tmp = this.file + '.tmp';
    const fd = fs.openSync(tmp, 'w');
    fs.writeSync(fd, `${seq}\n`);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, this.file);
    this.seq = seq;
  }
}

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 30000);
    client[method](request, {deadline}, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

// Reads a server stream one message at a time, awaiting fn for each, so
// that a message is handled (and the cursor saved) before the next.
async function eachMessage(stream, fn) {
  for await (const msg of stream) await fn(msg);
}

// --name value options; --catch-up handles what is there and exits.
function parseArgs(argv, required) {
  const opts = {target: 'unix:/run/cjxd/cjxd.sock', catchUp: false};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--catch-up') opts.catchUp = true;
    else if (a.startsWith('--') && i + 1 < argv.length) opts[a.slice(2)] = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  for (const r of required)
    if (!opts[r]) throw new Error(`--${r} is required`);
  return opts;
}

function keyId(prefix, k) {
  return `${prefix}:${k.cii}:${k.court_case_number}:${k.count_number}`;
}

module.exports = {grpc, loadServices, credentials, Cursor, unary, eachMessage, parseArgs, keyId};
