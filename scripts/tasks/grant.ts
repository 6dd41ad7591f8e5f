import { parseAmount } from "../sdk/amounts";
import { parseRate } from "../sdk/rates";
import { taskContext } from "./context";
import { parseDuration, parsePermissions, parsePoolId, required } from "./flags";
import { guarded, print } from "./output";
import { dripfeed } from "./scope";

interface GrantArgs {
  pool?: string;
  grantee?: string;
  permissions?: string;
  validFor?: string;
  openAllowance?: string;
  openRefill?: string;
  from?: string;
}

dripfeed
  .task("grant", "Delegate rights over a pool to a supervisor key (permissions none revokes)")
  .addOptionalParam("pool", "pool id")
  .addOptionalParam("grantee", "the delegate's address")
  .addOptionalParam("permissions", "accept,terminate,open (comma-separated) or none")
  .addOptionalParam("validFor", "how long the grant counts, e.g. 7d, 12h", "30d")
  .addOptionalParam("openAllowance", "OPEN bucket size in token units, e.g. 50")
  .addOptionalParam("openRefill", 'OPEN bucket refill, e.g. "10 GLM/day"')
  .addOptionalParam("from", "account index or address (default 0)")
  .setAction(
    guarded(async (args: GrantArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const grantee = required(args.grantee, "grantee");
      const permissions = parsePermissions(required(args.permissions, "permissions"));
      const validFor = parseDuration(required(args.validFor, "valid-for"), "valid-for");
      const { client } = await taskContext(hre, args.from);
      const token = await client.token((await client.getPool(poolId)).token);
      const openAllowance = args.openAllowance ? parseAmount(args.openAllowance, token, "--open-allowance") : 0n;
      const openRefillRate = args.openRefill ? parseRate(args.openRefill, token, "--open-refill") : 0n;
      const validUntil = permissions === 0 ? 0n : (await client.now()) + validFor;
      const { hash } = await client.setGrant(poolId, grantee, {
        permissions,
        validUntil,
        openAllowance,
        openRefillRate,
      });
      print(
        permissions === 0
          ? `revoked every right of ${grantee} on pool ${poolId}; tx ${hash}`
          : `granted ${args.permissions} on pool ${poolId} to ${grantee} until ${new Date(Number(validUntil) * 1000).toISOString()} (chain time); tx ${hash}`,
      );
    }),
  );
