import { expect } from "chai";

import { launchChromium } from "./browser";

/** The browser test's rule when Chromium is missing: fail with the fix, in CI always; skip only when asked, locally. */
describe("dashboard browser test without Chromium", () => {
  const missing = "/nonexistent/chromium";
  const skipped = new Error("skipped");
  let warnings: string[] = [];
  beforeEach(() => (warnings = []));
  const test = {
    skip: (): never => {
      throw skipped;
    },
  };

  async function outcome(env: NodeJS.ProcessEnv): Promise<unknown> {
    try {
      await launchChromium(test, { executable: missing, env, warn: (line: string) => warnings.push(line) });
    } catch (error) {
      return error;
    }
    throw new Error("launchChromium started a browser that does not exist");
  }

  it("fails with the install command, locally and in CI", async () => {
    for (const env of [{}, { CI: "true" }]) {
      const error = await outcome(env);
      expect(error).to.be.instanceOf(Error).and.not.equal(skipped);
      expect(warnings).to.deep.equal([]);
      expect((error as Error).message).to.equal(
        `the dashboard browser test needs headless Chromium: ${missing} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`,
      );
    }
  });

  it("fails in CI even when DRIPFEED_SKIP_BROWSER=1", async () => {
    const error = await outcome({ CI: "true", DRIPFEED_SKIP_BROWSER: "1" });
    expect(error).not.to.equal(skipped);
    expect((error as Error).message).to.match(/needs headless Chromium/);
  });

  it("skips, with a warning, outside CI when DRIPFEED_SKIP_BROWSER=1", async () => {
    expect(await outcome({ DRIPFEED_SKIP_BROWSER: "1" })).to.equal(skipped);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/WARNING: dashboard browser test skipped \(DRIPFEED_SKIP_BROWSER=1\)/);
  });
});
