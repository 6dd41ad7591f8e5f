import { expect } from "chai";
import { type Filter, type Log, zeroPadValue } from "ethers";

import { DripFeed__factory } from "../../typechain-types";
import { EventReader } from "../../scripts/dashboard/events";
import type { DripFeedClient } from "../../scripts/sdk";

/**
 * The event cache against a scripted JSON-RPC: what a public node does that a local one does not (refusing wide
 * block ranges, a tip that is reorganised), and that each update reads only the new blocks.
 */

const ADDRESS = "0x00000000000000000000000000000000000000df";
const POOL_A = `0x${"aa".repeat(32)}`;
const POOL_B = `0x${"bb".repeat(32)}`;
const iface = DripFeed__factory.createInterface();

function logOf(block: number, index: number, poolId: string, amount: bigint): Log {
  const funder = "0x0000000000000000000000000000000000000001";
  const { data, topics } = iface.encodeEventLog("PoolFunded", [poolId, funder, amount]);
  return {
    address: ADDRESS,
    blockNumber: block,
    index,
    transactionHash: `0x${(block * 1_000 + index).toString(16).padStart(64, "0")}`,
    data,
    topics,
  } as unknown as Log;
}

/** A node with `latest` blocks and these logs, refusing getLogs over more than `maxRange` blocks. */
class FakeNode {
  latest = 0;
  logs: Log[] = [];
  maxRange = Number.POSITIVE_INFINITY;
  ranges: [number, number][] = [];

  readonly provider = {
    getBlockNumber: async () => this.latest,
    getBlock: async (n: number) => ({ number: n, timestamp: 1_000 + n * 2 }),
    getLogs: async (filter: Filter) => {
      const from = Number(filter.fromBlock);
      const to = Number(filter.toBlock);
      if (to - from + 1 > this.maxRange) throw new Error(`block range too large (max ${this.maxRange})`);
      this.ranges.push([from, to]);
      return this.logs.filter((l) => l.blockNumber >= from && l.blockNumber <= to);
    },
  };

  client(): DripFeedClient {
    return { address: ADDRESS, provider: this.provider, contract: { interface: iface } } as unknown as DripFeedClient;
  }
}

describe("dashboard event reader", () => {
  it("reads from the deployment block, then only new blocks and the last 12 again", async () => {
    const node = new FakeNode();
    node.latest = 100;
    node.logs = [logOf(10, 0, POOL_A, 1n), logOf(90, 1, POOL_B, 2n)];
    const reader = new EventReader(node.client(), 5);
    await reader.sync();
    expect(node.ranges).to.deep.equal([[5, 100]]);
    expect(reader.read(["PoolFunded"]).map((e) => e.args.amount)).to.deep.equal([1n, 2n]);

    node.latest = 130;
    node.logs.push(logOf(120, 0, POOL_A, 3n));
    node.ranges = [];
    await reader.sync();
    expect(node.ranges).to.deep.equal([[89, 130]]);
    const events = reader.read(["PoolFunded"]);
    expect(events.map((e) => e.args.amount)).to.deep.equal([1n, 2n, 3n]);
    expect(events[2]).to.deep.include({ name: "PoolFunded", blockNumber: 120, time: 1_240n });
  });

  it("filters by indexed arguments, any case", async () => {
    const node = new FakeNode();
    node.latest = 20;
    node.logs = [logOf(3, 0, POOL_A, 1n), logOf(4, 0, POOL_B, 2n), logOf(5, 0, POOL_A, 3n)];
    const reader = new EventReader(node.client(), 0);
    await reader.sync();
    expect(
      reader.read(["PoolFunded"], POOL_A.toUpperCase().replace("0X", "0x")).map((e) => e.args.amount),
    ).to.deep.equal([1n, 3n]);
    expect(reader.read(["PoolFunded"], null, zeroPadValue("0x01", 32))).to.have.length(3);
    expect(reader.read(["PoolCreated"])).to.deep.equal([]);
  });

  it("drops what a reorganised tip no longer has", async () => {
    const node = new FakeNode();
    node.latest = 50;
    node.logs = [logOf(40, 0, POOL_A, 1n), logOf(49, 0, POOL_A, 2n)];
    const reader = new EventReader(node.client(), 0);
    await reader.sync();
    node.logs = [logOf(40, 0, POOL_A, 1n), logOf(50, 0, POOL_A, 5n)];
    node.latest = 51;
    await reader.sync();
    expect(reader.read(["PoolFunded"]).map((e) => [e.blockNumber, e.args.amount])).to.deep.equal([
      [40, 1n],
      [50, 5n],
    ]);
  });

  it("reads everything again from a chain that got shorter (a local node restarted)", async () => {
    const node = new FakeNode();
    node.latest = 300;
    node.logs = [logOf(200, 0, POOL_A, 1n)];
    const reader = new EventReader(node.client(), 0);
    await reader.sync();
    node.latest = 20;
    node.logs = [logOf(15, 0, POOL_B, 9n)];
    await reader.sync();
    expect(reader.read(["PoolFunded"]).map((e) => [e.blockNumber, e.args.amount])).to.deep.equal([[15, 9n]]);
  });

  it("narrows the block range while the node refuses it, and reads everything", async () => {
    const node = new FakeNode();
    node.latest = 2_999;
    node.maxRange = 1_000;
    node.logs = [logOf(0, 0, POOL_A, 1n), logOf(1_500, 0, POOL_A, 2n), logOf(2_999, 0, POOL_A, 3n)];
    const reader = new EventReader(node.client(), 0);
    await reader.sync();
    expect(reader.read(["PoolFunded"])).to.have.length(3);
    expect(node.ranges.every(([from, to]) => to - from + 1 <= 1_000)).to.equal(true);
    expect(node.ranges[0][0]).to.equal(0);
    expect(node.ranges[node.ranges.length - 1][1]).to.equal(2_999);
  });

  it("fails with the range it could not read when even the smallest is refused", async () => {
    const node = new FakeNode();
    node.latest = 500;
    node.maxRange = 10;
    const reader = new EventReader(node.client(), 0);
    let error: unknown;
    await reader.sync().catch((e: unknown) => (error = e));
    expect(error).to.have.property("code", "RPC_ERROR");
    expect((error as Error).message).to.match(
      /reading DripFeed's events in blocks 0\.\.49 failed: block range too large/,
    );
  });
});
