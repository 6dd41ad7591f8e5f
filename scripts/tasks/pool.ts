import { formatAmount, parseAmount } from "../sdk/amounts";
import { type CommonArgs, resolveToken, taskContext } from "./context";
import { parsePoolId, required } from "./flags";
import { guarded, print } from "./output";
import { dripfeedTask } from "./scope";

interface PoolCreateArgs extends CommonArgs {
  token?: string;
  salt?: string;
}

dripfeedTask("pool-create", "Create a pool holding a token (prints its id)", { signs: true })
  .addOptionalParam("token", "token address, or glm")
  .addOptionalParam("salt", "any text of up to 32 bytes that tells your pools apart")
  .setAction(
    guarded(async (args: PoolCreateArgs, hre) => {
      const token = required(args.token, "token");
      const salt = required(args.salt, "salt");
      const { client, account } = await taskContext(hre, args);
      const { poolId, hash } = await client.createPool(await resolveToken(hre, token), salt);
      const info = await client.token((await client.getPool(poolId)).token);
      print(`pool ${poolId} created by ${account} for ${info.symbol} (${info.address}), tx ${hash}`);
      print(poolId);
    }),
  );

interface FundArgs extends CommonArgs {
  pool?: string;
  amount?: string;
  permit: boolean;
  approve: boolean;
}

dripfeedTask("fund", "Add tokens to a pool (with an EIP-2612 permit, or an existing/--approve'd allowance)", {
  signs: true,
})
  .addOptionalParam("pool", "pool id")
  .addOptionalParam("amount", "amount in token units, e.g. 12.5")
  .addFlag("permit", "sign an EIP-2612 permit instead of needing an allowance")
  .addFlag("approve", "send an approve transaction first")
  .setAction(
    guarded(async (args: FundArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const text = required(args.amount, "amount");
      const { client } = await taskContext(hre, args);
      const pool = await client.getPool(poolId);
      const token = await client.token(pool.token);
      const amount = parseAmount(text, token, "--amount");
      if (args.approve && !args.permit) await client.approve(pool.token, amount);
      const { hash } = await client.fund(poolId, amount, { permit: args.permit });
      const after = await client.getPool(poolId);
      print(
        `funded pool ${poolId} with ${formatAmount(amount, token)}; balance ${formatAmount(after.balance, token)}, free ${formatAmount(after.free, token)}; tx ${hash}`,
      );
    }),
  );

interface WithdrawArgs extends CommonArgs {
  pool?: string;
  amount?: string;
  to?: string;
}

dripfeedTask("withdraw", "Take free balance out of a pool (owner only)", { signs: true })
  .addOptionalParam("pool", "pool id")
  .addOptionalParam("amount", "amount in token units, or all")
  .addOptionalParam("to", "recipient (default: the owner)")
  .setAction(
    guarded(async (args: WithdrawArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const text = required(args.amount, "amount");
      const { client } = await taskContext(hre, args);
      const pool = await client.getPool(poolId);
      const token = await client.token(pool.token);
      const amount = text.trim().toLowerCase() === "all" ? pool.free : parseAmount(text, token, "--amount");
      const { hash } = await client.withdraw(poolId, amount, args.to);
      print(`withdrew ${formatAmount(amount, token)} from pool ${poolId}; tx ${hash}`);
    }),
  );
