// The OPC UA benchmark's comparison (bench/opcua_e2e.cpp): node-opcua's own client subscribes to
// the same monitored items as Sluice, with the same publishing and sampling intervals, and counts
// the value changes it receives in a measured window after a warm-up.
//
//   node opcua_client_count.mjs --endpoint URL --items N --interval MS --warmup S --seconds S
//
// Prints one line: {"changes": n, "seconds": s, "cpu_seconds": c}.
import { parseArgs } from "node:util";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "tests", "peers", "package.json"));
const opcua = require("node-opcua");

const { values: a } = parseArgs({
  options: {
    endpoint: { type: "string" }, items: { type: "string" }, interval: { type: "string", default: "100" },
    warmup: { type: "string", default: "10" }, seconds: { type: "string", default: "30" },
  },
});
const items = Number(a.items);
const interval = Number(a.interval);

const client = opcua.OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 3 } });
await client.connect(a.endpoint);
const session = await client.createSession();
const sub = opcua.ClientSubscription.create(session, {
  requestedPublishingInterval: interval, requestedLifetimeCount: 600, requestedMaxKeepAliveCount: 50,
  maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 0,
});
let changes = 0;
const monitored = [];
for (let i = 0; i < items; i++) {
  monitored.push({ nodeId: `ns=1;s=Load.Item${String(i).padStart(5, "0")}`, attributeId: opcua.AttributeIds.Value });
}
const group = await sub.monitorItems(monitored, { samplingInterval: interval, queueSize: 1, discardOldest: true },
                                     opcua.TimestampsToReturn.Both);
group.on("changed", () => { changes += 1; });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await sleep(Number(a.warmup) * 1000);
const c0 = changes;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await sleep(Number(a.seconds) * 1000);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ changes: changes - c0, seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6 }));
await sub.terminate();
await session.close();
await client.disconnect();
process.exit(0);
