#!/usr/bin/env node
// DOJ's criminal-history system (CCH) on the relief exchange.
//
// Two feeds of DOJ's cjxd, each from a saved cursor:
// - CaseService/WatchCases: for each court order that reached DOJ, the CCH
//   applies it and acknowledges (CaseService/AcknowledgeHistoryUpdated),
//   which rewrites DOJ's record of the count in the same step;
// - RecordService/WatchRecords: every new version of a record, so the CCH
//   sees relief land on it (relief history, level, sealed).
// Prints one JSON line per acknowledgement and per record version.
//
//   node cch_updates.js --target unix:/run/cjxd/cjxd.sock \
//       --cases-cursor cases.cursor --records-cursor records.cursor
'use strict';

const cjx = require('./cjx');

async function acknowledgeOrders(cases, cursor, follow) {
  const stream = cases.WatchCases({after_seq: cursor.seq, follow});
  await cjx.eachMessage(stream, async (change) => {
    const c = change.snapshot;
    if (change.event === 'CASE_EVENT_KIND_RELIEF_ORDER' && c.state === 'CASE_STATE_ORDERED') {
      // Here the CCH applies the order to its own history; then DOJ's
      // daemon records that it did.
      const reply = await cjx.unary(cases, 'AcknowledgeHistoryUpdated', {
        meta: {request_id: cjx.keyId('ack', c.key)}, key: c.key, applied: c.order});
      cursor.save(change.seq);
      // Reported once the cursor is past it: what is printed is done.
      console.log(JSON.stringify({acknowledged: c.key.cii, case: c.key.court_case_number,
                                  count: c.key.count_number, applied: c.order,
                                  state: reply.snapshot.state}));
    } else {
      cursor.save(change.seq);
    }
  });
}

async function followRecords(records, cursor, follow) {
  const stream = records.WatchRecords({after_seq: cursor.seq, follow});
  await cjx.eachMessage(stream, async (change) => {
    const r = change.record.record;
    cursor.save(change.seq);
    console.log(JSON.stringify({record: r.subject.cii, case: r.court_case_number,
                                count: r.count_number, version: change.record.version,
                                level: r.level, sealed: r.sealed,
                                relief_history: r.relief_history.map((e) => e.relief)}));
  });
}

async function main() {
  const opts = cjx.parseArgs(process.argv.slice(2), ['cases-cursor', 'records-cursor']);
  const v1 = cjx.loadServices();
  const creds = cjx.credentials(opts.target, opts);
  const cases = new v1.CaseService(opts.target, creds);
  const records = new v1.RecordService(opts.target, creds);
  const casesCursor = new cjx.Cursor(opts['cases-cursor']);
  const recordsCursor = new cjx.Cursor(opts['records-cursor']);
  if (opts.catchUp) {
    // Orders first, so that the records read next carry them.
    await acknowledgeOrders(cases, casesCursor, false);
    await followRecords(records, recordsCursor, false);
  } else {
    await Promise.all([acknowledgeOrders(cases, casesCursor, true),
                       followRecords(records, recordsCursor, true)]);
  }
  cases.close();
  records.close();
}

main().catch((err) => {
  console.error(`cch_updates: ${err.message}`);
  process.exit(1);
});
