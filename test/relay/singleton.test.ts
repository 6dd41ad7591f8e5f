import { readFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import { type Node, hardhatAccount, health, kill, startNodeAndDeploy, startRelay, stopAll, tempDir } from "./helpers";

/** One relay per database file, and one submitting account per database: anything else is refused with one line. */
describe("relay: one relay, one submitting key per database", function () {
  this.timeout(180_000);

  const dir = tempDir("dripfeed-relay-singleton-");
  const db = path.join(dir, "relay.sqlite");
  let node: Node;

  before(async function () {
    node = await startNodeAndDeploy(dir);
  });

  after(async function () {
    await stopAll(dir);
  });

  function lines(file: string): string[] {
    return readFileSync(file, "utf8").split("\n").filter(Boolean);
  }

  it("refuses a second relay on the same --db with one line naming the holder, and leaves the first one running", async function () {
    const first = await startRelay(node, { db, logFile: path.join(dir, "first.log") });
    const secondLog = path.join(dir, "second.log");
    const second = await startRelay(node, { db, logFile: secondLog, noWait: true });
    expect(await second.exited).to.equal(2);
    const refused = lines(secondLog).filter((l) => l.includes("STORE_LOCKED"));
    expect(refused, lines(secondLog).join("\n")).to.have.length(1);
    expect(refused[0]).to.contain(`database ${db} is in use by another relay (pid ${first.process.pid})`);
    expect((await health(first.url)).status).to.equal("ok");
    expect(await kill(first.process, "SIGTERM")).to.equal(0);
  });

  it("refuses a restart with another submitting key, and accepts the first key again", async function () {
    const otherLog = path.join(dir, "other-key.log");
    const other = hardhatAccount(7, node.provider);
    const refused = await startRelay(node, { db, key: other.privateKey, logFile: otherLog, noWait: true });
    expect(await refused.exited).to.equal(2);
    const line = lines(otherLog).filter((l) => l.includes("STORE_MISMATCH"));
    expect(line, lines(otherLog).join("\n")).to.have.length(1);
    expect(line[0]).to.contain(
      `submitting account ${hardhatAccount(0, node.provider).address.toLowerCase()}, not ${other.address.toLowerCase()}`,
    );
    const again = await startRelay(node, { db, logFile: path.join(dir, "again.log") });
    expect((await health(again.url)).status).to.equal("ok");
    expect(await kill(again.process, "SIGTERM")).to.equal(0);
  });
});
