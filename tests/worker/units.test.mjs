// The Worker's pure helpers, in Node: query parameters → importer options, and rejected-row line numbers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseImportParams, KNOWN_PARAMS } from "../../worker/src/params.js";
import { rewriteRejected } from "../../worker/src/lines.js";

const cfg = { api: "track", region: "us" };
const parse = (q) => parseImportParams(new URLSearchParams(q), cfg);

test("query parameters mirror the command line's flags", () => {
  const { options, flags } = parse(
    "kind=events&id-column=uid&event-name=bought&timestamp-column=when&default-zone=Europe/Berlin&date-order=dayFirst" +
      "&column=price=float&column=secret=ignore&column=price=attribute&empty-as-null=1&skip-campaign-window=1&dry-run=0" +
      "&delimiter=;&encoding=windows-1252&rejected=1&chunk=3&source=up-1&line-offset=100&record-offset=90&resume-after-record=95",
  );
  assert.deepEqual(options, {
    kind: "events",
    mapping: {
      idColumn: "uid",
      eventName: "bought",
      timestampColumn: "when",
      defaultZone: "Europe/Berlin",
      dateOrder: "dayFirst",
      columns: { price: { type: "float", role: "attribute" }, secret: { role: "ignore" } },
      emptyAsNull: true,
    },
    skipCampaignWindow: true,
    dryRun: false,
    delimiter: ";",
    encoding: "windows-1252",
    resumeAfterRecord: 5,
  });
  assert.deepEqual(flags, { rejected: true, queue: false, chunk: 3, source: "up-1", lineOffset: 100, recordOffset: 90 });
  assert.ok(KNOWN_PARAMS.includes("event-id-column"));
});

test("the mapping JSON and the flags combine; conflicts and unknowns are 400 E_CONFIG", () => {
  const { options } = parse(`kind=people&mapping=${encodeURIComponent(JSON.stringify({ emailColumn: "mail", columns: { a: { type: "date" } } }))}&column=b=integer`);
  assert.deepEqual(options.mapping, { emailColumn: "mail", columns: { a: { type: "date" }, b: { type: "integer" } } });
  for (const q of ["kind=people&id-column=a&email-column=b", "kind=events&event-name=x&event-column=y", "kind=people&column=x", "kind=people&column=x=number", "kind=people&kind=people", "kind=people&foo=1"]) {
    assert.throws(() => parse(q), (e) => e.status === 400 && e.code === "E_CONFIG", q);
  }
});

test("rejected CSV: line numbers shifted by the chunk's offset, quoted cells untouched, counts by code", () => {
  const csv =
    'id,"note\nwith newline",line,code,reason\n' +
    ',"a,b\n12",2,id_missing,"id: expected an id identifier, found an empty cell"\n' +
    '7,"x ""q"" 3",5,field_count,"expected 2 fields, 3"\n' +
    ',y,9,id_missing,"id: …"\n';
  const { csv: out, byCode } = rewriteRejected(csv, 1000);
  assert.equal(
    out,
    'id,"note\nwith newline",line,code,reason\n' +
      ',"a,b\n12",1002,id_missing,"id: expected an id identifier, found an empty cell"\n' +
      '7,"x ""q"" 3",1005,field_count,"expected 2 fields, 3"\n' +
      ',y,1009,id_missing,"id: …"\n',
  );
  assert.deepEqual(byCode, { id_missing: 2, field_count: 1 });
  assert.equal(rewriteRejected(csv, 0).csv, csv);
  assert.deepEqual(rewriteRejected("", 5), { csv: "", byCode: {} });
});
