import { expect } from "chai";
import pino from "pino";

import { startLoop } from "../../scripts/service/loop";

describe("service/loop: a polling step that survives failures and drains", () => {
  const log = pino({ level: "silent" });

  it("runs the step again after one fails (an RPC hiccup does not end the service)", async () => {
    let calls = 0;
    const loop = startLoop(
      async () => {
        calls++;
        if (calls === 1) throw new Error("hiccup");
      },
      5,
      log,
    );
    while (calls < 3) await new Promise((r) => setTimeout(r, 5));
    await loop.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).to.equal(after); // no step after stop
  });

  it("lets the step in hand finish before stop() resolves", async () => {
    let release: () => void = () => undefined;
    let finished = false;
    let started = false;
    const loop = startLoop(
      async () => {
        started = true;
        await new Promise<void>((resolve) => (release = resolve));
        finished = true;
      },
      3_600_000,
      log,
    );
    while (!started) await new Promise((r) => setTimeout(r, 5));
    let stopped = false;
    const stopping = loop.stop().then(() => void (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).to.equal(false); // waits for the step (a transaction in flight)
    release();
    await stopping;
    expect(finished).to.equal(true);
  });

  it("ends the sleep between steps at once", async () => {
    let calls = 0;
    const loop = startLoop(async () => void calls++, 3_600_000, log);
    while (calls < 1) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await loop.stop();
    expect(Date.now() - started).to.be.lessThan(1_000);
    expect(calls).to.equal(1);
  });
});
