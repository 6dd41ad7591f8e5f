/** Unix seconds as an ISO 8601 UTC time without milliseconds ("2026-11-29T10:00:00Z"): how every tool prints times. */
export function isoTime(seconds: bigint | number): string {
  return new Date(Number(seconds) * 1000).toISOString().replace(".000Z", "Z");
}

/** This computer's clock in unix seconds. */
export function wallClockSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}
