import { expect } from "chai";
import pino from "pino";

import { DripFeedError } from "../../scripts/sdk/errors";
import { EXIT, drain, exitStatusOf } from "../../scripts/service/lifecycle";

describe("service/lifecycle: drains and exit statuses", () => {
  const log = pino({ level: "silent" });

  it("exits 0 once the service closed within the limit", async () => {
    let closed = false;
    const status = await drain({ close: async () => void (closed = true) }, log, 1_000);
    expect(closed).to.equal(true);
    expect(status).to.equal(EXIT.OK);
  });

  it("exits 1 when the drain fails or runs past its limit (work left resumes on restart)", async () => {
    expect(await drain({ close: () => Promise.reject(new Error("disk full")) }, log)).to.equal(EXIT.FAILURE);
    const never = { close: () => new Promise<void>(() => undefined) };
    expect(await drain(never, log, 20)).to.equal(EXIT.FAILURE);
  });

  it("tells an operator's mistake (exit 2) from a failure (exit 1)", () => {
    expect(exitStatusOf(new DripFeedError("STORE_LOCKED", "in use"))).to.equal(EXIT.CONFIG);
    expect(exitStatusOf(new DripFeedError("INVALID_ARGUMENT", "--pool is required"))).to.equal(EXIT.CONFIG);
    expect(exitStatusOf(new DripFeedError("RPC_ERROR", "unreachable"))).to.equal(EXIT.FAILURE);
    expect(exitStatusOf(new Error("anything else"))).to.equal(EXIT.FAILURE);
  });
});
