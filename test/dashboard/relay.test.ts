import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { expect } from "chai";

import { metricByLabel, RelayClient } from "../../scripts/dashboard/relay";
import { freePort } from "../helpers/net";

/**
 * The relay panel's reader against relays that answer differently: the real relay of this version is covered by the
 * browser test; here a stand-in answers as a scheduling relay does (held and due agreements, a due time per
 * agreement, problems), and then nothing answers at all.
 */

const POOL = `0x${"11".repeat(32)}`;
const AGREEMENT = `0x${"22".repeat(32)}`;

const METRICS = `# HELP dripfeed_relay_acceptances Acceptances in the relay database, by status
# TYPE dripfeed_relay_acceptances gauge
dripfeed_relay_acceptances{status="queued"} 3
dripfeed_relay_acceptances{status="submitted"} 1
dripfeed_relay_acceptances{status="settled"} 42
dripfeed_relay_acceptances{status="superseded"} 7
dripfeed_relay_acceptances{status="failed"} 0
dripfeed_relay_queued 3
`;

describe("dashboard relay reader", () => {
  let server: Server;
  let url: string;

  before(async () => {
    server = createServer((request, response) => {
      const send = (status: number, body: unknown, type = "application/json") => {
        response.writeHead(status, { "content-type": type });
        response.end(typeof body === "string" ? body : JSON.stringify(body));
      };
      if (request.url === "/healthz") {
        return send(200, {
          status: "degraded",
          problems: [{ code: "LOW_FUNDS", message: "the submitter has 0.001 ETH left" }],
          chainId: 31337,
          contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
          queued: 3,
          submitted: 1,
          agreements: { due: 1, held: 2 },
        });
      }
      if (request.url === "/metrics") return send(200, METRICS, "text/plain; version=0.0.4");
      if (request.url === `/v1/agreements/${POOL}/${AGREEMENT}`) {
        return send(200, {
          onChain: { status: "Active" },
          pending: {
            highestTotal: "11500000000000000000",
            dueAt: "2026-11-29T12:30:00.000Z",
            dueReason: "deadline",
            acceptances: [
              { id: "0x01", status: "queued", totalAccepted: "11500000000000000000", deadline: 1_800_000_000 },
              { id: "0x02", status: "settled", totalAccepted: "11000000000000000000" },
            ],
          },
        });
      }
      return send(404, { error: { code: "UNKNOWN_AGREEMENT", message: "no such agreement" } });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads counts by status from Prometheus text", () => {
    expect(metricByLabel(METRICS, "dripfeed_relay_acceptances", "status")).to.deep.equal({
      queued: 3,
      submitted: 1,
      settled: 42,
      superseded: 7,
      failed: 0,
    });
    expect(metricByLabel("", "dripfeed_relay_acceptances", "status")).to.deep.equal({});
  });

  it("reads health, problems, counts and held/due agreements", async () => {
    const health = await new RelayClient(url).health();
    expect(health).to.deep.equal({
      reachable: true,
      status: "degraded",
      chainId: 31337,
      contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      problems: ["the submitter has 0.001 ETH left"],
      counts: { queued: 3, submitted: 1, settled: 42, superseded: 7, failed: 0, held: 2, due: 1 },
    });
  });

  it("reads what it holds for an agreement and when it is due; nothing for one it does not know", async () => {
    const client = new RelayClient(url);
    expect(client.url).to.equal(url.replace(/\/$/, ""));
    const held = await client.agreement(POOL, AGREEMENT);
    expect(held).to.deep.equal({
      pending: [{ id: "0x01", status: "queued", totalAccepted: 11_500_000_000_000_000_000n, deadline: 1_800_000_000 }],
      highestTotal: 11_500_000_000_000_000_000n,
      dueAtMs: Date.parse("2026-11-29T12:30:00Z"),
      dueReason: "deadline",
    });
    expect(await client.agreement(POOL, `0x${"33".repeat(32)}`)).to.equal(undefined);
  });

  it("reports a relay that does not answer as unreachable, naming it", async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const health = await new RelayClient(nobody).health();
    expect(health.reachable).to.equal(false);
    expect(health.error).to.equal(`relay ${nobody} is unreachable: ECONNREFUSED`);
  });

  it("refuses a --relay that is not an http(s) URL", () => {
    expect(() => new RelayClient("127.0.0.1:8787")).to.throw(/is not a URL|must be an http/);
    expect(() => new RelayClient("ftp://relay")).to.throw(/must be an http\(s\) URL/);
  });
});
