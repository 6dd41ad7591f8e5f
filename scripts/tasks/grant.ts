import { parseAmount } from "../sdk/amounts";
import { parseRate } from "../sdk/rates";
import { ACCEPT } from "../sdk/terms";
import { isoTime } from "../sdk/time";
import { type CommonArgs, taskContext } from "./context";
import { parseDuration, parsePermissions, parsePoolId, required } from "./flags";
import { guarded, print } from "./output";
import { dripfeedTask } from "./scope";

interface GrantArgs extends CommonArgs {
  pool?: string;
  grantee?: string;
  permissions?: string;
  validFor?: string;
  openAllowance?: string;
  openRefill?: string;
}

dripfeedTask("grant", "Delegate rights over a pool to a supervisor key (permissions none revokes)", { signs: true })
  .addOptionalParam("pool", "pool id")
  .addOptionalParam("grantee", "the delegate's address")
  .addOptionalParam("permissions", "accept,terminate,open (comma-separated) or none")
  .addOptionalParam("validFor", "how long the grant counts, e.g. 7d, 12h", "30d")
  .addOptionalParam("openAllowance", "OPEN bucket size in token units, e.g. 50")
  .addOptionalParam("openRefill", 'OPEN bucket refill, e.g. "10 GLM/day"')
  .setAction(
    guarded(async (args: GrantArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const grantee = required(args.grantee, "grantee");
      const permissions = parsePermissions(required(args.permissions, "permissions"));
      const validFor = parseDuration(required(args.validFor, "valid-for"), "valid-for");
      const { client } = await taskContext(hre, args);
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
      // Protocol 1.1: taking ACCEPT away leaves the acceptances it signed a notice to settle; say until when.
      const acceptUntil = await client.acceptValidUntil(poolId, grantee);
      const notice =
        (permissions & ACCEPT) === 0 && acceptUntil >= (await client.now())
          ? `; acceptances it signed still settle until ${isoTime(acceptUntil)} (ACCEPT notice)`
          : "";
      print(
        permissions === 0
          ? `revoked every right of ${grantee} on pool ${poolId}${notice}; tx ${hash}`
          : `granted ${args.permissions} on pool ${poolId} to ${grantee} until ${isoTime(validUntil)} (chain time)${notice}; tx ${hash}`,
      );
    }),
  );
