// Validates CloudEvents envelopes with the CloudEvents JavaScript SDK (npm `cloudevents`), for the
// relay tests: `node validate.mjs FILE`, where FILE holds one JSON object per line,
//   {"transport": "webhook", "contentType": "<Content-Type header>", "body": "<request body>"}
//   {"transport": "nats", "body": "<message payload>"}
// A webhook delivery goes through the SDK's HTTP binding (structured mode), a NATS payload
// through the CloudEvent constructor; both validate against the CloudEvents 1.0 JSON Schema
// (`source` a URI-reference, `time` RFC 3339, ...). Prints one line per envelope
// ("ok <source> <subject>" or "invalid <reason>") and exits 1 when any is invalid, 2 on bad input.
import { readFileSync } from "node:fs";
import { CloudEvent, HTTP } from "cloudevents";

if (process.argv.length !== 3) {
  console.error("usage: node validate.mjs FILE");
  process.exit(2);
}
const lines = readFileSync(process.argv[2], "utf8").split("\n").filter((line) => line !== "");
if (lines.length === 0) {
  console.error("no envelopes in " + process.argv[2]);
  process.exit(2);
}
let invalid = 0;
for (const line of lines) {
  const delivery = JSON.parse(line);
  try {
    let event;
    if (delivery.transport === "webhook") {
      event = HTTP.toEvent({ headers: { "content-type": delivery.contentType }, body: delivery.body });
    } else if (delivery.transport === "nats") {
      event = new CloudEvent(JSON.parse(delivery.body), true);
    } else {
      throw new Error("unknown transport " + JSON.stringify(delivery.transport));
    }
    event.validate();
    console.log(`ok ${event.source} ${event.subject}`);
  } catch (error) {
    ++invalid;
    console.log(`invalid ${String(error.message).replace(/\s+/g, " ")}`);
  }
}
process.exit(invalid === 0 ? 0 : 1);
