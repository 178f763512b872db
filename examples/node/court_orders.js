#!/usr/bin/env node
// A court's case management system on the relief exchange.
//
// Follows the court's cases (CaseService/WatchCases) from a saved cursor,
// and for each count the prosecutor did not challenge sends the court's
// order granting the relief the prosecutor accepted (CaseService/Order).
// The order rewrites the court's copy of the record and travels to DOJ.
// Prints one JSON line per order sent.
//
//   node court_orders.js --target unix:/run/cjxd/cjxd.sock \
//       --cursor court.cursor --judge "Hon. A. Judge"
'use strict';

const cjx = require('./cjx');

// The prosecutor's accepted relief, as the court orders it.
const ORDER_FOR = {
  RELIEF_DISMISS_AND_SEAL: 'ORDER_RELIEF_DISMISS_AND_SEAL',
  RELIEF_REDUCE_TO_MISDEMEANOR: 'ORDER_RELIEF_REDUCE_TO_MISDEMEANOR',
  RELIEF_REDUCE_TO_INFRACTION: 'ORDER_RELIEF_REDUCE_TO_INFRACTION',
};
// Refusals that are for good (the case moved on, a deadline passed).
const FINAL = [cjx.grpc.status.FAILED_PRECONDITION, cjx.grpc.status.INVALID_ARGUMENT];

async function main() {
  const opts = cjx.parseArgs(process.argv.slice(2), ['cursor', 'judge']);
  const v1 = cjx.loadServices();
  const cases = new v1.CaseService(opts.target, cjx.credentials(opts.target, opts));
  const cursor = new cjx.Cursor(opts.cursor);
  const today = new Date();
  const stream = cases.WatchCases({after_seq: cursor.seq, follow: !opts.catchUp});
  await cjx.eachMessage(stream, async (change) => {
    const c = change.snapshot;
    let done = null;
    if (change.event === 'CASE_EVENT_KIND_NO_CHALLENGE' &&
        c.state === 'CASE_STATE_NOT_CHALLENGED' && ORDER_FOR[c.accepted_relief]) {
      const order = {
        // One id per count: sent again after a crash, it is the same order.
        meta: {request_id: cjx.keyId('order', c.key)},
        key: c.key,
        relief: ORDER_FOR[c.accepted_relief],
        judge: opts.judge,
        effective_date: {year: today.getFullYear(), month: today.getMonth() + 1,
                         day: today.getDate()},
      };
      try {
        const reply = await cjx.unary(cases, 'Order', order);
        done = {ordered: c.key.cii, case: c.key.court_case_number,
                count: c.key.count_number, relief: reply.snapshot.order,
                unchanged: reply.unchanged};
      } catch (err) {
        if (!FINAL.includes(err.code)) throw err; // the next run starts here again
        done = {refused: c.key.cii, code: err.code, message: err.details};
      }
    }
    cursor.save(change.seq);
    // Reported once the cursor is past it: what is printed is done.
    if (done) console.log(JSON.stringify(done));
  });
  cases.close();
}

main().catch((err) => {
  console.error(`court_orders: ${err.message}`);
  process.exit(1);
});
