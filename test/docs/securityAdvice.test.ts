/**
 * The advice SECURITY.md and docs/PROTOCOL.md give a provider that terminates its own agreement: settle the
 * acceptance it holds in the same transaction, `multicall([settle, terminate])`; adding `claim` makes it revert.
 */
import { expect } from "chai";

import {
  type DripFeedFixture,
  GLM,
  Status,
  deployFixture,
  expectDeltas,
  settleArgs,
  setupPool,
  signTotal,
} from "../helpers";

describe("SECURITY.md: a provider that terminates its own agreement", () => {
  async function providerHoldingAcceptance(): Promise<{
    fx: DripFeedFixture;
    poolId: string;
    agreementId: string;
    settleCall: string;
  }> {
    const fx = await deployFixture();
    const { poolId, agreements } = await setupPool(fx);
    const { agreementId } = agreements[0];
    const signed = await signTotal(fx.owner, fx.domain, poolId, agreementId, 10n * GLM);
    const settleCall = fx.dripFeed.interface.encodeFunctionData("settle", settleArgs(signed));
    return { fx, poolId, agreementId, settleCall };
  }

  it("keeps what it accepted with multicall([settle, terminate]), and an immediate release refunds only the rest", async () => {
    const { fx, poolId, agreementId, settleCall } = await providerHoldingAcceptance();
    const provider = fx.providers[0];
    const terminateCall = fx.dripFeed.interface.encodeFunctionData("terminate", [poolId, agreementId]);

    await expectDeltas(fx, () => fx.dripFeed.connect(provider).multicall([settleCall, terminateCall]), {
      tokens: { dripFeed: -10n * GLM, provider0: 10n * GLM },
      pools: [{ poolId, balance: -10n * GLM, locked: -10n * GLM }],
      agreements: [{ poolId, agreementId, paid: 10n * GLM, acceptedTotal: 10n * GLM }],
    });

    const release = await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).release(poolId, agreementId), {
      pools: [{ poolId, locked: -90n * GLM }],
    });
    await expect(release)
      .to.emit(fx.dripFeed, "AgreementReleased")
      .withArgs(poolId, agreementId, 90n * GLM);
    await expect(release).not.to.emit(fx.dripFeed, "Claimed");
  });

  it("cannot add claim to that multicall: settle already paid it, so the whole call reverts NothingToSettle", async () => {
    const { fx, poolId, agreementId, settleCall } = await providerHoldingAcceptance();
    const calls = [
      settleCall,
      fx.dripFeed.interface.encodeFunctionData("claim", [poolId, agreementId]),
      fx.dripFeed.interface.encodeFunctionData("terminate", [poolId, agreementId]),
    ];
    await expect(fx.dripFeed.connect(fx.providers[0]).multicall(calls)).to.be.revertedWithCustomError(
      fx.dripFeed,
      "NothingToSettle",
    );
    const agreement = await fx.dripFeed.getAgreement(poolId, agreementId);
    expect([agreement.paid, agreement.acceptedTotal, agreement.status]).to.deep.equal([0n, 0n, Status.Active]);
  });
});
