import { expect } from "chai";
import { Transaction, Wallet } from "ethers";

import { feesFor, feesOfRaw } from "../../scripts/relay/fees";

const GWEI = 1_000_000_000n;
const eip1559 = (maxFeePerGas: bigint, maxPriorityFeePerGas: bigint) => ({
  maxFeePerGas,
  maxPriorityFeePerGas,
  gasPrice: null,
});

/** The fees of a settleBatch and of its replacements (scripts/relay/fees.ts). */
describe("relay: settleBatch fees", function () {
  it("sends a first transaction with the node's suggestion, and a legacy chain's gas price as it is", function () {
    expect(feesFor(eip1559(30n * GWEI, 2n * GWEI), 0)).to.deep.equal({
      type: 2,
      maxFeePerGas: 30n * GWEI,
      maxPriorityFeePerGas: 2n * GWEI,
    });
    expect(feesFor({ maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: 5n * GWEI }, 0)).to.deep.equal({
      type: 0,
      gasPrice: 5n * GWEI,
    });
    expect(feesFor({ maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: null }, 0)).to.equal(undefined);
  });

  it("raises the suggestion by 30% per replacement while fees hold", function () {
    const previous = { type: 2 as const, maxFeePerGas: 30n * GWEI, maxPriorityFeePerGas: 2n * GWEI };
    expect(feesFor(eip1559(30n * GWEI, 2n * GWEI), 1, previous)).to.deep.equal({
      type: 2,
      maxFeePerGas: 39n * GWEI,
      maxPriorityFeePerGas: 2_600_000_000n,
    });
    expect(feesFor(eip1559(30n * GWEI, 2n * GWEI), 2, previous)).to.deep.equal({
      type: 2,
      maxFeePerGas: 50_700_000_000n,
      maxPriorityFeePerGas: 3_380_000_000n,
    });
  });

  it("never replaces below the transaction it replaces plus 12.5%, on both fees, when fees fell since", function () {
    // Signed at 100 gwei; the base fee has since fallen to a tenth: 30% over today's fee would be refused as
    // underpriced (a replacement must raise both fees by 10%), leaving the batch stuck behind its own nonce.
    const previous = { type: 2 as const, maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: 3n * GWEI };
    const fees = feesFor(eip1559(10n * GWEI, 1n * GWEI), 1, previous);
    expect(fees).to.deep.equal({ type: 2, maxFeePerGas: 112_500_000_000n, maxPriorityFeePerGas: 3_375_000_000n });
    // Each fee by at least 10% (geth's rule), tip never above the cap.
    if (fees?.type !== 2) throw new Error("expected EIP-1559 fees");
    expect(fees.maxFeePerGas * 10n).to.be.at.least(previous.maxFeePerGas * 11n);
    expect(fees.maxPriorityFeePerGas * 10n).to.be.at.least(previous.maxPriorityFeePerGas * 11n);
    // Tiny fees (a local chain's 1 wei tip) still move, and a raised tip lifts the cap with it.
    expect(feesFor(eip1559(1n, 1n), 1, { type: 2, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n })).to.deep.equal({
      type: 2,
      maxFeePerGas: 2n,
      maxPriorityFeePerGas: 2n,
    });
  });

  it("replaces a legacy transaction with a legacy one, above both its price and today's suggestion", function () {
    const previous = { type: 0 as const, gasPrice: 40n * GWEI };
    expect(
      feesFor({ maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: 20n * GWEI }, 1, previous),
    ).to.deep.equal({ type: 0, gasPrice: 45n * GWEI });
    expect(
      feesFor({ maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: 50n * GWEI }, 1, previous),
    ).to.deep.equal({ type: 0, gasPrice: 65n * GWEI });
  });

  it("reads the fees back from a recorded transaction's signed bytes", async function () {
    const wallet = Wallet.createRandom();
    const base = { to: wallet.address, nonce: 3, gasLimit: 100_000n, chainId: 31337n };
    const raw1559 = await wallet.signTransaction(
      Transaction.from({ ...base, type: 2, maxFeePerGas: 7n * GWEI, maxPriorityFeePerGas: GWEI }),
    );
    expect(feesOfRaw(raw1559)).to.deep.equal({ type: 2, maxFeePerGas: 7n * GWEI, maxPriorityFeePerGas: GWEI });
    const rawLegacy = await wallet.signTransaction(Transaction.from({ ...base, type: 0, gasPrice: 9n * GWEI }));
    expect(feesOfRaw(rawLegacy)).to.deep.equal({ type: 0, gasPrice: 9n * GWEI });
  });
});
